"""Pure view encoding for cluster mode: one replica's verdicts as compact, sharded table items."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from failover.core.quorum import Ballot, Vote
from failover.model import OriginKey

SCHEMA = 1  # of every item this code writes; readers take items one version either side
# DynamoDB items are at most 400 KB, attribute names and values together (Developer
# Guide, Constraints: Items; "the total size of an item is the sum of the lengths of its
# attribute names and values", Item sizes and formats). A shard's body stays well below.
SHARD_BYTES = 300_000
PK = "view"
# Codes of the votes a view carries; anything else a newer version may add reads as ABSTAIN.
CODES = {Vote.DOWN: "d", Vote.ABSTAIN: "a"}
_VOTES = {code: vote for vote, code in CODES.items()}


def stale_after(interval: float) -> float:
    """Three rounds and 5 s: how long a view may go without advancing and still count,
    and how long a replica's own probing may stop before its evidence is old."""
    return 3 * interval + 5.0


@dataclass(frozen=True)
class View:
    """One replica's verdicts for one round: only origins not plainly up travel."""

    replica: str
    seq: int
    blind: bool
    votes: Mapping[OriginKey, Vote] = field(default_factory=dict)


@dataclass(frozen=True)
class Unreadable:
    """A replica's items that could not be read as one view this time, and why."""

    replica: str
    why: str


def sort_key(replica: str, shard: int) -> str:
    return f"{replica}#{shard}"


def encode(view: View, shard_bytes: int = SHARD_BYTES) -> list[dict[str, object]]:
    """The view as items (plain values; the adapter types them), shard 0 first.

    Each shard's `body` is JSON `{"<code>": {"<pool>": ["<origin>", ...]}}`. Every
    shard carries the view's `seq` and shard 0 the shard count: a reader that finds
    shards of different rounds reads nothing of that view this time.
    """
    entries = sorted((CODES[v], k.pool, k.origin) for k, v in view.votes.items() if v in CODES)
    bodies: list[dict[str, dict[str, list[str]]]] = [{}]
    size = 0
    for code, pool, origin in entries:
        cost = len(json.dumps([pool, origin])) + 8  # an upper bound on what it adds
        if size + cost > shard_bytes and bodies[-1]:
            bodies.append({})
            size = 0
        bodies[-1].setdefault(code, {}).setdefault(pool, []).append(origin)
        size += cost
    return [
        {
            "pk": PK,
            "sk": sort_key(view.replica, i),
            "replica": view.replica,
            "shard": i,
            "shards": len(bodies),
            "seq": view.seq,
            "blind": view.blind,
            "schema": SCHEMA,
            "body": json.dumps(body, separators=(",", ":")),
        }
        for i, body in enumerate(bodies)
    ]


def decode(items: Iterable[Mapping[str, object]]) -> list[View | Unreadable]:
    """Every replica's view from the items read, one entry per replica, sorted by name.

    Items one schema version newer are read: unknown attributes are ignored, and
    unknown vote codes read as ABSTAIN (never as up or down). Further apart, the
    replica's view is unreadable, as is one caught between its shards' writes.
    """
    by_replica: dict[str, dict[int, Mapping[str, object]]] = {}
    for item in items:
        replica, shard = item.get("replica"), item.get("shard")
        if isinstance(replica, str) and isinstance(shard, int):
            by_replica.setdefault(replica, {})[shard] = item
    out: list[View | Unreadable] = []
    for replica, shards in sorted(by_replica.items()):
        out.append(_one(replica, shards))
    return out


def _one(replica: str, shards: Mapping[int, Mapping[str, object]]) -> View | Unreadable:
    first = shards.get(0)
    if first is None:
        return Unreadable(replica, "shard 0 missing")
    schema, count, seq = first.get("schema"), first.get("shards"), first.get("seq")
    if not isinstance(schema, int) or abs(schema - SCHEMA) > 1:
        return Unreadable(replica, f"schema {schema!r}, this reader reads {SCHEMA} ± 1")
    if not isinstance(count, int) or not isinstance(seq, int) or count < 1:
        return Unreadable(replica, "shards or seq missing")
    votes: dict[OriginKey, Vote] = {}
    for i in range(count):
        item = shards.get(i)
        if item is None or item.get("seq") != seq:
            return Unreadable(replica, f"shard {i} is not of round {seq}")
        try:
            body = json.loads(str(item.get("body", "{}")))
        except ValueError:
            return Unreadable(replica, f"shard {i}: body is not JSON")
        if not isinstance(body, dict):
            return Unreadable(replica, f"shard {i}: body is not an object")
        for code, pools in body.items():
            vote = _VOTES.get(code, Vote.ABSTAIN)
            if not isinstance(pools, dict):
                continue
            for pool, origins in pools.items():
                for origin in origins if isinstance(origins, list) else ():
                    votes[OriginKey(str(pool), str(origin))] = vote
    return View(replica, seq, bool(first.get("blind", False)), votes)


@dataclass(frozen=True)
class Seen:
    """What a reader knows of one replica's view: its seq and when (reader's clock) it last moved."""

    seq: int
    since: float  # the reader's monotonic clock when this seq was first seen
    advanced: bool  # the seq has changed at least once while this reader watched


def watch(prev: Mapping[str, Seen], views: Iterable[View], now: float) -> dict[str, Seen]:
    """Each replica's `Seen` after one read. A replica not read this time keeps its entry.

    No host's wall clock enters: a view is live while the reader sees its sequence
    number change on its own monotonic clock. Seen for the first time, a view is not
    yet known to advance: a dead replica's last view never counts for a new reader.
    """
    out = dict(prev)
    for v in views:
        old = prev.get(v.replica)
        if old is None:
            out[v.replica] = Seen(v.seq, now, advanced=False)
        elif old.seq != v.seq:
            out[v.replica] = Seen(v.seq, now, advanced=True)
    return out


def live(seen: Seen | None, now: float, stale_after: float) -> bool:
    return seen is not None and seen.advanced and now - seen.since <= stale_after


def ballots(
    views: Iterable[View], seen: Mapping[str, Seen], now: float, stale_after: float
) -> list[Ballot]:
    """The views as the quorum counts them: each with whether it is live, by the reader."""
    return [
        Ballot(v.replica, v.votes, live(seen.get(v.replica), now, stale_after), v.blind)
        for v in views
    ]
