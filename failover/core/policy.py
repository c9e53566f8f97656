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
) -> Desired:
    """The weights `pool` should carry, by origin id, with the reason for each.

    Precedence, first that applies wins: frozen, pinned, drained, unknown, health;
    then the pool rule: a result that leaves no origin serving fails open.
    """
    if frozen:
        return Desired(
            pool=pool.name,
            decisions=tuple(Decision(o.key, None, Reason.FROZEN) for o in pool.origins),
            frozen=True,
        )
    decisions = tuple(
        _decide_origin(o, health.get(o.id, Health()), applied.get(o.id), overrides.get(o.id), now)
        for o in pool.origins
    )
    if sum(d.weight or 0 for d in decisions) > 0:
        return Desired(pool=pool.name, decisions=decisions)
    # Every weight at 0 would make Route 53 spread answers over dead and live
    # origins alike and lose the intended weights: keep the configured ones.
    return Desired(
        pool=pool.name,
        decisions=tuple(Decision(o.key, o.weight, Reason.FAILED_OPEN) for o in pool.origins),
        failed_open=True,
    )


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
    """How many origins of `pool` would still carry weight once the overrides apply."""
    count = 0
    for o in pool.origins:
        ov = overrides.get(o.id)
        if ov is not None and ov.action is Action.DRAIN:
            continue
        w = o.weight if ov is not None and ov.action is Action.PIN else weights.get(o.id, 0)
        count += w > 0
    return count
