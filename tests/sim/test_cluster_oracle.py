"""The cluster oracle's own rules, on hand-made histories: flip-flops and the bound."""

from __future__ import annotations

from typing import Any

from failover.model import OriginKey, Outcome, ProbeResult
from failover.sim.cluster import ClusterSimulation
from failover.sim.route53 import Written, fqdn
from failover.sim.scenario import Fault

WWW = frozenset({("www", "eu-west-1")})


def _weight(record: str, at: float, was: int, new: int, set_id: str = "eu-west-1") -> Written:
    def rr(weight: int) -> dict[str, Any]:
        return {
            "Name": fqdn(record),
            "Type": "TXT",
            "SetIdentifier": set_id,
            "Weight": weight,
            "TTL": 60,
            "ResourceRecords": [{"Value": '"x"'}],
        }

    changes = [
        {"Action": "DELETE", "ResourceRecordSet": rr(was)},
        {"Action": "CREATE", "ResourceRecordSet": rr(new)},
    ]
    return Written(at, "failover c epoch 1", changes, True)


def _judge(earlier_end: float) -> list[str]:
    """Seed 3000's episode 134: an outage strikes www/eu-west-1 while it slow-starts back
    from an earlier episode's outage (ended at `earlier_end`); it climbs 25→50→75, goes
    down once the outage reaches `fall`, and climbs back after it."""
    sim = ClusterSimulation(1, 0.01, 3)
    oracle = sim.oracle
    record = sim.config.pool("www").record
    earlier = Fault("outage", earlier_end - 800.0, earlier_end, WWW, Outcome.TIMEOUT, episode=1)
    now = Fault("outage", 1000.0, 1034.0, WWW, Outcome.HTTP_403, episode=2)
    sim.r53.written[:] = [
        _weight(record, 1003.0, 25, 50),
        _weight(record, 1013.0, 50, 75),
        _weight(record, 1023.0, 75, 0),
        _weight(record, 1094.0, 0, 25),
    ]
    oracle.violations.clear()
    oracle.finish([earlier, now])
    return [v.invariant for v in oracle.violations]


def test_a_climb_back_from_an_earlier_episode_is_not_a_flip_flop() -> None:
    assert _judge(earlier_end=966.0) == []


def test_up_down_up_long_after_any_earlier_fault_is_a_flip_flop() -> None:
    assert _judge(earlier_end=-5000.0) == ["no_flip_flop"]


IMG = OriginKey("img", "eu-west-1")


def _bound_violations(pattern: str) -> list[str]:
    """Seed 3005: img/eu-west-1 (fall 4) probed every 10 s by three replicas, 3 s apart;
    `pattern` is each replica's cycle of results ("x" fails, "." passes), shifted one
    probe per replica so that two are always mid-streak. Route 53 keeps the origin at 50 throughout, as the leader did."""
    sim = ClusterSimulation(1, 0.01, 3)
    oracle = sim.oracle
    assert oracle.origins[IMG].health.fall == 4
    oracle.violations.clear()
    for n in range(40):
        for i, replica in enumerate(("r1", "r2", "r3")):
            now = 1000.0 + 10.0 * n + 3.0 * i
            failed = pattern[(n - i) % len(pattern)] == "x"
            outcome = Outcome.MISMATCH if failed else Outcome.OK
            oracle.observe(replica, {IMG: ProbeResult(IMG, outcome, 0.04, 200)}, now)
            oracle._check_bound(now, set())
    return [v.invariant for v in oracle.violations]


def test_streaks_that_take_turns_short_of_fall_are_no_quorum_fault() -> None:
    # 30 s down, 10 s up: every replica fails 3 in a row, never `fall`; out of phase,
    # two of them are always mid-streak. The leader is right to keep the weight.
    assert _bound_violations("xxx.") == []


def test_a_steady_fault_a_quorum_sees_is_still_held_to_the_bound() -> None:
    assert _bound_violations("x") == ["failover_within_bound"]


def _standby_turns(primary_faults: int) -> list[str]:
    """Seed 3003's episode 525: www's primary goes stale and back, `primary_faults` times;
    its first standby takes over and hands back each time (three turns for two faults)."""
    sim = ClusterSimulation(1, 0.01, 3)
    oracle = sim.oracle
    record = sim.config.pool("www").record
    assert next(o.id for o in sim.config.pool("www").standbys) == "us-east-1"
    faults = [
        Fault("stale", 1000.0 + 600.0 * i, 1140.0 + 600.0 * i, WWW, Outcome.TOO_OLD, episode=1)
        for i in range(primary_faults)
    ]
    sim.r53.written[:] = [
        _weight(record, 1030.0, 0, 100, "us-east-1"),
        _weight(record, 1200.0, 100, 0, "us-east-1"),
        _weight(record, 1630.0, 0, 100, "us-east-1"),
        _weight(record, 1800.0, 100, 0, "us-east-1"),
    ]
    oracle.violations.clear()
    oracle.finish(faults)
    return [v.invariant for v in oracle.violations]


def test_a_standby_following_its_primary_twice_is_not_a_flip_flop() -> None:
    assert _standby_turns(primary_faults=2) == []


def test_a_standby_turning_three_times_for_one_fault_ahead_of_it_is_a_flip_flop() -> None:
    assert _standby_turns(primary_faults=1) == ["no_flip_flop"]


def _under_an_earlier_fault(kind: str) -> list[str]:
    """Seed 3001's episode 680: img/eu-west-1 turns five times while an earlier episode's
    fault of `kind` on it runs on; the episode itself is an outage of another origin."""
    sim = ClusterSimulation(1, 0.01, 3)
    oracle = sim.oracle
    record = sim.config.pool("img").record
    img = frozenset({("img", "eu-west-1")})
    other = frozenset({("img", "ap-northeast-1")})
    earlier = Fault(kind, 100.0, 3000.0, img, Outcome.TIMEOUT, p=0.5, episode=1)
    now = Fault("outage", 1000.0, 1080.0, other, Outcome.HTTP_5XX, episode=2)
    sim.r53.written[:] = [
        _weight(record, at, was, new)
        for at, was, new in [
            (1100, 50, 0),
            (1200, 0, 50),
            (1400, 50, 0),
            (1560, 0, 50),
            (2200, 50, 0),
        ]
    ]
    oracle.violations.clear()
    oracle.finish([earlier, now])
    return [v.invariant for v in oracle.violations]


def test_turns_under_an_earlier_partial_outage_still_running_are_not_judged() -> None:
    assert _under_an_earlier_fault("partial") == []


def test_turns_under_an_earlier_steady_outage_alone_are_judged() -> None:
    assert _under_an_earlier_fault("outage") == ["no_flip_flop"]
