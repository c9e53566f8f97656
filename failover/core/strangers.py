"""Pure rules for the sets under a pool's name that the config does not own: strangers, ghosts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from failover.model import Change, Health, Pool, Reason, State, WeightedSet

Sets = Mapping[str, WeightedSet]  # one record's weighted sets, by SetIdentifier


def foreign_serving(pool: Pool, current: Sets, health: Mapping[str, Health]) -> list[str]:
    """The sets the config does not own that count as serving: the pool does not fail open.

    The daemon cannot probe what a foreign set points at. One whose value is a
    configured bucket's endpoint (a ghost left by a renamed origin, or a copy made
    by hand) is as alive as that origin: it counts only while the origin is up. Any
    other counts only when the pool says it trusts sets it does not own. A set of a
    previous id is being retired and never counts.
    """
    by_endpoint = {o.endpoint: o for o in pool.origins}
    out: list[str] = []
    for sid in unknown_sets(pool, current):
        s = current[sid]
        if s.weight <= 0 or sid in pool.previous_ids:
            continue
        named = [by_endpoint[v] for v in s.values if v in by_endpoint]
        if named:
            if all(health.get(o.id, Health()).state is State.UP for o in named):
                out.append(sid)
        elif pool.trust_unowned:
            out.append(sid)
    return out


def ghosts(pool: Pool, current: Sets) -> list[str]:
    """Sets the config does not own whose value is one of its origins' bucket endpoints.

    Renaming an origin's id leaves such a set behind: it still sends answers to the
    bucket, and the daemon no longer moves its weight. List the old id in the pool's
    `previous_ids` to have it retired (taken to weight 0).
    """
    endpoints = {o.endpoint for o in pool.origins}
    return [sid for sid in unknown_sets(pool, current) if endpoints & set(current[sid].values)]


def retire(pool: Pool, current: Sets) -> list[Change]:
    """Each set of a previous id (`pool.previous_ids`) still carrying weight, to weight 0.

    The gate judges these with the pool's other changes: a ghost that is the last
    set serving is not taken to 0 until an owned origin serves.
    """
    return [
        Change(pool.name, s, dataclasses.replace(s, weight=0), Reason.RETIRED)
        for sid, s in sorted(current.items())
        if sid in pool.previous_ids and s.weight > 0
    ]


def unknown_sets(pool: Pool, current: Sets) -> list[str]:
    """Set identifiers under the pool's name that the config does not name."""
    known = {o.id for o in pool.origins}
    return sorted(s for s in current if s not in known)


@dataclass(frozen=True)
class Deletion:
    """What `failover retire` does for one pool: the retired sets to delete, or why not."""

    pool: str
    delete: tuple[WeightedSet, ...] = ()  # sets of previous ids at weight 0, exactly as read
    waiting: tuple[WeightedSet, ...] = ()  # sets of previous ids the daemon has not yet taken to 0
    guard: WeightedSet | None = None  # an owned set left serving, pinned in the same batch
    refused: str = ""  # why nothing may be deleted ("" = it may)


def deletion(pool: Pool, current: Sets) -> Deletion:
    """The sets of previous ids that can be deleted now: at weight 0, with an owned set serving.

    Only a set the daemon has retired (weight 0) goes; one still carrying weight waits
    for the daemon. The delete carries the set exactly as read, and the heaviest owned
    set left serving rides in the same batch unchanged: should either have changed since
    it was read, Route 53 refuses the whole batch and nothing is deleted. With no owned
    set serving there is nothing to pin, and the deletion is refused.
    """
    retired = [s for sid, s in sorted(current.items()) if sid in pool.previous_ids]
    delete = tuple(s for s in retired if s.weight == 0)
    waiting = tuple(s for s in retired if s.weight > 0)
    if not delete:
        return Deletion(pool.name, waiting=waiting)
    owned = {o.id for o in pool.origins}
    serving = [s for sid, s in current.items() if sid in owned and s.weight > 0]
    if not serving:
        ids = ", ".join(s.set_id for s in delete)
        why = f"no configured origin of pool {pool.name} carries weight: deleting {ids} now "
        why += "could leave the record with nothing serving; run again once one does"
        return Deletion(pool.name, waiting=waiting, refused=why)
    keep = max(serving, key=lambda s: (s.weight, s.set_id))
    return Deletion(pool.name, delete, waiting, keep)
