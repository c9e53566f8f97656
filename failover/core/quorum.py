"""Pure vote counting for cluster mode: replicas' views merged into one verdict per origin."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from failover.core import health
from failover.model import Health, HealthSettings, OriginKey, State


class Vote(enum.StrEnum):
    """What one replica says of one origin. Only votes other than UP travel in a view."""

    UP = "up"
    DOWN = "down"
    ABSTAIN = "abstain"  # unknown, a down verdict awaiting confirmation, or a code not read


class Verdict(enum.StrEnum):
    """What a quorum of the configured replicas decided of one origin this round."""

    DOWN = "down"
    UP = "up"
    KEEP = "keep"  # no quorum either way: the origin keeps the state it had


def majority(replicas: int) -> int:
    """The default quorum: more than half of the configured replicas."""
    return replicas // 2 + 1


def vote_of(h: Health) -> Vote:
    """One replica's own vote on an origin, from its local hysteresis."""
    if h.state is State.UP:
        return Vote.UP
    if h.state is State.DOWN and not h.stale:
        return Vote.DOWN
    return Vote.ABSTAIN


@dataclass(frozen=True)
class Ballot:
    """One replica's view as the reader judged it: what it says, and whether it counts."""

    replica: str
    votes: Mapping[OriginKey, Vote]  # origins not plainly up; any other origin votes UP
    live: bool  # its sequence number advanced recently on the reader's monotonic clock
    blind: bool  # its prober saw no evidence: it says nothing of any origin

    @property
    def counts(self) -> bool:
        return self.live and not self.blind

    def vote(self, key: OriginKey) -> Vote:
        return self.votes.get(key, Vote.UP)


@dataclass(frozen=True)
class Merged:
    """The verdicts of one merge, and what the operator needs to know about it."""

    verdicts: Mapping[OriginKey, Verdict]
    counted: int  # live, non-blind views
    quorum: int
    lost: bool  # fewer counted views than the quorum: nothing is marked down or up
    disagreements: int  # origins on which the counted views do not all say the same

    @property
    def down(self) -> list[OriginKey]:
        return sorted(k for k, v in self.verdicts.items() if v is Verdict.DOWN)


def merge(origins: Iterable[OriginKey], ballots: Iterable[Ballot], quorum: int) -> Merged:
    """Each origin's verdict from the views that count, against a quorum of the *configured*.

    An origin is DOWN when at least `quorum` counted views say down, UP when at least
    `quorum` say up, else KEEP. The quorum never shrinks to whoever is left: with
    fewer counted views than it, every verdict is KEEP and `lost` says so.
    """
    keys = list(origins)
    counted = [b for b in ballots if b.counts]
    # Only origins some counted view does not see plainly up need counting: at 10,000
    # origins a steady platform merges in time proportional to what is wrong.
    suspect = {k for b in counted for k in b.votes}
    disagree = 0
    for k in suspect:
        if len({b.vote(k) for b in counted}) > 1:
            disagree += 1
    if len(counted) < quorum:
        return Merged(dict.fromkeys(keys, Verdict.KEEP), len(counted), quorum, True, disagree)
    verdicts: dict[OriginKey, Verdict] = {}
    for k in keys:
        if k not in suspect:
            verdicts[k] = Verdict.UP
            continue
        downs = sum(1 for b in counted if b.vote(k) is Vote.DOWN)
        ups = sum(1 for b in counted if b.vote(k) is Vote.UP)
        if downs >= quorum:
            verdicts[k] = Verdict.DOWN
        elif ups >= quorum:
            verdicts[k] = Verdict.UP
        else:
            verdicts[k] = Verdict.KEEP
    return Merged(verdicts, len(counted), quorum, False, disagree)


def advance(
    prev: Health | None,
    verdict: Verdict,
    now: float,
    settings: HealthSettings,
    applied_fraction: float | None,
) -> Health:
    """The leader's merged health of one origin after one verdict.

    It starts from what Route 53 holds (`health.initial`), like a replica's own, so an
    origin held at 0 comes back through slow start; hold-down was already served by
    each replica's own hysteresis before it voted up. KEEP changes nothing.
    """
    h = prev if prev is not None else health.initial(applied_fraction, settings, now)
    if verdict is Verdict.DOWN and h.state is not State.DOWN:
        return dataclasses.replace(
            h,
            state=State.DOWN,
            down_since=now,
            up_since=None,
            hold_down=settings.hold_down,
            stale=False,
        )
    if verdict is Verdict.UP and h.state is not State.UP:
        resumed = h.state is State.UNKNOWN and h.down_since is None
        return dataclasses.replace(
            h, state=State.UP, up_since=h.up_since if resumed else now, stale=False
        )
    return h
