"""Pure fencing for cluster mode: the epoch TXT record every leader's batch must carry.

Route 53 checks no token, so the token is a record: each zone holds the TXT
`_failover-epoch.<zone apex>` whose value is the leader's epoch. Every batch the
leader sends re-asserts it (DELETE + CREATE of the same value); a new leader bumps
it (DELETE old + CREATE new) before its first write. "A change batch is all or
nothing" and a DELETE must match the current values exactly (ChangeResourceRecordSets,
API reference), so the batch of a paused old leader, whose DELETE names an epoch
that is no longer there, fails as a whole and nothing of it lands.
"""

from __future__ import annotations

from dataclasses import dataclass

from failover.model import quote_txt

PREFIX = "_failover-epoch"
TTL = 60
# What the fence adds to a request: DELETE and CREATE of one value each, of a few
# characters (an epoch in quotes; a damaged value read back may be longer).
RESERVE = (2, 600)


def name(apex: str) -> str:
    """The fence record of a zone, from its apex (without the trailing dot)."""
    return f"{PREFIX}.{apex.rstrip('.').lower()}"


@dataclass(frozen=True)
class Held:
    """The fence record as read: its raw values and TTL, exactly, for a DELETE that matches."""

    raw: tuple[str, ...]
    ttl: int

    @property
    def epoch(self) -> int | None:
        """The epoch it names; None when it names none (damaged: only a bump replaces it)."""
        if len(self.raw) != 1:
            return None
        text = self.raw[0].strip().strip('"')
        return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class Fence:
    """The fence changes one batch carries: DELETE `held` (if any) and CREATE `epoch`."""

    name: str
    held: Held | None
    epoch: int

    @property
    def value(self) -> str:
        return quote_txt(str(self.epoch))

    @property
    def bumps(self) -> bool:
        return self.held is None or self.held.epoch != self.epoch


def decide(record: str, held: Held | None, epoch: int) -> Fence | str:
    """The fence a batch written at `epoch` carries, or why the leader must not write.

    A fence naming a later epoch means another replica has led since: this one is
    superseded and writes nothing. A fence naming none (damaged by hand) is replaced.
    """
    if epoch < 1:
        return "no epoch: this replica does not hold the lease"
    found = None if held is None else held.epoch
    if found is not None and found > epoch:
        return f"superseded: the fence holds epoch {found}, this leader has {epoch}"
    return Fence(record, held, epoch)
