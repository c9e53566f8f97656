"""Three replicas' rounds on moto (DynamoDB, strict Route 53): votes, one writer, takeover, losses."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.cluster import table as tables
from failover.cluster.fencing import Fencer
from failover.cluster.overrides import TableOverrides
from failover.cluster.replica import ClusterMetrics, Replica
from failover.metrics import Metrics
from failover.model import ClusterSettings, HealthSettings, Outcome
from failover.round import Runner
from tests.cluster.tables import Faults, create_table
from tests.conftest import Zone
from tests.factories import Clock, ScriptedProber, make_config, make_pool

H = HealthSettings(timeout=0.5, fall=2, rise=2, hold_down=5.0, hold_down_max=40.0)
POOL = make_pool(record="www.example.com", health=H)
A, B, C = (o.id for o in POOL.origins)
ALL = {A: 100, B: 100, C: 100}
FENCE = "_failover-epoch.example.com"


class Node:
    """One replica: its own prober (its own network path), clock, table client and runner."""

    def __init__(self, name: str, world: Cluster) -> None:
        self.name, self.up = name, True
        self.prober = ScriptedProber()
        self.clock = world.clock
        self.table = tables.Table(tables.client("us-east-1"), world.table, sleep=lambda s: None)
        self.registry = CollectorRegistry()
        self.replica = Replica(
            world.settings,
            name,
            self.table,
            interval=1.0,
            background=False,
            clock=self.clock,
            metrics=ClusterMetrics(self.registry),
        )
        self.runner = Runner(
            world.config,
            self.prober,
            world.zone.store,
            TableOverrides(self.table),
            Metrics(self.registry),
            clock=self.clock,
            wall=self.clock,
            cluster=self.replica,
        )
        self.runner.writer.fencer = Fencer(world.zone.store, self.replica.may_write)


class Cluster:
    def __init__(self, zone: Zone, table: str, replicas: int = 3) -> None:
        self.zone, self.table, self.clock = zone, table, Clock()
        self.settings = ClusterSettings(
            table, replicas, lease_seconds=8.0, lease_margin_seconds=2.0
        )
        self.config = dataclasses.replace(
            make_config(dataclasses.replace(POOL, zone_id=zone.id)), cluster=self.settings
        )
        self.nodes = [Node(f"r{i + 1}", self) for i in range(replicas)]

    def rounds(self, n: int) -> None:
        for _ in range(n):
            for node in self.nodes:
                if node.up:
                    report = node.runner.run_round()
                    assert report.error == ""
            self.clock.t += 1.0

    def leaders(self) -> list[str]:
        return [n.name for n in self.nodes if n.up and n.replica.leading()]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def weights(self) -> dict[str, int]:
        return self.zone.weights(POOL)

    def fence(self) -> Any:
        return self.zone.store.read_fence(self.zone.id, FENCE)


@pytest.fixture
def cluster(zone: Zone, endpoint: str) -> Cluster:
    zone.put(POOL, ALL)
    c = Cluster(zone, create_table())
    c.rounds(4)
    return c


def test_exactly_one_replica_leads_and_a_steady_world_moves_no_weight(cluster: Cluster) -> None:
    cluster.rounds(4)
    assert cluster.leaders() == ["r1"]
    assert cluster.weights() == ALL
    assert cluster.fence().epoch == 1  # the leader's one write: its fence, bumped at once
    report = cluster.node("r2").runner.snapshot().cluster
    assert report is not None
    assert report["leader"] == "r1"
    assert report["epoch"] == 1
    assert {name for name, v in report["views"].items() if v["live"]} == {"r1", "r2", "r3"}


def test_one_replicas_partial_view_moves_nothing(cluster: Cluster) -> None:
    """Its path to two Regions cut: it votes them down, the two others see them up."""
    cluster.node("r1").prober.set(Outcome.CONNECTION, A, B)
    cluster.rounds(20)
    assert cluster.weights() == ALL
    report = cluster.node("r1").runner.snapshot().cluster
    assert report is not None
    assert report["disagreements"] == 2


def test_a_region_down_for_all_fails_over_under_the_leaders_epoch(cluster: Cluster) -> None:
    for n in cluster.nodes:
        n.prober.set(Outcome.HTTP_5XX, A)
    with capture_logs() as logs:
        cluster.rounds(6)
    assert cluster.weights() == {A: 0, B: 100, C: 100}
    assert cluster.fence().epoch == 1
    applied = [e for e in logs if e["event"] == "weights_applied"]
    assert len(applied) == 1


def test_a_killed_leader_is_replaced_within_the_lease_and_the_next_failover_lands(
    cluster: Cluster,
) -> None:
    for n in cluster.nodes:
        n.prober.set(Outcome.HTTP_5XX, A)
    cluster.rounds(6)
    assert cluster.weights()[A] == 0
    cluster.node("r1").up = False  # SIGKILL: no release, its lease item just stops moving
    for n in cluster.nodes:
        n.prober.set(Outcome.HTTP_5XX, B)
    cluster.rounds(6)  # the lease (8 s) has not run out on the others' clocks yet
    assert cluster.leaders() == []
    assert cluster.weights()[B] == 100
    cluster.rounds(6)
    [leader] = cluster.leaders()
    assert leader in ("r2", "r3")
    # Two live views of three configured: still a quorum, and the failover lands.
    assert cluster.weights() == {A: 0, B: 0, C: 100}
    assert cluster.fence().epoch == 2


def test_with_fewer_live_views_than_the_quorum_nothing_is_marked_down(cluster: Cluster) -> None:
    cluster.node("r2").up = cluster.node("r3").up = False
    cluster.node("r1").prober.set(Outcome.HTTP_5XX, A)
    with capture_logs() as logs:
        cluster.rounds(15)
    assert cluster.leaders() == ["r1"]
    assert cluster.weights() == ALL
    assert any(e["event"] == "quorum_lost" for e in logs)
    assert cluster.node("r1").registry.get_sample_value("failover_cluster_replicas_live") == 1


def cut(node: Node) -> list[Faults]:
    """The node's path to the table fails: every call answers 500 until the faults are lifted."""
    return [
        Faults(node.table.client, op, "InternalServerError", times=10_000, status=500)
        for op in ("GetItem", "PutItem", "Query")
    ]


def test_a_leader_cut_from_the_table_stops_at_its_deadline_and_another_takes_over(
    cluster: Cluster,
) -> None:
    r1 = cluster.node("r1")
    faults = cut(r1)
    for n in cluster.nodes:
        n.prober.set(Outcome.HTTP_5XX, A)
    with capture_logs() as logs:
        cluster.rounds(6)
    assert not r1.replica.leading()  # its own deadline (8 - 2 s after its last renewal)
    assert cluster.weights() == ALL  # and nobody else may write yet
    assert any(e["event"] == "cluster_table_failed" for e in logs)
    assert r1.runner.snapshot().cluster is not None  # it goes on probing and reporting
    cluster.rounds(6)
    [leader] = cluster.leaders()
    assert leader != "r1"
    assert cluster.weights() == {A: 0, B: 100, C: 100}
    assert cluster.fence().epoch == 2
    for f in faults:
        f.remaining = 0
    cluster.rounds(4)
    assert cluster.leaders() == [leader]


def test_with_the_table_unreachable_for_all_nothing_is_written_and_writing_resumes_after(
    cluster: Cluster,
) -> None:
    faults = [f for n in cluster.nodes for f in cut(n)]
    for n in cluster.nodes:
        n.prober.set(Outcome.HTTP_5XX, A)
    cluster.rounds(15)
    assert cluster.leaders() == []
    assert cluster.weights() == ALL
    for f in faults:
        f.remaining = 0
    cluster.rounds(14)
    assert len(cluster.leaders()) == 1
    assert cluster.weights() == {A: 0, B: 100, C: 100}


def test_release_lets_another_replica_take_over_at_once(cluster: Cluster) -> None:
    r1 = cluster.node("r1")
    assert r1.replica.release()
    r1.up = False
    cluster.rounds(2)
    assert len(cluster.leaders()) == 1
    assert cluster.leaders()[0] in ("r2", "r3")
