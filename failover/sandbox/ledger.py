"""Route 53's history on the sandbox, batch by batch, and what cluster mode promises of it.

It reads `route53_strict.journal` of a zone `watch`ed: every batch Route 53 accepted, in the order applied,
with its comment (`failover <change id> epoch <N>` from a leader). From it come an
origin's weight over time, the fence's epoch over time, and the audits the race test and
the cluster bench make of a run:

- epochs: every leader batch names its epoch, carries the fence to exactly that epoch
  (re-asserted or bumped), and none lands below the fence it found or below an epoch that
  landed before it: no write from a superseded epoch;
- lost updates: no set was replaced blind: every change is a DELETE of exactly what was
  there and a CREATE (never UPSERT), so no batch undoes one it had not read;
- flip-flops: within one fault episode an origin's weight changes direction at most once.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from failover.aws.route53 import parse_txt
from failover.core import fence
from failover.sandbox import route53_model as model
from failover.sandbox.route53_strict import Applied, journal, watch

__all__ = [
    "Applied",
    "Move",
    "Stamp",
    "audit_epochs",
    "audit_writes",
    "flip_flops",
    "history",
    "watch",
]

_COMMENT = re.compile(r"^failover (?P<change>\S+) epoch (?P<epoch>\d+)$")


@dataclass(frozen=True)
class Stamp:
    """What a batch's comment says: the daemon's change id and the epoch it wrote at."""

    change_id: str
    epoch: int

    @classmethod
    def of(cls, comment: str) -> Stamp | None:
        m = _COMMENT.match(comment)
        return None if m is None else cls(m["change"], int(m["epoch"]))


@dataclass(frozen=True)
class Move:
    """One origin's weight changed by one batch."""

    at: float  # time.monotonic() of the sandbox's process
    origin: str  # the set identifier
    old: int | None
    new: int | None
    stamp: Stamp | None


def history(zone_id: str, since: float = float("-inf")) -> list[Applied]:
    """The zone's accepted batches, applied at or after `since` (monotonic)."""
    return [a for a in journal(zone_id) if a.at >= since]


def _weight(rrset: model.RRSet | None) -> int | None:
    return None if rrset is None else int(rrset.get("Weight", 0))


def moves(batches: Iterable[Applied], record: str) -> list[Move]:
    """Every weight change of the record's sets, in order."""
    name = model.fqdn(record)
    out: list[Move] = []
    for b in batches:
        stamp = Stamp.of(b.comment)
        after: dict[model.Key, model.RRSet | None] = dict(b.before)
        for action, rrset in b.changes:
            after[model.key_of(rrset)] = None if action == "DELETE" else rrset
        for key, was in b.before.items():
            if key[0] != name or key[1] != "TXT" or not key[2]:
                continue
            old, new = _weight(was), _weight(after[key])
            if old != new:
                out.append(Move(b.at, key[2], old, new, stamp))
    return out


def audit_epochs(batches: Sequence[Applied], apex: str) -> list[str]:
    """Problems with the epochs of the batches that landed (none: every write was fenced)."""
    name = model.fqdn(fence.name(apex))
    problems: list[str] = []
    highest = 0
    for b in batches:
        stamp = Stamp.of(b.comment)
        if stamp is None:
            if b.comment.startswith("failover "):
                problems.append(f"a daemon batch without an epoch landed: {b.comment!r}")
            continue  # the sandbox's own set-up, or a person's change by hand
        touched = [(a, r) for a, r in b.changes if model.key_of(r)[:2] == (name, "TXT")]
        held = b.before.get((name, "TXT", ""))
        found = None if held is None else _epoch(held)
        created = [_epoch(r) for a, r in touched if a == "CREATE"]
        if created != [stamp.epoch]:
            problems.append(
                f"{stamp.change_id} (epoch {stamp.epoch}) did not carry the fence to its "
                f"epoch: it created {created}"
            )
        if found is not None and found > stamp.epoch:
            problems.append(
                f"{stamp.change_id} of epoch {stamp.epoch} landed over the fence {found}"
            )
        if stamp.epoch < highest:
            problems.append(
                f"{stamp.change_id} of epoch {stamp.epoch} landed after a batch of epoch {highest}"
            )
        highest = max(highest, stamp.epoch)
    return problems


def _epoch(rrset: model.RRSet) -> int | None:
    values = [parse_txt(r["Value"]) for r in rrset.get("ResourceRecords", [])]
    return int(values[0]) if len(values) == 1 and values[0].isdigit() else None


def audit_writes(batches: Sequence[Applied]) -> list[str]:
    """Problems of blind writes: a daemon batch that replaced a set without naming it exactly.

    Route 53 refuses a DELETE that does not match; this checks the daemon relied on it
    for every set it changed (DELETE + CREATE, or CREATE of an absent set, never UPSERT).
    """
    problems: list[str] = []
    for b in batches:
        if not b.comment.startswith("failover "):
            continue
        for action, rrset in b.changes:
            key = model.key_of(rrset)
            if action == "UPSERT":
                problems.append(f"{b.comment}: UPSERT of {key} replaces what it never read")
            elif action == "DELETE":
                was = b.before.get(key)
                if was is None or model.match_view(was) != model.match_view(rrset):
                    problems.append(f"{b.comment}: DELETE of {key} that Route 53 did not hold")
            elif b.before.get(key) is not None and not any(
                a == "DELETE" and model.key_of(r) == key for a, r in b.changes
            ):
                problems.append(f"{b.comment}: CREATE over {key} without deleting it")
    return problems


def flip_flops(found: Sequence[Move], episodes: Sequence[float]) -> list[str]:
    """Origins whose weight changed direction more than once within one fault episode.

    `episodes` are the monotonic times at which each episode began (ascending); moves
    before the first belong to none and are not judged.
    """
    problems: list[str] = []
    bounds = [*episodes, float("inf")]
    for i, start in enumerate(episodes):
        end = bounds[i + 1]
        by: dict[str, list[int]] = {}
        for m in found:
            if start <= m.at < end and m.old is not None and m.new is not None:
                by.setdefault(m.origin, []).append(1 if m.new > m.old else -1)
        for origin, signs in sorted(by.items()):
            turns = sum(1 for a, b in itertools.pairwise(signs) if a != b)
            if turns > 1:
                problems.append(
                    f"episode {i + 1}: {origin} changed direction {turns} times "
                    f"({' '.join('+' if s > 0 else '-' for s in signs)})"
                )
    return problems
