"""Planning: diff against what Route 53 holds, the all-zero gate, batching within limits."""

from __future__ import annotations

import dataclasses

import pytest

from failover.core import plan
from failover.core.batch import Batch
from failover.model import Change, Decision, Desired, Health, Pool, Reason, State, WeightedSet
from failover.stages.write import owned
from tests.factories import make_config, make_pool, pool_plans, wset

POOL = make_pool()
A, B, C = (o.id for o in POOL.origins)


def desired(*weights: int | None, reason: str = "up") -> Desired:
    return Desired(
        POOL.name,
        tuple(Decision(o.key, w, reason) for o, w in zip(POOL.origins, weights, strict=True)),
    )


UP_ALL = {o.id: Health(State.UP, successes=2) for o in POOL.origins}


def make(
    now: dict[str, WeightedSet], health: dict[str, Health], *, overrides_known: bool = True
) -> plan.Plan:
    return plan.make(
        make_config(POOL),
        {POOL.name: now},
        {POOL.origin(k).key: h for k, h in health.items()},
        {},
        overrides_known=overrides_known,
        frozen=False,
        was_open={},
        now=1000.0,
    )


def current(*weights: int) -> dict[str, WeightedSet]:
    return {o.id: wset(POOL, o.id, w) for o, w in zip(POOL.origins, weights, strict=True)}


def test_no_change_when_route53_already_holds_the_desired_weights() -> None:
    assert plan.diff(POOL, current(100, 100, 100), desired(100, 100, 100)) == []


def test_a_weight_change_replaces_exactly_the_set_it_read() -> None:
    now = current(100, 100, 100)
    [c] = plan.diff(POOL, now, desired(0, 100, 100, reason="down"))
    assert c.old == now[A]
    assert c.new.weight == 0
    assert c.reason == "down"


def test_a_missing_configured_set_is_created_with_the_pool_ttl() -> None:
    now = current(100, 100, 100)
    del now[B]
    [c] = plan.diff(POOL, now, desired(100, 100, 100))
    assert c.old is None
    assert c.new.ttl == POOL.ttl
    assert c.reason == "missing"


def test_a_weight_change_carries_the_ttl_the_group_holds_never_the_configured_one() -> None:
    now = {o.id: wset(POOL, o.id, 100, ttl=300) for o in POOL.origins}
    [c] = plan.diff(POOL, now, desired(0, 100, 100, reason="down"))
    assert (c.old, c.new.weight, c.new.ttl) == (now[A], 0, 300)


def test_a_set_created_beside_others_takes_their_ttl() -> None:
    now = {o.id: wset(POOL, o.id, 100, ttl=300) for o in POOL.origins if o.id != B}
    [c] = plan.diff(POOL, now, desired(100, 100, 100))
    assert (c.old, c.new.set_id, c.new.ttl) == (None, B, 300)


def test_a_drifted_ttl_is_corrected_for_every_set_at_once_in_a_batch_of_its_own() -> None:
    now = {o.id: wset(POOL, o.id, 100, ttl=300) for o in POOL.origins}
    decided = make(now, UP_ALL)
    [batch] = decided.batches
    assert {c.new.set_id for c in batch.changes} == {A, B, C}
    assert all(c.reason == "ttl_drift" and c.old == now[c.new.set_id] for c in batch.changes)
    assert all(c.new == dataclasses.replace(c.old, ttl=POOL.ttl) for c in batch.changes)  # type: ignore[arg-type]


def test_a_ttl_correction_waits_for_a_round_without_weight_changes() -> None:
    now = {o.id: wset(POOL, o.id, 100, ttl=300) for o in POOL.origins}
    decided = make(now, {**UP_ALL, A: Health(State.DOWN, failures=3, down_since=0.0)})
    [batch] = decided.batches
    assert [(c.new.set_id, c.new.weight, c.new.ttl) for c in batch.changes] == [(A, 0, 300)]


def _apply(sets: dict[str, WeightedSet], batch: plan.Batch) -> dict[str, WeightedSet]:
    out = dict(sets)
    for c in batch.changes:
        out[c.new.set_id] = c.new
    return out


@pytest.mark.parametrize("foreign", [False, True])
@pytest.mark.parametrize("known", [True, False])
@pytest.mark.parametrize(
    "states",
    [(State.UP,) * 3, (State.DOWN, State.UP, State.UP), (State.UP, State.UNKNOWN, State.DOWN)],
)
def test_no_batch_leaves_the_weighted_group_with_two_ttls_nor_mixes_ttl_and_weight(
    foreign: bool, known: bool, states: tuple[State, ...]
) -> None:
    """Raises held while overrides are unread, no opinion, a foreign set: one TTL after each batch."""
    now = {
        o.id: wset(POOL, o.id, w, ttl=300) for o, w in zip(POOL.origins, (0, 100, 100), strict=True)
    }
    if foreign:
        now["legacy"] = WeightedSet(POOL.record, "legacy", 10, 300, ("x",))
    health = {
        o.id: Health(
            s, failures=3 if s is State.DOWN else 0, down_since=0.0 if s is State.DOWN else None
        )
        for o, s in zip(POOL.origins, states, strict=True)
    }
    for batch in make(now, health, overrides_known=known).batches:
        kinds = {c.reason == "ttl_drift" for c in batch.changes}
        assert len(kinds) == 1, batch
        now = _apply(now, batch)
        assert len({s.ttl for s in now.values()}) == 1, now


def test_with_a_set_the_daemon_does_not_own_the_ttl_is_kept_and_reported() -> None:
    now = {o.id: wset(POOL, o.id, 100, ttl=300) for o in POOL.origins}
    now["legacy"] = WeightedSet(POOL.record, "legacy", 10, 300, ("x",))
    assert make(now, UP_ALL).batches == ()
    assert plan.ttl_mismatch(POOL, now) == 300
    assert plan.ttl_mismatch(POOL, current(100, 100, 100)) is None


def test_a_ttl_correction_refused_in_part_by_a_conflict_is_not_resent_in_part() -> None:
    now = {o.id: wset(POOL, o.id, 100, ttl=300) for o in POOL.origins}
    [batch] = make(now, UP_ALL).batches
    fresh = dict(now)
    fresh[B] = wset(POOL, B, 7, ttl=300)  # a human changed B meanwhile
    after = plan.after_conflict(make_config(POOL), batch, {POOL.name: fresh}, "c1")
    assert after.resend is None
    assert {c.new.set_id for c in after.lost} == {A, B, C}


def test_no_opinion_means_no_change() -> None:
    assert plan.diff(POOL, current(5, 100, 100), desired(None, 100, 100)) == []


def test_sets_the_config_does_not_know_are_reported_and_never_touched() -> None:
    now = current(100, 100, 100)
    now["legacy"] = WeightedSet(
        POOL.record, "legacy", 10, POOL.ttl, ("x.s3.eu-west-1.amazonaws.com",)
    )
    changes = plan.diff(POOL, now, desired(0, 0, 100))
    assert all(c.new.set_id != "legacy" for c in changes)
    assert plan.unknown_sets(POOL, now) == ["legacy"]


def test_the_gate_refuses_changes_that_leave_every_weight_at_zero() -> None:
    now = current(100, 0, 0)
    changes = plan.diff(POOL, now, desired(0, 0, 0))
    assert plan.gate(now, changes) is not None


def test_the_gate_counts_sets_outside_the_config() -> None:
    now = current(100, 0, 0)
    now["legacy"] = WeightedSet(POOL.record, "legacy", 10, POOL.ttl, ("x",))
    assert plan.gate(now, plan.diff(POOL, now, desired(0, 0, 0))) is None


def test_the_gate_allows_a_safe_change() -> None:
    now = current(100, 100, 0)
    assert plan.gate(now, plan.diff(POOL, now, desired(0, 100, 0))) is None


def change(i: int, value: str = "b.s3.eu-west-1.amazonaws.com", per_pool: int = 100) -> Change:
    pool = f"p{i // per_pool}"
    old = WeightedSet(pool, f"s{i}", 1, 60, (value,))
    return Change(pool, old, WeightedSet(pool, f"s{i}", 0, 60, (value,)), "down")


def batches(changes: list[Change]) -> list[plan.Batch]:
    return plan.batches("Z1", pool_plans(changes))


def test_batches_respect_the_element_limit_and_keep_each_pool_whole() -> None:
    changes = [change(i) for i in range(1200)]  # 2 elements each, 12 pools of 100
    out = batches(changes)
    assert [len(b.changes) for b in out] == [500, 500, 200]
    assert [c for b in out for c in b.changes] == changes


def test_batches_respect_the_character_limit() -> None:
    changes = [change(i, "v" * 198, per_pool=10) for i in range(200)]  # 2 x 200 characters each
    out = batches(changes)
    assert [len(b.changes) for b in out] == [80, 80, 40]
    for b in out:
        assert sum(plan.cost(c)[1] for c in b.changes) <= plan.MAX_CHARS


def test_one_request_is_enough_when_everything_fits() -> None:
    assert len(batches([change(i) for i in range(10)])) == 1
    assert batches([]) == []


def test_a_lowering_change_is_guarded_by_the_heaviest_set_left_serving() -> None:
    now = current(100, 50, 100)
    changes = plan.diff(POOL, now, desired(0, 50, 100, reason="down"))
    [guard] = plan.guards(POOL, now, changes)
    assert guard.held == now[C]
    assert guard.pool == POOL.name


def test_no_guard_when_nothing_is_lowered_or_a_swap_already_pins_a_serving_set() -> None:
    now = current(0, 100, 100)
    assert plan.guards(POOL, now, plan.diff(POOL, now, desired(100, 100, 100))) == []
    swap = plan.diff(POOL, now, desired(100, 0, 100))  # A up, B down: A's swap pins A
    assert plan.guards(POOL, now, swap) == []


# -- raises held while the overrides are unread ------------------------------------------
UP, DOWN = Health(State.UP), Health(State.DOWN, down_since=0.0, hold_down=30.0)


def held_plan(now: dict[str, WeightedSet], health: dict[str, Health]) -> plan.PoolPlan:
    return plan.plan_pool(
        POOL,
        now,
        health,
        {},
        overrides_known=False,
        frozen=False,
        was_open=False,
        now=1000.0,
        said=[],
    )


def test_raises_are_held_while_the_overrides_are_unread_if_another_origin_still_serves() -> None:
    """A recovered origin waits (a drain may be in force): a healthy one serves meanwhile."""
    p = held_plan(current(100, 0, 100), {A: UP, B: UP, C: UP})
    assert [c.new.set_id for c in p.held] == [B]
    assert p.changes == ()
    assert not p.refused


def test_held_raises_never_keep_the_pool_on_its_dead_last_serving_origin() -> None:
    """Replacing the last serving origin needs a raise: it is never held, nor the gate refused."""
    p = held_plan(current(100, 0, 0), {A: DOWN, B: UP, C: UP})
    assert p.held == ()
    assert not p.refused
    assert {c.new.set_id: c.new.weight for c in p.changes} == {A: 0, B: 100, C: 100}


def test_held_raises_never_stop_a_pool_from_failing_open() -> None:
    """Every origin down: the pool fails open to its configured weights, raises included."""
    p = held_plan(current(100, 0, 0), {A: DOWN, B: DOWN, C: DOWN})
    assert p.desired.failed_open
    assert p.held == ()
    assert {c.new.set_id: c.new.weight for c in p.changes} == {B: 100, C: 100}


def test_a_hand_back_waits_whole_while_the_overrides_are_unread() -> None:
    """A restarted daemon finds the standby serving and the primary at 0, perhaps drained:
    the primary's raise and the standby going idle both wait; the standby keeps serving."""
    pool = dataclasses.replace(
        POOL,
        origins=(
            POOL.origins[0],
            *(dataclasses.replace(o, standby=True) for o in POOL.origins[1:]),
        ),
    )
    now = {o.id: wset(pool, o.id, w) for o, w in zip(pool.origins, (0, 100, 0), strict=True)}
    p = plan.plan_pool(
        pool,
        now,
        {A: UP, B: UP, C: UP},
        {},
        overrides_known=False,
        frozen=False,
        was_open=False,
        now=1000.0,
        said=[],
    )
    assert p.changes == ()
    assert {c.new.set_id: c.new.weight for c in p.held} == {A: 100, B: 0}
    known = plan.plan_pool(
        pool,
        now,
        {A: UP, B: UP, C: UP},
        {},
        overrides_known=True,
        frozen=False,
        was_open=False,
        now=1000.0,
        said=[],
    )
    assert {c.new.set_id: c.new.weight for c in known.changes} == {A: 100, B: 0}


# ---- sets the config does not own: foreign serving sets, ghosts, retirement ----------------

DOWN_ALL = {o.id: Health(State.DOWN) for o in POOL.origins}


def foreign(set_id: str, value: str, weight: int = 100) -> WeightedSet:
    return WeightedSet(POOL.record, set_id, weight, POOL.ttl, (value,))


def plan_of(pool: Pool, now: dict[str, WeightedSet], health: dict[str, Health]) -> plan.PoolPlan:
    out = plan.make(
        make_config(pool),
        {pool.name: now},
        {pool.origin(k).key: h for k, h in health.items()},
        {},
        overrides_known=True,
        frozen=False,
        was_open={},
        now=1000.0,
    )
    return out.pools[pool.name]


def test_a_foreign_set_naming_a_live_configured_bucket_keeps_the_pool_from_failing_open() -> None:
    ghost = foreign("old-a", POOL.origin(A).endpoint)
    health = {**DOWN_ALL, A: Health(State.UP, successes=2)}
    health_b = {A: DOWN_ALL[A], B: DOWN_ALL[B], C: DOWN_ALL[C]}
    assert plan.foreign_serving(POOL, {**current(0, 0, 0), "old-a": ghost}, health) == ["old-a"]
    assert plan.foreign_serving(POOL, {**current(0, 0, 0), "old-a": ghost}, health_b) == []


def test_a_ghost_of_a_dead_bucket_does_not_stop_the_pool_failing_open() -> None:
    """Every owned origin down, the ghost's bucket too: fail open, as with no ghost at all."""
    now = {**current(100, 100, 100), "old-a": foreign("old-a", POOL.origin(A).endpoint)}
    p = plan_of(POOL, now, DOWN_ALL)
    assert p.desired.failed_open


def test_a_foreign_set_naming_no_bucket_counts_only_when_the_pool_trusts_unowned_sets() -> None:
    now = {**current(100, 100, 100), "cdn": foreign("cdn", "elsewhere.example.net")}
    assert plan_of(POOL, now, DOWN_ALL).desired.failed_open
    trusting = dataclasses.replace(POOL, trust_unowned=True)
    p = plan_of(trusting, now, DOWN_ALL)
    assert not p.desired.failed_open
    assert {c.new.set_id: c.new.weight for c in p.changes} == {A: 0, B: 0, C: 0}
    assert not p.refused  # the trusted set keeps the record serving


def test_a_foreign_set_at_weight_zero_never_counts_as_serving() -> None:
    trusting = dataclasses.replace(POOL, trust_unowned=True)
    now = {**current(100, 100, 100), "cdn": foreign("cdn", "x.example.net", weight=0)}
    assert plan_of(trusting, now, DOWN_ALL).desired.failed_open


def test_ghosts_are_the_unowned_sets_whose_value_is_an_owned_bucket() -> None:
    now = {
        **current(100, 100, 100),
        "old-a": foreign("old-a", POOL.origin(A).endpoint),
        "cdn": foreign("cdn", "x.example.net"),
    }
    assert plan.ghosts(POOL, now) == ["old-a"]


def test_a_previous_id_is_retired_to_weight_zero_and_never_counts_as_serving() -> None:
    pool = dataclasses.replace(POOL, previous_ids=("old-a",))
    ghost = foreign("old-a", pool.origin(A).endpoint)
    p = plan_of(pool, {**current(100, 100, 100), "old-a": ghost}, UP_ALL)
    assert [(c.new.set_id, c.new.weight, c.reason) for c in p.changes] == [("old-a", 0, "retired")]
    assert plan.foreign_serving(pool, {"old-a": ghost}, UP_ALL) == []


def test_retiring_the_last_set_serving_travels_with_the_owned_sets_taking_over() -> None:
    """The ghost is the only set serving: it goes to 0 in the batch that fails the pool open."""
    pool = dataclasses.replace(POOL, previous_ids=("old-a",))
    now = {**current(0, 0, 0), "old-a": foreign("old-a", pool.origin(A).endpoint)}
    p = plan_of(pool, now, {A: Health(), B: Health(), C: Health()})
    assert not p.refused
    assert {c.new.set_id: c.new.weight for c in p.changes} == {A: 100, B: 100, C: 100, "old-a": 0}


def test_the_writer_lets_a_previous_id_be_written_and_no_other_unowned_set() -> None:
    pool = dataclasses.replace(POOL, previous_ids=("old-a",))
    ghost = foreign("old-a", pool.origin(A).endpoint)
    other = foreign("cdn", "x.example.net")
    retire = Change(pool.name, ghost, dataclasses.replace(ghost, weight=0), Reason.RETIRED)
    stray = Change(pool.name, other, dataclasses.replace(other, weight=0), Reason.DOWN)
    kept, refused = owned(make_config(pool), Batch(pool.zone_id, (retire,)))
    assert kept.changes == (retire,)
    assert not refused
    kept, refused = owned(make_config(pool), Batch(pool.zone_id, (stray,)))
    assert kept.changes == ()
    assert refused
