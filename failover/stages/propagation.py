"""Follows each change Route 53 accepted, with GetChange on a lane of its own, until INSYNC."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from failover.core import events
from failover.core.events import Event
from failover.errors import Route53Error
from failover.stages.lane import Lane
from failover.stages.write import Landed

# "PENDING indicates that the changes in this request have not propagated to all Amazon
# Route 53 DNS servers managing the hosted zone. This is the initial status of all change
# batch requests. INSYNC indicates that the changes have propagated to all Route 53 DNS
# servers managing the hosted zone." (Route 53 API reference, GetChange.) "Changes
# generally propagate to all Route 53 name servers managing the hosted zone within 60
# seconds." (Route 53 API reference, ChangeResourceRecordSets.) So: one GetChange per
# change every few seconds, and a change still PENDING after ten times that is given up.
POLL_EVERY = 3.0
GIVE_UP_AFTER = 600.0
MAX_FOLLOWED = 100  # a Route 53 that never says INSYNC cannot grow memory past this
POLL_DEADLINE = 30.0

# What a landed batch carries instead of a Route 53 change id when it has none.
NO_CHANGE = ("already-applied", "unknown")


class ChangeReader(Protocol):
    def change_status(self, change_id: str) -> str | None: ...


@dataclass
class _Followed:
    change_id: str  # ours, as in `weights_planned` and the batch comment
    route53_change: str
    accepted: float  # monotonic
    next_poll: float


@dataclass(frozen=True)
class Polled:
    """One GetChange made on the lane; `status` None means no token was free for it."""

    route53_change: str
    status: str | None
    at: float
    error: str = ""


class PropagationStage:
    """Changes accepted and not yet INSYNC, polled at the lowest priority, never blocking.

    The round hands over what the writer landed (`follow`), takes the polls that are
    done (`collect`) and starts the next ones (`start`) only while no write is in
    flight. Each GetChange takes a rate-limit token only from a full bucket (see
    `RateLimiter.try_acquire`), so a poll never makes a read or write wait; a poll
    that finds none left waits for its next turn.
    """

    def __init__(
        self,
        store: ChangeReader,
        *,
        background: bool,
        clock: Callable[[], float],
        every: float = POLL_EVERY,
        give_up_after: float = GIVE_UP_AFTER,
        cap: int = MAX_FOLLOWED,
    ) -> None:
        self.store = store
        self.lane: Lane[list[Polled]] = Lane("route53-poll", background=background, clock=clock)
        self.clock = clock
        self.every = every
        self.give_up_after = give_up_after
        self.cap = cap
        self.followed: dict[str, _Followed] = {}  # by Route 53 change id, oldest first

    def follow(self, landed: Iterable[Landed]) -> list[Event]:
        """Start following what Route 53 accepted; drop the oldest past the cap."""
        said: list[Event] = []
        for batch in landed:
            r53 = batch.route53_change
            if not r53 or r53.startswith(NO_CHANGE) or r53 in self.followed:
                continue
            self.followed[r53] = _Followed(
                batch.change_id, r53, batch.accepted, batch.accepted + self.every
            )
        while len(self.followed) > self.cap:
            oldest = self.followed.pop(next(iter(self.followed)))
            said.append(self._dropped(oldest, "more changes followed than the cap"))
        return said

    def collect(self) -> list[Event]:
        """Take the polls that are done: INSYNC ends a change's wait, PENDING waits more."""
        said: list[Event] = []
        late = self.lane.late()
        if late is not None:
            said.append(events.warning("route53_poll_late", seconds=round(late, 3)))
        future = self.lane.take()
        if future is None:
            return said
        try:
            polled = future.result()
        except Exception as e:  # noqa: BLE001 - following a change must never fail a round
            return [*said, events.error("change_poll_failed", error=f"{type(e).__name__}: {e}")]
        for p in polled:
            f = self.followed.get(p.route53_change)
            if f is None:
                continue  # dropped meanwhile
            if p.error:
                said.append(
                    events.warning(
                        "change_poll_failed",
                        change_id=f.change_id,
                        route53_change=f.route53_change,
                        error=p.error,
                    )
                )
            if p.status == "INSYNC":
                del self.followed[f.route53_change]
                said.append(
                    events.info(
                        "change_in_sync",
                        change_id=f.change_id,
                        route53_change=f.route53_change,
                        seconds=round(p.at - f.accepted, 3),
                    )
                )
            elif p.status is not None or p.error:
                f.next_poll = p.at + self.every
        now = self.clock()
        for f in list(self.followed.values()):
            if now - f.accepted >= self.give_up_after:
                del self.followed[f.route53_change]
                said.append(self._dropped(f, "not INSYNC in time"))
        return said

    def start(self, now: float) -> None:
        """Poll the changes due, oldest turn first, unless a poll is still running."""
        if not self.lane.idle:
            return
        due = sorted(
            (f for f in self.followed.values() if f.next_poll <= now), key=lambda f: f.next_poll
        )
        if due:
            ids = [f.route53_change for f in due]
            self.lane.start(lambda: self._poll(ids), POLL_DEADLINE)

    # -- on the lane --------------------------------------------------------------------
    def _poll(self, ids: Sequence[str]) -> list[Polled]:
        out: list[Polled] = []
        for r53 in ids:
            try:
                status = self.store.change_status(r53)
            except Route53Error as e:
                out.append(Polled(r53, None, self.clock(), str(e)))
                continue
            if status is None:
                break  # no token free: these and the rest wait for their next turn
            out.append(Polled(r53, status, self.clock()))
        return out

    def _dropped(self, f: _Followed, reason: str) -> Event:
        return events.warning(
            "change_follow_dropped",
            change_id=f.change_id,
            route53_change=f.route53_change,
            pending_seconds=round(self.clock() - f.accepted, 3),
            reason=reason,
        )
