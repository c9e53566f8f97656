"""Whole rounds writing a KeyValueStore through the real botocore client (SigV4A) to the sandbox."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.aws import kvs as aws_kvs
from failover.metrics import Metrics
from failover.model import Action, HealthSettings, KvsSettings, OriginKey, Outcome, Override
from failover.overrides import FileStore
from failover.round import Runner
from failover.sandbox.kvs_server import KvsServer
from tests.conftest import Zone
from tests.factories import Clock, ScriptedProber, make_config, make_pool

ARN = "arn:aws:cloudfront::123456789012:key-value-store/0f1e2d3c-0000-4000-8000-000000000001"
H = HealthSettings(timeout=0.5, fall=3, rise=2, hold_down=10.0, hold_down_max=80.0)
A, B, C = "eu-west-1", "us-east-1", "ap-southeast-2"
ALL = {A: 100, B: 100, C: 100}


@pytest.fixture
def server() -> Iterator[KvsServer]:
    s = KvsServer(ARN)
    yield s
    s.close()


def held(server: KvsServer, pool: str = "www") -> dict[str, object] | None:
    text = server.get(pool)
    return None if text is None else json.loads(text)


def weights_in(server: KvsServer, pool: str = "www") -> dict[str, int]:
    doc = held(server, pool)
    assert doc is not None
    return {oid.removeprefix("s3-"): w for oid, w in doc["o"]}  # type: ignore[union-attr]


class World:
    def __init__(self, zone: Zone, server: KvsServer, tmp: Path, sink: str) -> None:
        pool = dataclasses.replace(
            make_pool(record="www.example.com", health=H, zone_id=zone.id), sink=sink
        )
        settings = KvsSettings(ARN, 50.0, server.endpoint_url, server.proxy)
        self.pool = pool
        self.zone = zone
        self.clock = Clock()
        self.prober = ScriptedProber()
        self.metrics = Metrics(CollectorRegistry())
        store = aws_kvs.open_store(boto3.Session(), settings, self.metrics.kvs.request)
        self.overrides = FileStore(tmp / "overrides.json")
        self.runner = Runner(
            dataclasses.replace(make_config(pool), kvs=settings),
            self.prober,
            zone.store,
            self.overrides,
            self.metrics,
            clock=self.clock,
            wall=self.clock,
            kvs=store,
        )
        self.runner.kvs.sleep = lambda s: None  # backoff between 409s: no real waiting

    def rounds(self, n: int) -> None:
        for _ in range(n):
            assert self.runner.run_round().error == ""
            self.clock.t += 1.0

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def kvs_world(zone: Zone, server: KvsServer, tmp_path: Path) -> World:
    return World(zone, server, tmp_path, "kvs")


@pytest.fixture
def both_world(zone: Zone, server: KvsServer, tmp_path: Path) -> World:
    w = World(zone, server, tmp_path, "both")
    zone.put(w.pool, ALL)
    return w


def test_a_store_only_pool_gets_its_value_once_healthy_and_route53_is_never_touched(
    kvs_world: World, server: KvsServer
) -> None:
    with capture_logs() as logs:
        kvs_world.rounds(4)
    doc = held(server)
    assert doc == {
        "v": 1,
        "s": 1,
        "o": [["s3-eu-west-1", 100], ["s3-us-east-1", 100], ["s3-ap-southeast-2", 100]],
    }
    applied = [e for e in logs if e["event"] == "kvs_weights_applied"]
    planned = [e for e in logs if e["event"] == "kvs_weights_planned"]
    assert len(applied) == 1
    assert applied[0]["change_id"] == planned[0]["change_id"]
    assert not [e for e in logs if e["event"].startswith("weights_")], "no Route 53 write"
    assert server.refused_auth == 0
    assert server.count("PutKey", "200") == 1
    assert kvs_world.runner.ready
    assert kvs_world.sample("failover_kvs_writes_total", pool="www") == 1


def test_a_failing_region_goes_to_zero_in_the_store_and_all_failing_fails_open(
    kvs_world: World, server: KvsServer
) -> None:
    kvs_world.rounds(4)
    kvs_world.prober.set(Outcome.HTTP_5XX, A)
    kvs_world.rounds(3)
    assert weights_in(server) == {A: 0, B: 100, C: 100}
    assert held(server)["s"] == 2  # type: ignore[index]
    kvs_world.prober.set(Outcome.HTTP_5XX)
    kvs_world.rounds(5)
    assert weights_in(server) == ALL, "never all zero: the pool fails open"


def test_both_sinks_get_exactly_the_same_weights(both_world: World, server: KvsServer) -> None:
    both_world.rounds(3)
    assert weights_in(server) == both_world.zone.weights(both_world.pool) == ALL
    both_world.prober.set(Outcome.TIMEOUT, B)
    both_world.rounds(3)
    assert both_world.zone.weights(both_world.pool) == {A: 100, B: 0, C: 100}
    assert weights_in(server) == {A: 100, B: 0, C: 100}


def test_a_409_race_is_read_again_and_retried_until_it_lands(
    both_world: World, server: KvsServer
) -> None:
    server.put("other-pool", "x")  # another key: the store's ETag moves, our key does not
    server.inject("conflict", count=2)
    with capture_logs() as logs:
        both_world.rounds(3)
    assert weights_in(server) == ALL
    assert server.count("PutKey", "409") == 2
    assert server.count("PutKey", "200") == 1
    assert [e["attempt"] for e in logs if e["event"] == "kvs_change_conflict"] == [1, 2]
    assert both_world.sample("failover_kvs_conflicts_total", pool="www") == 2


def test_a_key_changed_by_someone_else_is_re_decided_then_corrected_on_resync(
    both_world: World, server: KvsServer
) -> None:
    both_world.rounds(3)
    assert weights_in(server) == ALL
    server.put("www", json.dumps({"v": 1, "s": 9, "o": [["s3-eu-west-1", 7]]}))
    with capture_logs() as logs:
        both_world.rounds(62)  # past the 60 s resync
    assert any(e["event"] == "kvs_drift_found" for e in logs)
    assert weights_in(server) == ALL
    assert held(server)["s"] == 10  # type: ignore[index]
    assert both_world.sample("failover_kvs_drift_total", pool="www") == 1


def test_a_server_error_is_logged_read_again_and_written_next_round(
    kvs_world: World, server: KvsServer
) -> None:
    server.inject("http_500", count=1, operations=["PutKey"])
    with capture_logs() as logs:
        kvs_world.rounds(5)
    assert any(e["event"] == "kvs_write_failed" for e in logs)
    assert weights_in(server) == ALL
    assert kvs_world.sample("failover_kvs_errors_total", operation="PutKey") == 1


def test_a_blind_prober_writes_nothing_to_the_store(kvs_world: World, server: KvsServer) -> None:
    kvs_world.rounds(4)
    before = server.get("www")
    kvs_world.prober.set(Outcome.CONNECTION)
    kvs_world.rounds(6)
    assert server.get("www") == before


def test_dry_run_plans_the_store_write_and_sends_nothing(
    zone: Zone, server: KvsServer, tmp_path: Path
) -> None:
    w = World(zone, server, tmp_path, "kvs")
    w.runner.allow_write = False
    with capture_logs() as logs:
        w.rounds(4)
    assert server.get("www") is None
    assert next(e["dry_run"] for e in logs if e["event"] == "kvs_weights_planned") is True


def test_the_sandbox_refuses_a_request_without_a_sigv4a_signature(server: KvsServer) -> None:
    proxy = urllib.request.ProxyHandler({"http": server.proxy})
    opener = urllib.request.build_opener(proxy)
    url = f"http://123456789012.kvs.sandbox.invalid/key-value-stores/{ARN.replace('/', '%2F')}"
    with pytest.raises(urllib.error.HTTPError) as e:
        opener.open(url, timeout=5)
    assert e.value.code == 403
    assert server.refused_auth == 1


def test_a_drain_applies_to_the_store_as_to_route53(both_world: World, server: KvsServer) -> None:
    both_world.rounds(3)
    key = OriginKey("www", C)
    both_world.overrides.save({key: Override(key, Action.DRAIN, "ops@host", 0.0, "maintenance")})
    both_world.rounds(3)
    assert both_world.zone.weights(both_world.pool) == {A: 100, B: 100, C: 0}
    assert weights_in(server) == {A: 100, B: 100, C: 0}
