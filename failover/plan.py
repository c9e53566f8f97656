"""Pure planning: what Route 53 holds vs what policy wants → compare-and-swap changes, gated."""

from __future__ import annotations

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
    whose TTL or value drifted from the config is corrected along with its weight.
    """
    changes: list[Change] = []
    for d in desired.decisions:
        if d.weight is None:
            continue
        want = target(pool, d.key.origin, d.weight)
        have = current.get(d.key.origin)
        if have == want:
            continue
        changes.append(
            Change(pool=pool.name, old=have, new=want, reason=_why(have, want, d.reason))
        )
    return changes


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

    A change's DELETE and CREATE always travel together: splitting them would
    break the compare-and-swap.
    """
    out: list[list[Change]] = []
    batch: list[Change] = []
    elements = chars = 0
    for c in changes:
        e, ch = cost(c)
        if batch and (elements + e > max_elements or chars + ch > max_chars):
            out.append(batch)
            batch, elements, chars = [], 0, 0
        batch.append(c)
        elements += e
        chars += ch
    if batch:
        out.append(batch)
    return out
