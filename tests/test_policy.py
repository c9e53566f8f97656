"""Weight policy: precedence, fail open, blind-prober freeze, slow start, drain refusal."""

from __future__ import annotations

import dataclasses

import pytest

from failover.core import evidence, health, policy
from failover.model import (
    Action,
    Health,
    HealthSettings,
    OriginKey,
    Outcome,
    Override,
    Pool,
    ProbeResult,
    State,
)
from tests.factories import make_pool

POOL = make_pool(weights=(100, 50, 10))
UP, DOWN, UNKNOWN = Health(State.UP), Health(State.DOWN), Health()
IDS = [o.id for o in POOL.origins]


def decide(
    states: list[Health],
    applied: list[int | None] | None = None,
    overrides: dict[str, Action] | None = None,
    frozen: bool = False,
    now: float = 0.0,
    pool=POOL,
):  # type: ignore[no-untyped-def]
    ids = [o.id for o in pool.origins]
    ovs = {
        i: Override(OriginKey(pool.name, i), a, "ops@host", 0.0, "test")
        for i, a in (overrides or {}).items()
    }
    return policy.decide(
        pool,
        dict(zip(ids, states, strict=True)),
        dict(zip(ids, applied or [100, 50, 10], strict=True)),
        ovs,
        frozen=frozen,
        now=now,
    )


def weights(d) -> list[int | None]:  # type: ignore[no-untyped-def]
    return [x.weight for x in d.decisions]


def test_healthy_origins_get_their_configured_weights() -> None:
    assert weights(decide([UP, UP, UP])) == [100, 50, 10]


def test_a_down_origin_gets_zero() -> None:
    d = decide([UP, DOWN, UP])
    assert weights(d) == [100, 0, 10]
    assert d.decisions[1].reason == "down"


def test_all_but_one_down_keeps_the_last_one_serving() -> None:
    d = decide([DOWN, DOWN, UP])
    assert weights(d) == [0, 0, 10]
    assert not d.failed_open


def test_every_origin_down_fails_open_to_the_configured_weights() -> None:
    d = decide([DOWN, DOWN, DOWN])
    assert d.failed_open
    assert weights(d) == [100, 50, 10]
    assert {x.reason for x in d.decisions} == {"failed_open"}


def test_unknown_keeps_what_route53_has() -> None:
    d = decide([UNKNOWN, UP, UNKNOWN], applied=[0, 50, 7])
    assert weights(d) == [0, 50, 7]


def test_unknown_with_a_missing_set_waits_for_evidence() -> None:
    d = decide([UNKNOWN, UP, UP], applied=[None, 50, 10])
    assert weights(d) == [None, 50, 10]


def test_unknown_at_zero_and_the_rest_down_fails_open() -> None:
    d = decide([UNKNOWN, DOWN, DOWN], applied=[0, 50, 10])
    assert d.failed_open


def test_frozen_has_no_opinion_on_any_origin() -> None:
    d = decide([DOWN, DOWN, UP], frozen=True)
    assert d.frozen
    assert weights(d) == [None, None, None]


def test_pin_wins_over_drain_and_health() -> None:
    d = decide([DOWN, UP, UP], overrides={IDS[0]: Action.PIN})
    assert weights(d)[0] == 100
    assert d.decisions[0].reason == "pinned"


def test_drain_wins_over_health() -> None:
    d = decide([UP, UP, UP], overrides={IDS[0]: Action.DRAIN})
    assert weights(d) == [0, 50, 10]


def test_drain_wins_over_unknown() -> None:
    d = decide([UNKNOWN, UP, UP], overrides={IDS[0]: Action.DRAIN})
    assert weights(d)[0] == 0


def test_draining_the_last_serving_origin_fails_open() -> None:
    d = decide([UP, DOWN, DOWN], overrides={IDS[0]: Action.DRAIN})
    assert d.failed_open
    assert weights(d) == [100, 50, 10]


def test_slow_start_brings_a_recovered_origin_back_in_steps() -> None:
    pool = make_pool(weights=(100, 100, 100), health=HealthSettings(slow_start=40.0))
    back = Health(State.UP, up_since=0.0)
    seen = [
        weights(decide([back, UP, UP], applied=[0, 100, 100], now=t, pool=pool))[0]
        for t in (0, 10, 20, 30, 40)
    ]
    assert seen == [25, 50, 75, 100, 100]


def test_slow_start_never_rounds_a_positive_weight_to_zero() -> None:
    pool = make_pool(weights=(1, 100, 100), health=HealthSettings(slow_start=40.0))
    d = decide([Health(State.UP, up_since=0.0), UP, UP], applied=[0, 100, 100], pool=pool)
    assert weights(d)[0] == 1


def result(outcome: Outcome) -> ProbeResult:
    return ProbeResult(OriginKey("www", "x"), outcome, 0.1)


@pytest.mark.parametrize(
    ("outcomes", "blind"),
    [
        ([Outcome.TIMEOUT, Outcome.CONNECTION, Outcome.TIMEOUT], True),
        (
            [Outcome.TIMEOUT, Outcome.HTTP_5XX, Outcome.TIMEOUT],
            False,
        ),  # one answer proves the network
        ([Outcome.HTTP_5XX] * 3, False),  # every region answering 503 is a real outage
        ([Outcome.OK, Outcome.TIMEOUT], False),
        ([], False),
    ],
)
def test_blind_only_when_no_probe_got_any_http_answer(outcomes: list[Outcome], blind: bool) -> None:
    results = {OriginKey("www", str(i)): result(o) for i, o in enumerate(outcomes)}
    assert evidence.blind(results) is blind


def test_serving_counts_origins_left_carrying_weight_after_overrides() -> None:
    key = OriginKey(POOL.name, IDS[0])
    drain = {IDS[0]: Override(key, Action.DRAIN, "a", 0.0, "r")}
    assert policy.serving(POOL, {IDS[0]: 100, IDS[1]: 0, IDS[2]: 0}, drain) == 0
    assert policy.serving(POOL, {IDS[0]: 100, IDS[1]: 50, IDS[2]: 0}, drain) == 1
    pin = {IDS[2]: Override(OriginKey(POOL.name, IDS[2]), Action.PIN, "a", 0.0, "r")}
    assert policy.serving(POOL, {IDS[0]: 0, IDS[1]: 0, IDS[2]: 0}, pin) == 1


# ---- standby origins ----------------------------------------------------------------------


def standby_pool(failback: str = "auto", slow_start: float = 0.0) -> Pool:
    """A primary and two standbys (first, then second), each 100 when active."""
    base = make_pool(
        weights=(100, 100, 100), health=HealthSettings(hold_down=30.0, slow_start=slow_start)
    )
    origins = (
        base.origins[0],
        dataclasses.replace(base.origins[1], standby=True),
        dataclasses.replace(base.origins[2], standby=True),
    )
    return dataclasses.replace(base, origins=origins, failback=failback)


def test_a_standby_stays_idle_at_zero_while_a_primary_serves() -> None:
    d = decide([UP, UP, UP], applied=[100, 0, 0], pool=standby_pool())
    assert weights(d) == [100, 0, 0]
    assert [x.reason for x in d.decisions[1:]] == ["standby", "standby"]
    assert not d.failed_open


def test_the_first_standby_takes_its_weight_when_every_primary_is_out() -> None:
    d = decide([DOWN, UP, UP], applied=[100, 0, 0], pool=standby_pool())
    assert weights(d) == [0, 100, 0]
    assert d.decisions[1].reason == "active"
    assert not d.failed_open


def test_standbys_take_over_in_the_stated_order() -> None:
    d = decide([DOWN, DOWN, UP], applied=[100, 0, 0], pool=standby_pool())
    assert weights(d) == [0, 0, 100]


def test_draining_the_primary_hands_the_pool_to_the_standby() -> None:
    d = decide(
        [UP, UP, UP], applied=[100, 0, 0], overrides={IDS[0]: Action.DRAIN}, pool=standby_pool()
    )
    assert weights(d) == [0, 100, 0]


def test_failing_open_considers_standbys_first_then_restores_primaries_only() -> None:
    """Every origin down: the primaries get their weight back, the standbys stay idle."""
    d = decide([DOWN, DOWN, DOWN], applied=[0, 100, 0], pool=standby_pool())
    assert d.failed_open
    assert weights(d) == [100, 0, 0]


def test_auto_failback_keeps_the_standby_while_the_primary_slow_starts() -> None:
    pool = standby_pool(slow_start=40.0)
    back = Health(State.UP, up_since=0.0)
    ramp = decide([back, UP, UP], applied=[0, 100, 0], now=10.0, pool=pool)
    assert weights(ramp) == [50, 100, 0]
    done = decide([back, UP, UP], applied=[75, 100, 0], now=40.0, pool=pool)
    assert weights(done) == [100, 0, 0]
    assert done.decisions[1].reason == "standby"


def test_auto_failback_waits_for_the_primarys_hold_down() -> None:
    """A primary still held down is DOWN for policy: the standby keeps the pool."""
    held = Health(State.DOWN, successes=5, down_since=0.0, hold_down=30.0)
    d = decide([held, UP, UP], applied=[0, 100, 0], now=20.0, pool=standby_pool())
    assert weights(d) == [0, 100, 0]


def test_manual_failback_holds_the_pool_on_the_standby_when_the_primary_is_back() -> None:
    d = decide([UP, UP, UP], applied=[0, 100, 0], pool=standby_pool("manual"))
    assert weights(d) == [0, 100, 0]
    assert d.decisions[0].reason == "held"


def test_manual_failback_is_released_by_pinning_a_primary() -> None:
    pool = standby_pool("manual")
    d = decide([UP, UP, UP], applied=[0, 100, 0], overrides={IDS[0]: Action.PIN}, pool=pool)
    assert weights(d) == [100, 0, 0]
    # Once the standby is idle in Route 53 nothing holds: unpinned, the primary keeps it.
    assert weights(decide([UP, UP, UP], applied=[100, 0, 0], pool=pool)) == [100, 0, 0]


def test_manual_failback_never_takes_out_a_serving_primary_for_a_pinned_standby() -> None:
    """A pin (or a hand edit) making the standby carry weight holds no primary already serving."""
    pool = standby_pool("manual")
    d = decide([UP, UP, UP], applied=[100, 100, 0], overrides={IDS[1]: Action.PIN}, pool=pool)
    assert weights(d) == [100, 100, 0]


def test_manual_hold_ends_when_the_standby_itself_dies() -> None:
    d = decide([UP, DOWN, UP], applied=[0, 100, 0], pool=standby_pool("manual"))
    assert weights(d) == [100, 0, 0]


def test_a_restart_keeps_an_active_standby_from_what_route53_holds() -> None:
    """No evidence yet for the primary at 0: the standby Route 53 holds active stays."""
    d = decide([UNKNOWN, UP, UP], applied=[0, 100, 0], pool=standby_pool())
    assert weights(d) == [0, 100, 0]


def test_a_foreign_set_that_counts_as_serving_keeps_the_pool_from_failing_open() -> None:
    d = policy.decide(
        POOL,
        dict.fromkeys(IDS, DOWN),
        dict.fromkeys(IDS, 100),
        {},
        frozen=False,
        now=0.0,
        foreign_serving=True,
    )
    assert not d.failed_open
    assert weights(d) == [0, 0, 0]


def test_serving_counts_a_standby_that_can_take_over_a_drain() -> None:
    pool = standby_pool()
    drained = {IDS[0]: Override(OriginKey("www", IDS[0]), Action.DRAIN, "o", 0.0, "t")}
    assert policy.serving(pool, {IDS[0]: 100, IDS[1]: 0, IDS[2]: 0}, drained) == 2


def test_a_standby_with_no_evidence_yet_keeps_what_route53_has() -> None:
    d = decide([UP, UNKNOWN, UP], applied=[100, 100, 100], pool=standby_pool())
    assert weights(d) == [100, 100, 0]


def test_a_down_verdict_from_before_a_blind_spell_lowers_no_weight_until_a_failure_confirms_it() -> (
    None
):
    """After a blind spell the origin may be back: its old verdict keeps what
    Route 53 holds; a failure seen since makes it current again, and it goes to 0 at once."""
    stale = Health(state=State.DOWN, down_since=0.0, hold_down=30.0, stale=True)
    d = policy.decide(
        POOL, {IDS[0]: stale}, {IDS[0]: 100, IDS[1]: 100, IDS[2]: 100}, {}, frozen=False, now=1000.0
    )
    assert d.weights()[IDS[0]] == 100
    assert not d.failed_open
    confirmed = health.step(stale, Outcome.TIMEOUT, 1000.0, HealthSettings())
    assert not confirmed.stale
    d = policy.decide(
        POOL,
        {IDS[0]: confirmed},
        {IDS[0]: 100, IDS[1]: 100, IDS[2]: 100},
        {},
        frozen=False,
        now=1000.0,
    )
    assert d.weights()[IDS[0]] == 0


def test_a_weight_kept_on_a_stale_verdict_does_not_stop_the_pool_failing_open() -> None:
    """Every origin down, one of them only stale: the pool stays failed open, not recovered."""
    stale = Health(state=State.DOWN, down_since=0.0, hold_down=30.0, stale=True)
    down = Health(state=State.DOWN, down_since=0.0, hold_down=30.0)
    d = policy.decide(
        POOL,
        {IDS[0]: stale, IDS[1]: down, IDS[2]: down},
        {IDS[0]: 100, IDS[1]: 50, IDS[2]: 10},
        {},
        frozen=False,
        now=1000.0,
    )
    assert d.failed_open
