"""Pure weight policy: health and operator overrides in, desired weights out, safety rules applied."""

from __future__ import annotations

from collections.abc import Mapping

from failover.health import slow_start_fraction
from failover.model import (
    Action,
    Decision,
    Desired,
    Health,
    Origin,
    OriginKey,
    Override,
    Pool,
    ProbeResult,
    State,
)


def blind(results: Mapping[OriginKey, ProbeResult]) -> bool:
    """True when not one probe got an HTTP answer: the prober's own network is suspect.

    Any HTTP answer, even a 503, proves the network works; only a round in which
    every probe of every origin failed at the transport level freezes writes.
    """
    return bool(results) and all(r.outcome.transport_failure for r in results.values())


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
            decisions=tuple(Decision(o.key, None, "frozen") for o in pool.origins),
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
        decisions=tuple(Decision(o.key, o.weight, "failed_open") for o in pool.origins),
        failed_open=True,
    )


def _decide_origin(
    origin: Origin, h: Health, applied: int | None, override: Override | None, now: float
) -> Decision:
    if override is not None and override.action is Action.PIN:
        return Decision(origin.key, origin.weight, "pinned")
    if override is not None and override.action is Action.DRAIN:
        return Decision(origin.key, 0, "drained")
    if h.state is State.UNKNOWN:
        # No evidence yet: keep what Route 53 has (or wait, if the set is missing).
        return Decision(origin.key, applied, "unknown")
    if h.state is State.DOWN:
        return Decision(origin.key, 0, "down")
    fraction = slow_start_fraction(h, origin.health, now)
    if fraction >= 1.0 or origin.weight == 0:
        return Decision(origin.key, origin.weight, "up")
    return Decision(origin.key, max(1, round(origin.weight * fraction)), "slow_start")


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
