"""Review: the pure core and the canary classifier on inputs that make them raise."""

from __future__ import annotations

from failover import health
from failover.aws.probe import classify
from failover.model import HealthSettings, Origin, Outcome, State


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
