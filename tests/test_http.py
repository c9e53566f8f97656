"""The HTTP endpoint over real sockets: liveness that can fail, readiness, status, metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from failover.http import Endpoint, Liveness, parse_listen
from failover.status import Snapshot
from tests.e2e_support import get


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def served() -> Iterator[tuple[Endpoint, Clock, list[Snapshot]]]:
    clock = Clock()
    registry = CollectorRegistry()
    Counter("failover_example", "An example.", registry=registry).inc()
    snaps = [Snapshot()]
    ep = Endpoint("127.0.0.1:0", registry, lambda: snaps[-1], Liveness(16.0, clock))
    ep.start()
    yield ep, clock, snaps
    ep.stop()


def test_healthz_is_good_while_rounds_complete_and_fails_when_they_stop(served) -> None:  # type: ignore[no-untyped-def]
    ep, clock, _ = served
    assert get(ep.port, "/healthz")[0] == 200  # start-up grace
    clock.t += 17
    assert get(ep.port, "/healthz")[0] == 503  # no round ever completed
    ep.liveness.beat()
    assert get(ep.port, "/healthz")[0] == 200
    clock.t += 15.9
    assert get(ep.port, "/healthz")[0] == 200
    clock.t += 0.2
    code, body = get(ep.port, "/healthz")
    assert code == 503
    assert "limit 16s" in json.loads(body)["detail"]


def test_readyz_follows_the_snapshot(served) -> None:  # type: ignore[no-untyped-def]
    ep, _, snaps = served
    assert get(ep.port, "/readyz")[0] == 503
    snaps.append(Snapshot(ready=True, overrides_age=1.0))
    assert get(ep.port, "/readyz")[0] == 200


def test_readyz_is_503_and_says_so_while_the_overrides_were_never_read(served) -> None:  # type: ignore[no-untyped-def]
    """A store answering 403 or hanging since start: rounds run, but a drain may be unseen."""
    ep, _, snaps = served
    snaps.append(Snapshot(ready=True, overrides_age=None))
    code, body = get(ep.port, "/readyz")
    assert code == 503
    assert json.loads(body)["overrides"] == "never read since start"
    snaps.append(Snapshot(ready=True, overrides_age=3.0))
    code, body = get(ep.port, "/readyz")
    assert code == 200
    assert json.loads(body)["overrides"] == "read 3.0s ago"


def test_status_is_json_and_metrics_is_the_registry(served) -> None:  # type: ignore[no-untyped-def]
    ep, _, _ = served
    code, body = get(ep.port, "/status")
    assert code == 200
    assert json.loads(body)["pools"] == []
    code, body = get(ep.port, "/metrics")
    assert code == 200
    assert b"failover_example_total 1.0" in body
    assert get(ep.port, "/nope")[0] == 404


@pytest.mark.parametrize(
    ("listen", "parsed"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::1]:80", ("::1", 80)),
        ("0.0.0.0:1", ("0.0.0.0", 1)),
    ],
)
def test_listen_addresses_parse(listen: str, parsed: tuple[str, int]) -> None:
    assert parse_listen(listen) == parsed


def test_a_port_in_use_is_a_clear_error(served) -> None:  # type: ignore[no-untyped-def]
    from failover.errors import FailoverError

    ep, clock, _ = served
    with pytest.raises(FailoverError, match="cannot listen"):
        Endpoint(f"127.0.0.1:{ep.port}", CollectorRegistry(), Snapshot, Liveness(1.0, clock))
