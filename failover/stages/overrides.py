"""Operator overrides, read on their own lane with a deadline; the last good value is kept."""

from __future__ import annotations

from collections.abc import Callable

from failover.core import events
from failover.core.events import Event
from failover.errors import OverrideError
from failover.model import OriginKey, Override
from failover.overrides import Overrides, OverrideStore
from failover.stages.lane import Lane


class OverridesStage:
    """Reads the overrides store once per round at most, never making the round wait.

    Until one read succeeds, `known` is false (a drain may be in force), and raises
    are held, but only for `grace` seconds from the start: a store that cannot be read
    (a bucket that answers 403, a hung one) must not stop every recovery for good.
    A read that fails or runs late keeps the last good overrides; `age` says how old
    they are.
    """

    def __init__(
        self,
        store: OverrideStore,
        *,
        background: bool,
        clock: Callable[[], float],
        deadline: float = 5.0,
        grace: float = 120.0,
    ) -> None:
        self.store = store
        self.grace = grace
        self.deadline = deadline
        self.clock = clock
        self.lane: Lane[Overrides] = Lane("overrides", background=background, clock=clock)
        self.current: dict[OriginKey, Override] = {}
        self.known = False
        self.read_at: float | None = None  # monotonic time of the last good read
        self.started = clock()
        self.grace_over = False

    @property
    def holding(self) -> bool:
        """Whether raises are held: overrides never read, and the grace not yet over."""
        return not self.known and self.clock() - self.started < self.grace

    def start(self) -> None:
        if self.lane.idle:
            self.lane.start(self.store.load, self.deadline)

    def collect(self) -> list[Event]:
        said = self._grace_edge()
        late = self.lane.late()
        if late is not None:
            said.append(
                events.error(
                    "overrides_read_late", location=self.store.location, seconds=round(late, 3)
                )
            )
        future = self.lane.take()
        if future is None:
            return said
        try:
            loaded = future.result()
        except OverrideError as e:
            said.append(
                events.error("overrides_unreadable", location=self.store.location, error=str(e))
            )
            return said
        except Exception as e:  # noqa: BLE001 - a store that breaks must not break the round
            said.append(
                events.error(
                    "overrides_unreadable",
                    location=self.store.location,
                    error=f"{type(e).__name__}: {e}",
                )
            )
            return said
        said.extend(changed(self.current, loaded))
        self.current = dict(loaded)
        self.known = True
        self.read_at = self.clock()
        return said

    def _grace_edge(self) -> list[Event]:
        if self.known or self.grace_over or self.holding:
            return []
        self.grace_over = True
        return [
            events.error(
                "overrides_grace_ended",
                location=self.store.location,
                grace=self.grace,
                reason="overrides never read since start: raises no longer held",
            )
        ]

    def age(self) -> float | None:
        """Seconds since the overrides were last read successfully (None: never)."""
        return None if self.read_at is None else self.clock() - self.read_at


def changed(old: Overrides, new: Overrides) -> list[Event]:
    """The events of overrides appearing, changing and going away between two reads."""
    said: list[Event] = []
    for key in sorted(set(new) | set(old)):
        n, o = new.get(key), old.get(key)
        if n == o:
            continue
        if n is None:
            said.append(events.info("override_removed", pool=key.pool, origin=key.origin))
        else:
            said.append(
                events.info(
                    "override_applied",
                    pool=key.pool,
                    origin=key.origin,
                    action=n.action.value,
                    by=n.by,
                    reason=n.reason,
                )
            )
    return said
