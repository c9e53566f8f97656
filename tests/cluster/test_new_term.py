"""A new leader plans on a read of Route 53 made in its own term, never on a follower's old one."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from prometheus_client import CollectorRegistry

from failover.aws.route53 import RateLimiter, Route53Store
from failover.cluster.fencing import Fencer
from failover.cluster.memory import MemoryTable
from failover.cluster.replica import Replica
from failover.errors import ConflictError
from failover.metrics import Metrics
from failover.model import Change, ClusterSettings, HealthSettings, Outcome, Reason, quote_txt
from failover.round import Runner
from failover.sim.route53 import FakeRoute53, fqdn
from failover.sim.world import MemoryOverrides
from tests.factories import Clock, ScriptedProber, make_config, make_pool, wset

H = HealthSettings(timeout=0.5, fall=2, rise=2, hold_down=5.0, hold_down_max=40.0, slow_start=40.0)
POOL = make_pool(record="www.example.com", health=H, zone_id="Z1")
A = POOL.origins[0].id
SETTINGS = ClusterSettings("t", 3, lease_seconds=8.0, lease_margin_seconds=2.0)
CONFIG = dataclasses.replace(make_config(POOL, resync=300.0), cluster=SETTINGS)


def _world() -> tuple[Clock, FakeRoute53]:
    clock = Clock()
    r53 = FakeRoute53(clock)
    r53.create_zone("Z1", "example.com")
    r53.human(
        "Z1",
        [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": fqdn(POOL.record),
                    "Type": "TXT",
                    "SetIdentifier": o.id,
                    "Weight": o.weight,
                    "TTL": POOL.ttl,
                    "ResourceRecords": [{"Value": quote_txt(o.endpoint)}],
                },
            }
            for o in POOL.origins
        ],
    )
    return clock, r53


def _runner(name: str, clock: Clock, r53: FakeRoute53, table: MemoryTable) -> Runner:
    replica = Replica(SETTINGS, name, table, interval=1.0, background=False, clock=clock)
    store = Route53Store(
        r53,  # type: ignore[arg-type]
        RateLimiter(100.0, clock=clock, sleep=lambda s: None),
        sleep=lambda s: None,
        clock=clock,
    )
    runner = Runner(
        CONFIG,
        ScriptedProber(),
        store,
        MemoryOverrides(),
        Metrics(CollectorRegistry()),
        clock=clock,
        wall=clock,
        cluster=replica,
    )
    runner.writer.fencer = Fencer(store, replica.may_write, apexes={"Z1": "example.com"})
    return runner


def test_a_leader_taking_over_mid_ramp_goes_on_from_what_route53_holds_now() -> None:
    """Followers read Route 53 once per resync: the new term reads it again before it plans.

    r1 leads, takes A out and ramps it back (slow start); r2 read the record while A
    was at 0. r1 dies mid-ramp; r2's first plan must not pull A back down to restart
    the ramp from the weight of its old read.
    """
    clock, r53 = _world()
    table = MemoryTable()
    runners = [_runner(f"r{i}", clock, r53, table) for i in (1, 2, 3)]
    alive = [True, True, True]
    weights: list[int] = []

    def rounds(n: int) -> None:
        for _ in range(n):
            for runner, up in zip(runners, alive, strict=True):
                if up:
                    assert runner.run_round().error == ""
            held = r53.weight("Z1", POOL.record, A)
            assert held is not None
            weights.append(held)
            clock.t += 1.0

    rounds(4)
    for r in runners:
        assert isinstance(r.prober, ScriptedProber)
        r.prober.set(Outcome.HTTP_5XX, A)
    rounds(6)
    assert weights[-1] == 0
    for r in runners:
        assert isinstance(r.prober, ScriptedProber)
        r.prober.set(Outcome.OK, A)
    rounds(14)  # hold-down, rise, and part of the slow start
    ramp = weights[-1]
    assert 0 < ramp < POOL.origins[0].weight, weights
    assert runners[0].cluster is not None
    assert runners[0].cluster.leading()
    alive[0] = False  # r1 dies mid-ramp
    rounds(30)
    after = weights[-31:]
    assert all(b >= a for a, b in itertools.pairwise(after)), after
    assert after[-1] == POOL.origins[0].weight, after


def test_a_new_leader_bumps_every_fence_at_once_so_an_old_batch_finds_none_unchanged() -> None:
    """Nothing to change in a steady world, yet the fence moves with each new term: a batch
    the old leader prepared (and was held up past its lease) then fails as a conflict."""
    clock, r53 = _world()
    table = MemoryTable()
    runners = [_runner(f"r{i}", clock, r53, table) for i in (1, 2, 3)]
    fence = ("_failover-epoch.example.com.", "TXT", "")

    def rounds(n: int, alive: int) -> None:
        for _ in range(n):
            for runner in runners[3 - alive :]:
                assert runner.run_round().error == ""
            clock.t += 1.0

    rounds(3, alive=3)
    assert r53.sets("Z1")[fence]["ResourceRecords"] == [{"Value": quote_txt("1")}]
    old = runners[0].writer.fencer
    assert isinstance(old, Fencer)
    before = dict(old.known)
    rounds(12, alive=2)  # r1 stopped: r2 takes the lease after it and bumps the fence
    held = r53.sets("Z1")[fence]["ResourceRecords"]
    assert held == [{"Value": quote_txt("2")}]
    assert r53.weight("Z1", POOL.record, A) == POOL.origins[0].weight
    # The batch r1 had prepared under epoch 1, sent now as it would be on waking.
    stale = Fencer(old.store, lambda: (1, True), apexes={"Z1": "example.com"})
    stale.known = before
    down = Change(POOL.name, wset(POOL, A, 100), wset(POOL, A, 0), Reason.DOWN)
    with pytest.raises(ConflictError):
        stale.change("Z1", [down], "failover stale")
    assert r53.weight("Z1", POOL.record, A) == POOL.origins[0].weight
