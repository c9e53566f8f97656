"""Pure reading of Route 53's answers: settling changes whose answer was lost, drift, strangers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from failover.core import events
from failover.core.events import Event
from failover.core.plan import Sets, describe, ttl_mismatch, unknown_sets
from failover.model import Change, OriginKey, Pool


@dataclass(frozen=True)
class Pending:
    """A change sent whose answer never came: it may or may not have landed."""

    change_id: str
    change: Change


@dataclass(frozen=True)
class Read:
    """What one read of a pool's record tells: settled changes, drift, and what to say."""

    settled: frozenset[OriginKey]
    drifted: frozenset[OriginKey]
    events: tuple[Event, ...]


def absorb(
    pool: Pool,
    before: Sets | None,
    after: Sets,
    unsettled: Mapping[OriginKey, Pending],
    *,
    other: tuple[str, ...] = (),
    resync: bool,
) -> Read:
    """Compare a fresh read of `pool` with what was held and what was in flight.

    Every change in doubt for the pool is decided by the read: applied if Route 53
    holds what it wrote (logged as applied, under its own change id), else dropped
    (the next round decides again). On a resync, a set that differs from what we
    held, and that no settled change explains, has drifted: someone else wrote it.
    """
    said: list[Event] = []
    settled: set[OriginKey] = set()
    for o in pool.origins:
        pending = unsettled.get(o.key)
        if pending is not None and after.get(o.id) == pending.change.new:
            settled.add(o.key)
            said.append(
                events.warning(
                    "weights_applied",
                    change_id=pending.change_id,
                    route53_change="unknown (answer lost)",
                    changes=[describe(pending.change)],
                )
            )
    drifted: set[OriginKey] = set()
    if before is not None and resync:
        for o in pool.origins:
            old, new = before.get(o.id), after.get(o.id)
            if old != new and o.key not in settled:
                drifted.add(o.key)
                said.append(
                    events.warning(
                        "drift_detected",
                        pool=pool.name,
                        origin=o.id,
                        expected=None if old is None else old.weight,
                        found=None if new is None else new.weight,
                        found_ttl=None if new is None else new.ttl,
                    )
                )
    strangers = unknown_sets(pool, after)
    if resync and (strangers or other):
        said.append(
            events.warning(
                "unknown_records_found",
                pool=pool.name,
                record=pool.record,
                sets=strangers,
                other=list(other),
            )
        )
    kept = ttl_mismatch(pool, after) if resync else None
    if kept is not None:
        # Weighted sets share one TTL and some are not the daemon's: it writes theirs.
        said.append(
            events.warning(
                "ttl_mismatch",
                pool=pool.name,
                record=pool.record,
                ttl=kept,
                configured=pool.ttl,
                sets=strangers,
            )
        )
    return Read(frozenset(settled), frozenset(drifted), tuple(said))
