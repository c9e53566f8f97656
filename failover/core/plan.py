"""Pure planning: what Route 53 holds vs what policy wants → one `Plan` of gated, batched swaps."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from failover.core import events, policy
from failover.core.batch import MAX_CHARS, MAX_ELEMENTS, Batch, batches, cost
from failover.core.events import Event
from failover.core.strangers import foreign_serving, ghosts, retire, unknown_sets
from failover.model import (
    Change,
    Config,
    Desired,
    Guard,
    Health,
    OriginKey,
    Override,
    Pool,
    Reason,
    WeightedSet,
)

__all__ = [  # batching lives in core/batch.py; the planner hands its units there
    "MAX_CHARS",
    "MAX_ELEMENTS",
    "AfterConflict",
    "Batch",
    "Plan",
    "PoolPlan",
    "Sets",
    "after_conflict",
    "batches",
    "cost",
    "describe",
    "diff",
    "foreign_serving",
    "gate",
    "ghosts",
    "guards",
    "make",
    "plan_pool",
    "retire",
    "target",
    "unknown_sets",
]

Sets = Mapping[str, WeightedSet]  # one record's weighted sets, by SetIdentifier


@dataclass(frozen=True)
class PoolPlan:
    """Policy's verdict for one pool and the changes it leads to, after every safety rule."""

    desired: Desired
    changes: tuple[Change, ...] = ()
    guards: tuple[Guard, ...] = ()
    held: tuple[Change, ...] = ()  # raises held back while the overrides are unread
    refused: str = ""  # why the gate refused the pool's changes ("" = it did not)
    retime: tuple[Change, ...] = ()  # every set to the pool's TTL: a batch of its own


@dataclass(frozen=True)
class Plan:
    """The one value the decide stage returns: per-pool verdicts, requests to send, events."""

    pools: Mapping[str, PoolPlan]
    batches: tuple[Batch, ...]
    events: tuple[Event, ...] = ()

    @property
    def changes(self) -> list[Change]:
        return [c for b in self.batches for c in b.changes]


def make(
    config: Config,
    records: Mapping[str, Sets],
    health: Mapping[OriginKey, Health],
    overrides: Mapping[OriginKey, Override],
    *,
    overrides_known: bool,
    frozen: bool,
    was_open: Mapping[str, bool],
    now: float,
    reserve: tuple[int, int] = (0, 0),
) -> Plan:
    """Everything the round should write, from the values it holds; the one entry point.

    `records` holds, by pool name, what Route 53 was last read to hold; a pool never
    read is left out (nothing is known to be applied, so nothing is decided).
    `reserve` is room (elements, characters) kept free in every request for what the
    writer adds to each batch (cluster mode's fence).
    """
    said: list[Event] = []
    pools: dict[str, PoolPlan] = {}
    for pool in config.pools:
        if pool.name not in records:
            continue
        p = plan_pool(
            pool,
            records[pool.name],
            {o.id: health.get(o.key, Health()) for o in pool.origins},
            {k.origin: v for k, v in overrides.items() if k.pool == pool.name},
            overrides_known=overrides_known,
            frozen=frozen,
            was_open=was_open.get(pool.name, False),
            now=now,
            said=said,
        )
        pools[pool.name] = p
    by_zone: dict[str, list[PoolPlan]] = {}
    for pool in config.pools:
        planned = pools.get(pool.name)
        if planned is not None and planned.changes:
            by_zone.setdefault(pool.zone_id, []).append(planned)
    out: list[Batch] = []
    for zone_id, plans in by_zone.items():
        out.extend(batches(zone_id, plans, MAX_ELEMENTS - reserve[0], MAX_CHARS - reserve[1]))
    # A TTL correction travels alone, after every weight: should Route 53 refuse it, no
    # failover is refused with it.
    out.extend(
        Batch(pool.zone_id, pools[pool.name].retime)
        for pool in config.pools
        if pool.name in pools and pools[pool.name].retime
    )
    return Plan(pools, tuple(out), tuple(said))


def plan_pool(
    pool: Pool,
    current: Sets,
    health: Mapping[str, Health],
    overrides: Mapping[str, Override],
    *,
    overrides_known: bool,
    frozen: bool,
    was_open: bool,
    now: float,
    said: list[Event],
) -> PoolPlan:
    """One pool's plan: decide, diff, hold unsafe raises, gate, guard."""
    applied = {o.id: (current[o.id].weight if o.id in current else None) for o in pool.origins}
    desired = policy.decide(
        pool,
        health,
        applied,
        overrides,
        frozen=frozen,
        now=now,
        foreign_serving=bool(foreign_serving(pool, current, health)),
    )
    desired, edge = policy.open_edge(was_open, desired)
    said.extend(edge)
    changes = diff(pool, current, desired)
    if not desired.frozen:
        changes += retire(pool, current)
    held: list[Change] = []
    # A standby going idle is the other half of a primary's raise (the hand-back): it
    # waits with it, and keeps serving meanwhile.
    idle = [c for c in changes if c.reason is Reason.STANDBY and c.lowers]
    rest = [c for c in changes if c not in idle]
    keep = {c.new.set_id for c in idle}
    if not overrides_known and not needs_raises(pool, current, desired, rest, keep):
        # Until the overrides have been read once, a drain may be in force: raising a
        # weight could undo it, so raises wait (lowering is always safe to do).
        held = [c for c in changes if c.raises] + idle
        changes = [c for c in rest if not c.raises]
        if held:
            said.append(
                events.warning(
                    "increase_held",
                    pool=pool.name,
                    origins=[c.new.set_id for c in held],
                    reason="overrides never read: a drain may be in force",
                )
            )
    unsafe = gate(current, changes)
    if unsafe is not None:
        said.append(events.error("writes_refused", pool=pool.name, reason=unsafe))
        return PoolPlan(desired, held=tuple(held), refused=unsafe)
    # The TTL is corrected only in a round that changes nothing else of the pool.
    later = changes or held or frozen or desired.frozen
    return PoolPlan(
        desired,
        tuple(changes),
        tuple(guards(pool, current, changes)),
        tuple(held),
        retime=() if later else tuple(retime(pool, current)),
    )


def needs_raises(
    pool: Pool,
    current: Sets,
    desired: Desired,
    changes: Sequence[Change],
    keep: frozenset[str] | set[str] = frozenset(),
) -> bool:
    """Whether the pool needs its raises to keep an origin serving: they are never held.

    A pool failing open needs them (every origin back at its configured weight), and
    so does a pool whose changes without their raises would leave none of the origins
    policy wants serving with any weight: the last serving origin being replaced. A
    drain that may be in force weighs less than a record serving only the dead. An
    active standby whose going idle waits with the raises (`keep`) serves meanwhile.
    """
    if desired.failed_open:
        return True
    after = {sid: s.weight for sid, s in current.items()}
    after.update((c.new.set_id, c.new.weight) for c in changes if not c.raises)
    wanted = [sid for sid, w in desired.weights().items() if w > 0] + sorted(keep)
    return bool(wanted) and not any(after.get(sid, 0) > 0 for sid in wanted)


def target(pool: Pool, origin_id: str, weight: int) -> WeightedSet:
    """The weighted set the daemon owns for one origin, as it should be."""
    origin = pool.origin(origin_id)
    return WeightedSet(
        name=pool.record, set_id=origin.id, weight=weight, ttl=pool.ttl, values=(origin.endpoint,)
    )


def diff(pool: Pool, current: Sets, desired: Desired) -> list[Change]:
    """Changes that take the pool's configured sets from `current` to `desired`.

    Sets under the name that the config does not know are never touched. A set
    whose value drifted from the config is corrected along with its weight. No
    change here alters a TTL: each carries the TTL the record's sets share now
    (see `retime` for correcting it), and every attribute the daemon does not own
    (a health check, …) exactly as read.
    """
    ttl = record_ttl(pool, current)
    changes: list[Change] = []
    for d in desired.decisions:
        if d.weight is None:
            continue
        have = current.get(d.key.origin)
        want = dataclasses.replace(
            target(pool, d.key.origin, d.weight),
            ttl=ttl,
            extra=() if have is None else have.extra,
        )
        if have == want:
            continue
        if (
            d.reason is Reason.UNKNOWN
            and have is not None
            and have.values != want.values
            and want.weight
        ):
            continue  # a new bucket gets weight only once it has answered a probe
        changes.append(
            Change(pool=pool.name, old=have, new=want, reason=_why(have, want, d.reason))
        )
    return changes


def record_ttl(pool: Pool, current: Sets) -> int:
    """The TTL every weight or value change carries: the one the record's sets hold now.

    "All of the resource record sets in a group of weighted resource record sets must
    have the same value for TTL." (API reference, ResourceRecordSet, TTL) A change
    that brought its own TTL would leave the group split and the batch, with the
    failover it carries, refused. A record with no set yet takes the pool's TTL.
    """
    foreign = [current[s].ttl for s in unknown_sets(pool, current)]
    if foreign:
        return foreign[0]
    if not current:
        return pool.ttl
    held = Counter(s.ttl for s in current.values())
    return max(held, key=lambda t: (held[t], t == pool.ttl, -t))


def retime(pool: Pool, current: Sets) -> list[Change]:
    """Every set of the record to the pool's TTL at once, or nothing.

    Only when the daemon owns every weighted set of the name: the batch then covers
    the whole group, so it leaves the group with one TTL. With a set it does not own
    under the name, the TTL is left as it is (and reported when the record is read).
    """
    if not current or unknown_sets(pool, current):
        return []
    if all(s.ttl == pool.ttl for s in current.values()):
        return []
    return [
        Change(pool.name, s, dataclasses.replace(s, ttl=pool.ttl), Reason.TTL_DRIFT)
        for _, s in sorted(current.items())
    ]


def ttl_mismatch(pool: Pool, current: Sets) -> int | None:
    """The TTL the record keeps against the config's, when it cannot be corrected."""
    if not unknown_sets(pool, current):
        return None
    ttl = record_ttl(pool, current)
    return None if ttl == pool.ttl else ttl


def guards(pool: Pool, current: Sets, changes: Sequence[Change]) -> list[Guard]:
    """A compare-and-swap of unchanged values that pins what the gate counted on.

    The gate judges against the record as last read. If a change lowers a weight,
    the heaviest set left serving travels in the same batch as DELETE+CREATE of
    exactly what was read: should anyone have changed it since, the batch is refused
    as a conflict (then re-read and re-decided) instead of landing on a record whose
    every weight is 0. One such set is enough to keep the record serving.
    """
    if not any(c.lowers for c in changes):
        return []
    after = {c.new.set_id: c.new for c in changes}
    if any(s.weight > 0 for s in after.values()):
        return []  # one of our own swaps already pins a serving set
    owned = {o.id for o in pool.origins}
    serving = [s for sid, s in current.items() if sid in owned - after.keys() and s.weight > 0]
    if not serving:
        # Only sets the config does not own still serve: those are never written, not
        # even unchanged, so nothing can pin them.
        return []
    keep = max(serving, key=lambda s: (s.weight, s.set_id))
    return [Guard(pool=pool.name, held=keep)]


def _why(have: WeightedSet | None, want: WeightedSet, reason: Reason) -> Reason:
    if have is None:
        return Reason.MISSING
    if have.weight != want.weight:
        return reason
    if have.ttl != want.ttl:
        return Reason.TTL_DRIFT
    return Reason.VALUE_DRIFT


def gate(current: Sets, changes: Sequence[Change]) -> str | None:
    """Why a pool's changes must not be written (None: they may); never leave every weight 0."""
    if not changes:
        return None
    after = dict(current)
    for c in changes:
        after[c.new.set_id] = c.new
    if any(s.weight > 0 for s in after.values()):
        return None
    return "every weight of the record would be 0"


@dataclass(frozen=True)
class AfterConflict:
    """What a batch refused as a conflict comes to, once the records are read again."""

    already: tuple[Change, ...]  # Route 53 holds them now: applied, by us or a peer
    resend: Batch | None  # what still matches what was read, gated and guarded again
    lost: tuple[Change, ...]  # someone else changed these sets: re-decided next round
    events: tuple[Event, ...]


def after_conflict(
    config: Config, batch: Batch, fresh: Mapping[str, Sets], change_id: str
) -> AfterConflict:
    """Re-decide a conflicting batch against fresh records: resend once what still matches.

    A lost race for one record must not block the others, so the changes whose
    sets still hold what they replace are sent again, through the gate and with
    their guards re-derived from the fresh records.
    """
    already: list[Change] = []
    resend: list[Change] = []
    lost: list[Change] = []
    said: list[Event] = []
    for c in batch.changes:
        now_held = fresh[c.pool].get(c.new.set_id)
        if now_held == c.new:
            # Already there: our earlier attempt landed (its answer was lost) or
            # another daemon that sees the same world wrote the same thing.
            already.append(c)
        elif now_held == c.old:
            resend.append(c)
        else:
            lost.append(c)
            said.append(
                events.warning(
                    "change_conflict",
                    change_id=change_id,
                    pool=c.pool,
                    origin=c.new.set_id,
                    expected=None if c.old is None else c.old.weight,
                    found=None if now_held is None else now_held.weight,
                    wanted=c.new.weight,
                )
            )
    for name in {c.pool for c in lost if c.reason is Reason.TTL_DRIFT}:
        # A TTL correction covers the whole group or nothing: part of it would be refused.
        partial = [c for c in resend if c.pool == name and c.reason is Reason.TTL_DRIFT]
        resend = [c for c in resend if c not in partial]
        lost.extend(partial)
    safe: list[Change] = []
    pinned: list[Guard] = []
    for name in sorted({c.pool for c in resend}):
        mine = [c for c in resend if c.pool == name]
        if gate(fresh[name], mine) is not None:
            # The record changed under the pool so that these changes would now zero
            # it: they lost the race like a conflict, and are re-decided next round.
            lost.extend(mine)
            said.append(
                events.warning(
                    "change_conflict",
                    change_id=change_id,
                    pool=name,
                    reason="the record changed under the batch; re-decided next round",
                )
            )
            continue
        safe.extend(mine)
        pinned.extend(guards(config.pool(name), fresh[name], mine))
    again = Batch(batch.zone_id, tuple(safe), tuple(pinned)) if safe else None
    return AfterConflict(tuple(already), again, tuple(lost), tuple(said))


def describe(c: Change) -> dict[str, object]:
    """A change as it is logged and shown: pool, origin, weights, reason, and what else moved."""
    out: dict[str, object] = {
        "pool": c.pool,
        "origin": c.new.set_id,
        "from": None if c.old is None else c.old.weight,
        "to": c.new.weight,
        "reason": c.reason.value,
    }
    if c.old is not None and c.old.ttl != c.new.ttl:
        out["ttl"] = [c.old.ttl, c.new.ttl]
    if c.old is not None and c.old.values != c.new.values:
        out["value"] = [list(c.old.values), list(c.new.values)]
    return out
