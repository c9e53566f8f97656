"""The per-origin health state machine: fall, rise, hold-down, damping, restart."""

from __future__ import annotations

import dataclasses

from failover.aws.route53 import Record
from failover.core import health
from failover.model import Health, HealthSettings, Outcome, ProbeResult, State
from failover.stages.observe import applied_fraction
from tests.factories import make_pool, wset

S = HealthSettings(fall=3, rise=2, hold_down=30.0, hold_down_max=240.0, slow_start=0.0)
OK, BAD = Outcome.OK, Outcome.HTTP_5XX


def run(
    h: Health,
    outcomes: list[Outcome],
    start: float = 0.0,
    step: float = 1.0,
    settings: HealthSettings = S,
) -> tuple[Health, float]:
    t = start
    for o in outcomes:
        h = health.step(h, o, t, settings)
        t += step
    return h, t


def test_a_new_origin_is_unknown_until_enough_samples() -> None:
    h, _ = run(Health(), [OK])
    assert h.state is State.UNKNOWN
    h, _ = run(Health(), [BAD, BAD])
    assert h.state is State.UNKNOWN


def test_rise_successes_from_unknown_mark_up_without_hold_down() -> None:
    h, _ = run(Health(), [OK, OK])
    assert h.state is State.UP
    assert h.up_since is None  # it was serving before we looked: no slow start


def test_fall_consecutive_failures_mark_down() -> None:
    h, _ = run(Health(), [OK, OK, BAD, BAD])
    assert h.state is State.UP
    h, _ = run(h, [BAD])
    assert h.state is State.DOWN


def test_a_success_between_failures_resets_the_count() -> None:
    h, _ = run(Health(), [OK, OK, BAD, BAD, OK, BAD, BAD])
    assert h.state is State.UP


def test_coming_back_waits_for_the_hold_down_even_with_enough_successes() -> None:
    h, t = run(Health(), [OK, OK, BAD, BAD, BAD])  # down at t=4
    assert h.state is State.DOWN
    assert h.down_since == 4.0
    h, t = run(h, [OK] * 20, start=t)  # t = 5..24: hold-down until 34
    assert h.state is State.DOWN
    h, t = run(h, [OK] * 11, start=t)  # reaches t = 34 and beyond
    assert h.state is State.UP
    assert h.up_since == 34.0


def test_hold_down_never_delays_taking_a_failing_origin_out() -> None:
    h, t = run(Health(), [OK, OK, BAD, BAD, BAD], step=1.0)
    h, t = run(h, [OK] * 40, start=t)
    assert h.state is State.UP
    h, _ = run(h, [BAD, BAD, BAD], start=t)  # straight after coming back
    assert h.state is State.DOWN


def test_flapping_doubles_the_hold_down_up_to_the_cap() -> None:
    h, t = run(Health(), [OK, OK, BAD, BAD, BAD])
    holds = [h.hold_down]
    for _ in range(5):
        while h.state is not State.UP:
            h, t = run(h, [OK], start=t)
        h, t = run(h, [BAD, BAD, BAD], start=t)
        holds.append(h.hold_down)
    assert holds == [30.0, 60.0, 120.0, 240.0, 240.0, 240.0]


def test_a_long_stable_period_forgives_earlier_flaps() -> None:
    h, t = run(Health(), [OK, OK, BAD, BAD, BAD])
    while h.state is not State.UP:
        h, t = run(h, [OK], start=t)
    h, t = run(h, [BAD, BAD, BAD], start=t)
    assert h.flaps == 1
    while h.state is not State.UP:
        h, t = run(h, [OK], start=t)
    h, t = run(h, [OK], start=t + S.hold_down_max)  # stays up past the damping window
    h, _ = run(h, [BAD, BAD, BAD], start=t)
    assert h.flaps == 0
    assert h.hold_down == 30.0


def test_restart_with_weight_zero_in_route53_holds_down_from_the_restart() -> None:
    h = health.initial(0.0, S, now=100.0)
    assert h.state is State.UNKNOWN
    h, t = run(h, [OK] * 10, start=100.0)
    assert h.state is State.UNKNOWN  # evidence, but the hold-down since restart runs to 130
    h, _ = run(h, [OK] * 25, start=t)
    assert h.state is State.UP
    assert h.up_since == 130.0


def test_restart_part_way_through_slow_start_resumes_the_ramp() -> None:
    s = HealthSettings(fall=3, rise=2, slow_start=100.0)
    h = health.initial(0.5, s, now=1000.0)
    h, _ = run(h, [OK, OK], start=1000.0, settings=s)
    assert h.state is State.UP
    assert health.slow_start_fraction(h, s, 1001.0) == 0.75


def test_slow_start_ramps_in_quarter_steps() -> None:
    s = HealthSettings(slow_start=100.0)
    h = Health(state=State.UP, up_since=0.0)
    fractions = [health.slow_start_fraction(h, s, t) for t in (0, 24, 25, 60, 99, 100)]
    assert fractions == [0.25, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_every_outcome_but_ok_counts_as_a_failure() -> None:
    for outcome in Outcome:
        h, _ = run(Health(), [outcome] * 3)
        assert h.state is (State.UP if outcome is Outcome.OK else State.DOWN), outcome


def test_going_down_within_hold_down_max_of_coming_up_is_a_flap_even_past_hold_down() -> None:
    """The damping window is `hold_down_max`: up for longer than `hold_down` still flaps."""
    h, t = run(Health(), [OK, OK, BAD, BAD, BAD])  # down at t=4, held until 34
    while h.state is not State.UP:
        h, t = run(h, [OK], start=t)
    assert h.up_since is not None
    up_for = S.hold_down * 3  # 90 s: past hold_down (30), well inside hold_down_max (240)
    h, t = run(h, [OK], start=h.up_since + up_for)
    h, _ = run(h, [BAD, BAD, BAD], start=t)
    assert h.state is State.DOWN
    assert h.flaps == 1
    assert h.hold_down == 60.0


def test_a_blind_round_leaves_the_verdict_as_it_was_but_marks_it_stale() -> None:
    o = make_pool().origins[0]
    down = Health(state=State.DOWN, failures=3, down_since=0.0, hold_down=30.0)
    result = ProbeResult(o.key, Outcome.TIMEOUT, 1.0)
    h, _ = health.observe(o, down, None, result, 10.0, blind=True)
    assert (h.state, h.failures, h.stale) == (State.DOWN, 3, True)
    h, _ = health.observe(o, h, None, ProbeResult(o.key, Outcome.OK, 0.1), 20.0, blind=False)
    assert h.stale, "one success is no verdict: still stale, still down"
    h, _ = health.observe(o, h, None, result, 30.0, blind=False)
    assert not h.stale, "a failure seen since the spell confirms the verdict"


def test_a_probe_refused_for_the_daemons_own_fault_leaves_the_verdict_current() -> None:
    """Other origins still give evidence and writes go on: the verdict was written."""
    o = make_pool().origins[0]
    down = Health(state=State.DOWN, failures=3, down_since=0.0, hold_down=30.0)
    refused = ProbeResult(o.key, Outcome.CREDENTIALS, 0.1, 400, detail="ExpiredToken")
    h, _ = health.observe(o, down, None, refused, 10.0, blind=False)
    assert h == down


def test_an_idle_standby_at_zero_is_not_held_down_by_a_restart() -> None:
    """A primary at 0 was taken out (hold-down from the restart); a standby at 0 is only idle."""
    pool = make_pool()
    primary = pool.origins[0]
    standby = dataclasses.replace(pool.origins[1], standby=True)
    record = Record({o.id: wset(pool, o.id, 0) for o in pool.origins})
    assert applied_fraction(primary, record) == 0.0
    assert applied_fraction(standby, record) is None
    assert health.initial(applied_fraction(standby, record), standby.health, 5.0) == Health()
    active = Record({standby.id: wset(pool, standby.id, standby.weight // 2)})
    assert applied_fraction(standby, active) == 0.5  # part-way up a slow start: resumed
