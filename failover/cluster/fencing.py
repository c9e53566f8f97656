"""The fence in Route 53: every batch the leader sends re-asserts or bumps its epoch record."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from failover.core import fence
from failover.core.fence import Fence, Held
from failover.errors import FencedError, Route53Error
from failover.model import Change, Guard


class FenceStore(Protocol):
    def apex(self, zone_id: str) -> str: ...

    def read_fence(self, zone_id: str, name: str) -> Held | None: ...

    def change(
        self,
        zone_id: str,
        changes: Sequence[Change],
        comment: str,
        guards: Sequence[Guard] = (),
        fence: Fence | None = None,
        allowed: Callable[[], None] | None = None,
    ) -> str: ...


class Fencer:
    """Sends the leader's batches with the fence; refuses any once it may no longer write.

    `lease()` gives the epoch held and whether the lease's own deadline allows a write
    now; it is asked again right before each send, after the reads that precede it.
    What Route 53 holds as a zone's fence is read once per epoch, and again after any
    conflict or unanswered write (the record may have moved meanwhile).
    """

    def __init__(
        self,
        store: FenceStore,
        lease: Callable[[], tuple[int, bool]],
        apexes: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        # zone id → fence record name; zones not given here are asked for their apex
        self.names = {z: fence.name(a) for z, a in (apexes or {}).items()}
        self.known: dict[str, tuple[int, Held | None]] = {}  # zone id → (epoch read at, held)
        self._lock = threading.Lock()

    def change(
        self, zone_id: str, changes: Sequence[Change], comment: str, guards: Sequence[Guard] = ()
    ) -> str:
        epoch = self._allowed()
        name = self.names.get(zone_id)
        if name is None:
            name = self.names[zone_id] = fence.name(self.store.apex(zone_id))
        with self._lock:
            known = self.known.get(zone_id)
        if known is None or known[0] != epoch:
            known = (epoch, self.store.read_fence(zone_id, name))
        decided = fence.decide(name, known[1], epoch)
        if isinstance(decided, str):
            raise FencedError(decided)
        if self._allowed() != epoch:
            raise FencedError("the lease changed while the batch was prepared")
        try:
            change_id = self.store.change(
                zone_id,
                changes,
                f"{comment} epoch {epoch}",
                guards,
                fence=decided,
                allowed=lambda: self._still(epoch),
            )
        except (Route53Error, FencedError):
            with self._lock:
                self.known.pop(zone_id, None)  # refused or in doubt: read it again
            raise
        with self._lock:
            self.known[zone_id] = (epoch, Held((decided.value,), fence.TTL))
        return change_id

    def unfenced(self, zones: Iterable[str]) -> list[str]:
        """The zones no batch of the epoch held has landed in yet (none if it may not write).

        A new leader bumps each of them at once with a batch of the fence alone: until
        it does, a batch of the epoch before, held up past the lease, would still find
        that zone's fence unchanged and land.
        """
        epoch, may = self.lease()
        if epoch < 1 or not may:
            return []
        with self._lock:
            return [z for z in zones if self.known.get(z, (0, None))[0] != epoch]

    def forget(self) -> None:
        with self._lock:
            self.known.clear()

    def _still(self, epoch: int) -> None:
        """Before each attempt of a send, retries too: the lease still held, in `epoch`."""
        if self._allowed() != epoch:
            raise FencedError("the lease changed while the batch was being sent")

    def _allowed(self) -> int:
        epoch, may = self.lease()
        if epoch < 1 or not may:
            raise FencedError("this replica does not hold the lease, or its deadline has passed")
        return epoch
