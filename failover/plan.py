"""Pure planning: what Route 53 holds vs what policy wants → compare-and-swap changes, gated."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from failover.model import Change, Desired, Pool, WeightedSet, quote_txt

# Route 53's per-request limits (FACTS.md): ResourceRecord elements and characters
# of values, where an UPSERT counts twice. A compare-and-swap is DELETE + CREATE,
# which counts each of its records once per action: the same cost as an UPSERT.
MAX_ELEMENTS = 1000
MAX_CHARS = 32000


def target(pool: Pool, origin_id: str, weight: int) -> WeightedSet:
    """The weighted set the daemon owns for one origin, as it should be."""
    origin = pool.origin(origin_id)
    return WeightedSet(
        name=pool.record, set_id=origin.id, weight=weight, ttl=pool.ttl, values=(origin.endpoint,)
    )


def diff(pool: Pool, current: Mapping[str, WeightedSet], desired: Desired) -> list[Change]:
    """Changes that take the pool's configured sets from `current` to `desired`.

    Sets under the name that the config does not know are never touched. A set
    whose TTL or value drifted from the config is corrected along with its weight,
    except the TTL of a record that also holds sets the daemon does not own: every
    weighted set of a name shares one TTL, and rewriting only ours would be refused.
    """
    ttl = record_ttl(pool, current)
    changes: list[Change] = []
    for d in desired.decisions:
        if d.weight is None:
            continue
        want = dataclasses.replace(target(pool, d.key.origin, d.weight), ttl=ttl)
        have = current.get(d.key.origin)
        if have == want:
            continue
        if (
            d.reason == "unknown"
            and have is not None
            and have.values != want.values
            and want.weight
        ):
            continue  # a new bucket gets weight only once it has answered a probe
        changes.append(
            Change(pool=pool.name, old=have, new=want, reason=_why(have, want, d.reason))
        )
    return changes


def record_ttl(pool: Pool, current: Mapping[str, WeightedSet]) -> int:
    """The TTL the daemon writes: the pool's, unless sets it does not own hold another."""
    foreign = [current[s].ttl for s in unknown_sets(pool, current)]
    return foreign[0] if foreign else pool.ttl


def guards(
    pool: Pool, current: Mapping[str, WeightedSet], changes: Sequence[Change]
) -> list[Change]:
    """A compare-and-swap of unchanged values that pins what the gate counted on.

    The gate judges against the record as last read. If a change lowers a weight,
    the heaviest set left serving travels in the same batch as DELETE+CREATE of
    exactly what was read: should anyone have changed it since, the batch is refused
    as a conflict (then re-read and re-decided) instead of landing on a record whose
    every weight is 0. One such set is enough to keep the record serving.
    """
    if not any(c.old is not None and c.new.weight < c.old.weight for c in changes):
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
    return [Change(pool=changes[0].pool, old=keep, new=keep, reason="guard")]


def _why(have: WeightedSet | None, want: WeightedSet, reason: str) -> str:
    if have is None:
        return "missing"
    if have.weight != want.weight:
        return reason
    if have.ttl != want.ttl:
        return "ttl_drift"
    return "value_drift"


def unknown_sets(pool: Pool, current: Mapping[str, WeightedSet]) -> list[str]:
    """Set identifiers under the pool's name that the config does not name."""
    known = {o.id for o in pool.origins}
    return sorted(s for s in current if s not in known)


@dataclass(frozen=True)
class Unsafe:
    pool: str
    reason: str


def gate(current: Mapping[str, WeightedSet], changes: Sequence[Change]) -> Unsafe | None:
    """Refuse a pool's changes if, applied, they would leave every weight of the record at 0."""
    if not changes:
        return None
    after = dict(current)
    for c in changes:
        after[c.new.set_id] = c.new
    if any(s.weight > 0 for s in after.values()):
        return None
    return Unsafe(changes[0].pool, "every weight of the record would be 0")


def cost(change: Change) -> tuple[int, int]:
    """ResourceRecord elements and value characters one change takes in a request."""
    sets = [change.new] if change.old is None else [change.old, change.new]
    elements = sum(len(s.values) for s in sets)
    chars = sum(len(quote_txt(v)) for s in sets for v in s.values)
    return elements, chars


def batches(
    changes: Iterable[Change], max_elements: int = MAX_ELEMENTS, max_chars: int = MAX_CHARS
) -> list[list[Change]]:
    """Split changes into the fewest requests Route 53's limits allow, keeping order.

    A pool's changes always travel together (the gate judged them together, and a
    change's DELETE and CREATE must not be parted); pools are packed into requests
    whole. One pool (at most 100 sets) always fits in one request.
    """
    units: dict[str, list[Change]] = {}
    for c in changes:
        units.setdefault(c.pool, []).append(c)
    out: list[list[Change]] = []
    batch: list[Change] = []
    elements = chars = 0
    for unit in units.values():
        e = sum(cost(c)[0] for c in unit)
        ch = sum(cost(c)[1] for c in unit)
        if batch and (elements + e > max_elements or chars + ch > max_chars):
            out.append(batch)
            batch, elements, chars = [], 0, 0
        batch.extend(unit)
        elements += e
        chars += ch
    if batch:
        out.append(batch)
    return out
