"""The cluster oracle's flip-flop rule: an origin still climbing back from an earlier fault."""

from __future__ import annotations

from typing import Any

from failover.model import Outcome
from failover.sim.cluster import ClusterSimulation
from failover.sim.route53 import Written, fqdn
from failover.sim.scenario import Fault

WWW = frozenset({("www", "eu-west-1")})


def _weight(record: str, at: float, was: int, new: int) -> Written:
    def rr(weight: int) -> dict[str, Any]:
        return {
            "Name": fqdn(record),
            "Type": "TXT",
            "SetIdentifier": "eu-west-1",
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
