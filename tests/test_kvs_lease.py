"""In cluster mode the KeyValueStore is written only while this replica's lease allows it.

The store holds no fence record, so the lease's own deadline is asked right before each
PutKey, as the fence asks it before each Route 53 batch: a leader paused past its
deadline between planning a write and sending it sends nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.aws import kvs as aws_kvs
from failover.cluster.memory import MemoryTable
from failover.cluster.replica import Replica
from failover.metrics import Metrics
from failover.model import ClusterSettings, HealthSettings, KvsSettings, Outcome
from failover.overrides import FileStore
from failover.round import Runner
from failover.sandbox.kvs_server import KvsServer
from failover.stages.kvs import KvsStore
from tests.conftest import Zone
from tests.factories import Clock, ScriptedProber, make_config, make_pool
from tests.test_kvs_sink import ALL, ARN, weights_in

H = HealthSettings(timeout=0.5, fall=2, rise=2, hold_down=10.0)
A = "eu-west-1"
LEASE = ClusterSettings("t", 1, lease_seconds=10.0, lease_margin_seconds=2.0)


class Pausing:
    """The real store client; armed, the process "stops" (SIGSTOP, a frozen VM) for
    `seconds` as a write begins, after the round that planned it decided to lead."""

    def __init__(self, store: KvsStore, clock: Clock) -> None:
        self.store, self.clock = store, clock
        self.armed = 0.0

    def etag(self) -> str:
        self.clock.t += self.armed
        self.armed = 0.0
        return self.store.etag()

    def get(self, key: str) -> str | None:
        return self.store.get(key)

    def put(self, key: str, value: str, etag: str) -> str:
        return self.store.put(key, value, etag)


@pytest.fixture
def server() -> Iterator[KvsServer]:
    s = KvsServer(ARN)
    yield s
    s.close()


def _leader(zone: Zone, server: KvsServer, tmp: Path) -> tuple[Runner, ScriptedProber, Pausing]:
    pool = dataclasses.replace(
        make_pool(record="www.example.com", health=H, zone_id=zone.id), sink="kvs"
    )
    settings = KvsSettings(ARN, 50.0, server.endpoint_url, server.proxy)
    clock, prober, metrics = Clock(), ScriptedProber(), Metrics(CollectorRegistry())
    client = aws_kvs.open_store(boto3.Session(), settings, metrics.kvs.request)
    assert client is not None
    store = Pausing(client, clock)
    replica = Replica(LEASE, "r1", MemoryTable(), interval=1.0, background=False, clock=clock)
    runner = Runner(
        dataclasses.replace(make_config(pool), kvs=settings),
        prober,
        zone.store,
        FileStore(tmp / "overrides.json"),
        metrics,
        clock=clock,
        wall=clock,
        kvs=store,
        cluster=replica,
    )
    runner.kvs.sleep = lambda s: None
    for _ in range(15):  # until the lease is held, its view live, and the store written
        assert runner.run_round().error == ""
        clock.t += 1.0
        if server.get("www") is not None:
            return runner, prober, store
    raise AssertionError("the leader never wrote the store")


def test_a_leader_paused_past_its_deadline_before_a_put_writes_nothing_to_the_store(
    zone: Zone, server: KvsServer, tmp_path: Path
) -> None:
    runner, prober, store = _leader(zone, server, tmp_path)
    assert weights_in(server) == ALL
    prober.set(Outcome.HTTP_5XX, A)
    store.armed = LEASE.lease_seconds  # the pause outlasts the lease
    with capture_logs() as logs:
        for _ in range(4):
            assert runner.run_round().error == ""
            if not store.armed:
                break
            runner.clock.t += 1.0  # type: ignore[attr-defined]
    assert not store.armed, "no write was attempted"
    refused = [e for e in logs if e["event"] == "kvs_write_refused_fenced"]
    assert [e["pool"] for e in refused] == ["www"]
    assert not [e for e in logs if e["event"] == "kvs_weights_applied"]
    assert weights_in(server) == ALL, "nothing landed past the deadline"
    assert server.count("PutKey", "200") == 1  # the first write only


def test_the_same_write_lands_once_the_lease_is_renewed(
    zone: Zone, server: KvsServer, tmp_path: Path
) -> None:
    """Refused, the pool is read again and the write is decided afresh while leading."""
    runner, prober, store = _leader(zone, server, tmp_path)
    prober.set(Outcome.HTTP_5XX, A)
    store.armed = LEASE.lease_seconds
    for _ in range(8):
        assert runner.run_round().error == ""
        runner.clock.t += 1.0  # type: ignore[attr-defined]
    assert not store.armed
    assert weights_in(server) == {**ALL, A: 0}
