"""The pure core and the canary classifier on inputs that once made them raise."""

from __future__ import annotations

from failover.aws.probe import classify
from failover.core import health, plan
from failover.model import Change, HealthSettings, Origin, Outcome, Pool, State
from tests.factories import pool_plans


def test_an_origin_that_keeps_flapping_for_days_never_makes_the_health_step_raise() -> None:
    """Each quick flap doubles the hold-down; past ~1,024 flaps 2**flaps overflows a float."""
    s = HealthSettings(fall=1, rise=1, hold_down=0.0, hold_down_max=600.0)
    h, now = health.Health(), 0.0
    for _ in range(1100):  # about 3 hours of down/up every 10 s, or a week at the 600 s cap
        h = health.step(h, Outcome.HTTP_5XX, now, s)
        now += 5.0
        h = health.step(h, Outcome.OK, now, s)
        now += 5.0
    assert h.state is State.UP
    assert h.hold_down <= s.hold_down_max


def test_a_deeply_nested_json_canary_is_classified_not_raised() -> None:
    """A canary is untrusted bytes; an exception here fails the whole round for every pool."""
    o = Origin("www", "eu-west-1", "b", "eu-west-1", 100, "k", HealthSettings(max_age=60.0))
    outcome, age, _ = classify(o, 200, b"[" * 5120, 1_800_000_000.0)
    assert outcome is Outcome.MISMATCH
    assert age is None


def _big_pool(name: str) -> Pool:
    h = HealthSettings()
    origins = tuple(
        Origin(name, f"o{i}", f"{name}-{i:02d}-" + "b" * 50, "ap-southeast-2", 100, "k", h)
        for i in range(100)
    )
    return Pool(name, f"{name}.example.com", "Z1", 30, origins)


def test_one_pools_changes_always_travel_in_one_request() -> None:
    """The gate judged the pool's changes together; split, the first half can land alone.

    Two full pools in one zone, every origin of both changing (a wide outage): the zeroing
    swaps must not reach Route 53 in a request that lacks the swap bringing a survivor up.
    """
    changes = []
    for pool in (_big_pool("www"), _big_pool("api")):
        for i, o in enumerate(pool.origins):
            up = i == len(pool.origins) - 1  # the one survivor comes back; the rest go out
            changes.append(
                Change(
                    pool.name,
                    plan.target(pool, o.id, 0 if up else 100),
                    plan.target(pool, o.id, 100 if up else 0),
                    "up" if up else "down",
                )
            )
    for batch in plan.batches("Z1", pool_plans(changes)):
        for name in batch.pools:
            assert len([c for c in batch.changes if c.pool == name]) == 100, f"pool {name} split"
