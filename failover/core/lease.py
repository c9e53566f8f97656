"""Pure leader lease: what to write to take or keep it, and until when its holder may write.

A state machine over (the lease item as read, the replica's own monotonic now). It
never compares one host's clock with another's: a contender takes the lease only after
seeing the item unchanged (holder, epoch, renewal) for the whole lease duration on its
own clock, and the holder writes only until its own deadline, measured from when it
*sent* the renewal that succeeded, less a margin for clocks that run at different rates.
It returns the conditional write to make; the caller does the I/O and reports back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

RELEASED = ""  # the holder of a lease given up on purpose: anyone may take it at once


@dataclass(frozen=True)
class Item:
    """The lease item's values (the table's `holder`, `epoch`, `renewal`)."""

    holder: str
    epoch: int
    renewal: int


@dataclass(frozen=True)
class Write:
    """A conditional write: put `new` only if the item still holds `expect` (None: absent)."""

    new: Item
    expect: Item | None
    sent: float  # the caller's monotonic clock when it sends it (the deadline counts from here)
    kind: str  # take, renew or release


@dataclass(frozen=True)
class Lease:
    """One replica's lease state between rounds."""

    me: str
    duration: float
    margin: float
    seen: Item | None = None  # the item as last read (None: no item, or never read)
    read: bool = False  # the item has been read at least once
    seen_since: float = 0.0  # when `seen` was first read with these values (own clock)
    held: Item | None = None  # what this replica holds, after its last write succeeded
    deadline: float = float("-inf")  # own clock: no write to Route 53 at or after this

    @property
    def epoch(self) -> int:
        return self.held.epoch if self.held is not None else 0

    def may_write(self, now: float) -> bool:
        """Whether this replica holds the lease and may still write to Route 53 at `now`."""
        return self.held is not None and now < self.deadline


def new(me: str, duration: float, margin: float) -> Lease:
    if not 0 <= margin < duration:
        raise ValueError("the margin must be at least 0 and less than the lease duration")
    return Lease(me, duration, margin)


def observe(lease: Lease, item: Item | None, now: float) -> Lease:
    """Take in the item as read at `now` (a strongly consistent read)."""
    if lease.read and item == lease.seen:
        return lease
    held = lease.held
    if held is not None and item != held:
        held = None  # someone else wrote it: whatever we held is gone (the deadline stays)
    return dataclasses.replace(lease, seen=item, read=True, seen_since=now, held=held)


def next_write(lease: Lease, now: float) -> Write | None:
    """The write this replica should make now: renew what it holds, take a free or dead lease."""
    if not lease.read:
        return None
    if lease.held is not None:
        renewed = dataclasses.replace(lease.held, renewal=lease.held.renewal + 1)
        return Write(renewed, lease.held, now, "renew")
    seen = lease.seen
    if seen is None:
        return Write(Item(lease.me, 1, 0), None, now, "take")
    # Released on purpose, or our own from a life before a restart (names are stable):
    # taken at once. The epoch still goes up, and the fence defeats any late write of
    # that earlier life.
    free = seen.holder in (RELEASED, lease.me)
    dead = now - lease.seen_since >= lease.duration
    # The lease we held and lost the answer to (our renewal landed, we did not hear):
    # taking it back bumps the epoch as for anyone else, which the fence then enforces.
    if free or dead:
        return Write(Item(lease.me, seen.epoch + 1, 0), seen, now, "take")
    return None


def written(lease: Lease, write: Write, ok: bool, now: float) -> Lease:
    """The outcome of a conditional write: `ok` if the condition held and it landed.

    A refused condition means the item is not what we read: nothing is held from it.
    An unknown outcome (a timeout) is reported as not ok: the deadline already counted
    stays, and the next read says who holds it.
    """
    if not ok:
        return dataclasses.replace(lease, held=None, read=False)
    if write.kind == "release":
        return dataclasses.replace(
            lease, held=None, seen=write.new, seen_since=now, deadline=float("-inf")
        )
    return dataclasses.replace(
        lease,
        held=write.new,
        seen=write.new,
        seen_since=now,
        deadline=write.sent + lease.duration - lease.margin,
    )


def release(lease: Lease, now: float) -> Write | None:
    """The write that gives the lease up (on SIGTERM), so a planned restart costs no wait."""
    if lease.held is None:
        return None
    return Write(
        Item(RELEASED, lease.held.epoch, lease.held.renewal + 1), lease.held, now, "release"
    )
