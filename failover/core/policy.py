"""Pure weight policy: health and operator overrides in, desired weights out, safety rules applied."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from failover.core import events
from failover.core.events import Event
from failover.core.health import slow_start_fraction
from failover.model import (
    Action,
    Decision,
    Desired,
    Health,
    Origin,
    Override,
    Pool,
    Reason,
    State,
)


def decide(
    pool: Pool,
    health: Mapping[str, Health],
    applied: Mapping[str, int | None],
    overrides: Mapping[str, Override],
    *,
    frozen: bool,
    now: float,
    foreign_serving: bool = False,
) -> Desired:
    """The weights `pool` should carry, by origin id, with the reason for each.

    Precedence, first that applies wins: frozen, pinned, drained, unknown, health;
    then the standby rule (`_standby`); then the pool rule: a result that leaves
    nothing serving fails open, unless a set the config does not own counts as
    serving (`foreign_serving`, see `plan.foreign_serving`).
    """
    if frozen:
        return Desired(
            pool=pool.name,
            decisions=tuple(Decision(o.key, None, Reason.FROZEN) for o in pool.origins),
            frozen=True,
        )
    own = {
        o.id: _decide_origin(
            o, health.get(o.id, Health()), applied.get(o.id), overrides.get(o.id), now
        )
        for o in pool.origins
    }
    decisions = _standby(pool, own, applied, overrides)
    # A weight kept on a stale down verdict is no sign of life: it does not stop the
    # pool failing open (nor its flag flipping while the verdict awaits confirmation).
    if sum(d.weight or 0 for d in decisions if d.reason is not Reason.STALE) > 0 or foreign_serving:
        return Desired(pool=pool.name, decisions=decisions)
    # Every weight at 0 would make Route 53 spread answers over dead and live
    # origins alike and lose the intended weights: keep the configured ones, the
    # record as it is in normal service (primaries at their weights, standbys idle).
    # Standbys were considered first: they are all out too by now.
    return Desired(
        pool=pool.name,
        decisions=tuple(
            Decision(o.key, 0 if o.standby else o.weight, Reason.FAILED_OPEN) for o in pool.origins
        ),
        failed_open=True,
    )


def _carries(d: Decision, applied: int | None) -> bool:
    """Whether an origin carries weight after this round (no opinion: what Route 53 holds)."""
    return (d.weight if d.weight is not None else applied or 0) > 0


def _full(o: Origin, d: Decision, applied: int | None) -> bool:
    """Whether a serving primary carries all of its weight (not part-way up a slow start)."""
    if d.reason is Reason.SLOW_START:
        return False
    if d.weight is None:
        return (applied or 0) >= o.weight
    return True


def _standby(
    pool: Pool,
    own: Mapping[str, Decision],
    applied: Mapping[str, int | None],
    overrides: Mapping[str, Override],
) -> tuple[Decision, ...]:
    """Each origin's decision once standbys are applied: idle, active, or holding the pool.

    A standby carries weight only while every primary is out, the first that can
    in the config's order; the others stay idle. Hand-back: with `failback = "auto"`
    an active standby keeps its weight while the primaries come back in slow start,
    and goes idle once one carries its full weight (the primaries' hold-down and slow
    start apply as to any recovery). With `failback = "manual"` a standby that
    Route 53 holds active keeps the pool, the primaries held at 0, until an operator
    pins a primary. Route 53's weights are the memory: nothing survives a restart
    that is not in the record.
    """
    if not pool.standbys:
        return tuple(own[o.id] for o in pool.origins)
    out = dict(own)

    def pinned(o: Origin) -> bool:
        ov = overrides.get(o.id)
        return ov is not None and ov.action is Action.PIN

    active = [s for s in pool.standbys if (applied.get(s.id) or 0) > 0 and own[s.id].weight != 0]
    if pool.failback == "manual" and active and not any(pinned(p) for p in pool.primaries):
        for p in pool.primaries:
            # Only a primary coming back is held: one Route 53 still has serving (the
            # standby made active by a pin or by hand) is not taken out for it.
            if own[p.id].weight and not applied.get(p.id):
                out[p.id] = Decision(p.key, 0, Reason.HELD)
    serving = [p for p in pool.primaries if _carries(out[p.id], applied.get(p.id))]
    full = [p for p in serving if _full(p, out[p.id], applied.get(p.id))]
    chosen: Origin | None = None
    if not serving:
        chosen = next((s for s in pool.standbys if _carries(own[s.id], applied.get(s.id))), None)
    elif not full and active:
        chosen = active[0]  # hand-back under way: it serves until a primary is at full weight
    for s in pool.standbys:
        d = own[s.id]
        if s is chosen or d.weight == 0:
            if d.reason is Reason.UP and s is chosen:
                out[s.id] = Decision(s.key, d.weight, Reason.ACTIVE)
            continue
        if d.reason in (Reason.PINNED, Reason.UNKNOWN):
            # A pinned standby carries its weight whatever the primaries do; one with
            # no evidence yet keeps what Route 53 has, as any origin does.
            continue
        out[s.id] = Decision(s.key, 0, Reason.STANDBY)
    return tuple(out[o.id] for o in pool.origins)


def _decide_origin(
    origin: Origin, h: Health, applied: int | None, override: Override | None, now: float
) -> Decision:
    if override is not None and override.action is Action.PIN:
        return Decision(origin.key, origin.weight, Reason.PINNED)
    if override is not None and override.action is Action.DRAIN:
        return Decision(origin.key, 0, Reason.DRAINED)
    if h.state is State.UNKNOWN:
        # No evidence yet: keep what Route 53 has (or wait, if the set is missing).
        return Decision(origin.key, applied, Reason.UNKNOWN)
    if h.state is State.DOWN and h.stale:
        # Down was decided before a blind spell (writes frozen, so perhaps never
        # written); the origin may have come back meanwhile. Nothing is lowered on
        # that old verdict: a failure seen since confirms it at once (a dead origin's
        # first probe after the spell), `rise` successes end it.
        return Decision(origin.key, applied, Reason.STALE)
    if h.state is State.DOWN:
        return Decision(origin.key, 0, Reason.DOWN)
    fraction = slow_start_fraction(h, origin.health, now)
    if fraction >= 1.0 or origin.weight == 0:
        return Decision(origin.key, origin.weight, Reason.UP)
    return Decision(origin.key, max(1, round(origin.weight * fraction)), Reason.SLOW_START)


def open_edge(was_open: bool, desired: Desired) -> tuple[Desired, list[Event]]:
    """The pool's failed-open flag carried across rounds, and the events of its edges.

    A frozen round gives no verdict: the pool stays as it was, failed open or not.
    """
    if desired.frozen:
        return dataclasses.replace(desired, failed_open=was_open), []
    if desired.failed_open and not was_open:
        reason = "no origin would carry weight"
        return desired, [events.error("pool_failed_open", pool=desired.pool, reason=reason)]
    if was_open and not desired.failed_open:
        return desired, [events.warning("pool_recovered", pool=desired.pool)]
    return desired, []


def serving(pool: Pool, weights: Mapping[str, int], overrides: Mapping[str, Override]) -> int:
    """How many origins of `pool` would still carry weight once the overrides apply.

    A standby not drained counts: with every primary drained the daemon gives the
    first live one its weight (if none is live, the pool fails open).
    """
    count = 0
    for o in pool.origins:
        ov = overrides.get(o.id)
        if ov is not None and ov.action is Action.DRAIN:
            continue
        w = o.weight if ov is not None and ov.action is Action.PIN else weights.get(o.id, 0)
        count += w > 0 or (o.standby and o.weight > 0)
    return count
