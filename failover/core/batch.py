"""Pure batching: pools' changes and guards packed into the fewest requests Route 53 allows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from failover.model import Change, Guard, quote_txt

# Route 53's per-request limits (FACTS.md): ResourceRecord elements and characters
# of values, where an UPSERT counts twice. A compare-and-swap is DELETE + CREATE,
# which counts each of its records once per action: the same cost as an UPSERT.
MAX_ELEMENTS = 1000
MAX_CHARS = 32000


class Unit(Protocol):
    """One pool's share of a request: its changes and the guards that pin them."""

    @property
    def changes(self) -> Sequence[Change]: ...

    @property
    def guards(self) -> Sequence[Guard]: ...


@dataclass(frozen=True)
class Batch:
    """One atomic Route 53 request: pools' changes whole, with the guards that pin them."""

    zone_id: str
    changes: tuple[Change, ...]
    guards: tuple[Guard, ...] = ()

    @property
    def pools(self) -> list[str]:
        return sorted({c.pool for c in self.changes} | {g.pool for g in self.guards})

    def only(self, pool: str) -> Batch:
        return Batch(
            self.zone_id,
            tuple(c for c in self.changes if c.pool == pool),
            tuple(g for g in self.guards if g.pool == pool),
        )


def cost(change: Change | Guard) -> tuple[int, int]:
    """ResourceRecord elements and value characters one change takes in a request."""
    if isinstance(change, Guard):
        sets = [change.held, change.held]
    else:
        sets = [change.new] if change.old is None else [change.old, change.new]
    elements = sum(len(s.values) for s in sets)
    chars = sum(len(quote_txt(v)) for s in sets for v in s.values)
    return elements, chars


def batches(
    zone_id: str,
    plans: Iterable[Unit],
    max_elements: int = MAX_ELEMENTS,
    max_chars: int = MAX_CHARS,
) -> list[Batch]:
    """Split pools' changes into the fewest requests Route 53's limits allow, keeping order.

    A pool's changes and guards always travel together (the gate judged them together,
    and a change's DELETE and CREATE must not be parted); pools are packed into
    requests whole. One pool (at most 100 sets) always fits in one request.
    """
    out: list[Batch] = []
    changes: list[Change] = []
    held: list[Guard] = []
    elements = chars = 0
    for p in plans:
        unit: list[Change | Guard] = [*p.changes, *p.guards]
        e = sum(cost(c)[0] for c in unit)
        ch = sum(cost(c)[1] for c in unit)
        if (changes or held) and (elements + e > max_elements or chars + ch > max_chars):
            out.append(Batch(zone_id, tuple(changes), tuple(held)))
            changes, held, elements, chars = [], [], 0, 0
        changes.extend(p.changes)
        held.extend(p.guards)
        elements += e
        chars += ch
    if changes or held:
        out.append(Batch(zone_id, tuple(changes), tuple(held)))
    return out
