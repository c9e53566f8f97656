"""A pool's weights as a KeyValueStore value: the format, and the writes a plan leads to.

The store holds one key per pool (the pool's name) and the value
`{"v":1,"s":<sequence>,"o":[["<distribution origin id>",<weight>],...]}` in the pool's
configured order. The weights are exactly those the Route 53 plan leaves the pool's sets
with, so every safety rule of the plan (never all zero, fail open, frozen means no
write, overrides, held raises) holds for the store too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from failover.core import events
from failover.core.events import Event
from failover.core.plan import Batch, Plan, Sets, target
from failover.model import Change, Config, Origin, Pool, WeightedSet

VERSION = 1
# The sequence is read by JavaScript: past 2^53 - 1 its numbers are no longer exact.
MAX_SEQ = 2**53 - 1
Weights = tuple[tuple[str, int], ...]  # (distribution origin id, weight), in pool order


@dataclass(frozen=True)
class Value:
    """One pool's key in the store, decoded."""

    seq: int
    weights: Weights


@dataclass(frozen=True)
class Write:
    """Replace the pool's value `old` (None: the key is missing or unreadable) by `new`."""

    pool: str
    old: Value | None
    new: Value

    def describe(self) -> list[dict[str, object]]:
        was = dict(self.old.weights) if self.old else {}
        return [
            {"origin": oid, "from": was.get(oid), "to": w}
            for oid, w in self.new.weights
            if was.get(oid) != w
        ]


def edge_id(origin: Origin) -> str:
    """The distribution's origin id for an origin: `cf_origin_id`, else "s3-" + its id."""
    return origin.cf_origin_id or f"s3-{origin.id}"


def encode(value: Value) -> str:
    body = {"v": VERSION, "s": value.seq, "o": [[oid, w] for oid, w in value.weights]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def decode(text: str | None) -> Value | None:
    """The value, or None when the key is missing or holds anything but a version-1 value."""
    if text is None:
        return None
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("v") != VERSION:
        return None
    seq, pairs = body.get("s"), body.get("o")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        return None
    if not isinstance(pairs, list):
        return None
    out: list[tuple[str, int]] = []
    for p in pairs:
        if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)):
            return None
        if not isinstance(p[1], int) or isinstance(p[1], bool) or p[1] < 0:
            return None
        out.append((p[0], p[1]))
    return Value(seq, tuple(out))


def longest(pool: Pool) -> int:
    """Bytes of the pool's largest possible value: every weight at 255, the last sequence."""
    widest = Value(MAX_SEQ, tuple((edge_id(o), 255) for o in pool.origins))
    return len(encode(widest).encode("utf-8"))


def writes_route53(pool: Pool) -> bool:
    return pool.sink in ("route53", "both")


def writes_store(pool: Pool) -> bool:
    return pool.sink in ("kvs", "both")


def sets_from(pool: Pool, value: Value | None) -> dict[str, WeightedSet]:
    """What the plan should take the store's value for: the sets Route 53 would hold.

    An origin id the pool does not configure is left out (the next write drops it).
    """
    by_edge = {edge_id(o): o for o in pool.origins}
    held = dict(value.weights) if value is not None else {}
    return {
        by_edge[oid].id: target(pool, by_edge[oid].id, w)
        for oid, w in held.items()
        if oid in by_edge
    }


def plan_input(
    config: Config, route53: Mapping[str, Sets], store: Mapping[str, Value | None]
) -> dict[str, Sets]:
    """What the plan judges each pool against: Route 53's sets, or the store's for a pool
    whose weights go only to the store (once its key has been read)."""
    out: dict[str, Sets] = {}
    for pool in config.pools:
        if writes_route53(pool):
            if pool.name in route53:
                out[pool.name] = route53[pool.name]
        elif pool.name in store:
            out[pool.name] = sets_from(pool, store[pool.name])
    return out


def route53_part(config: Config) -> Config:
    """The config as Route 53's reader sees it: only the pools whose weights go there."""
    if all(writes_route53(p) for p in config.pools):
        return config
    return dataclasses.replace(config, pools=tuple(p for p in config.pools if writes_route53(p)))


def route53_batches(config: Config, batches: Sequence[Batch]) -> list[Batch]:
    """The plan's batches less every pool whose weights go only to the store."""
    store_only = {p.name for p in config.pools if not writes_route53(p)}
    out = []
    for b in batches:
        kept = Batch(
            b.zone_id,
            tuple(c for c in b.changes if c.pool not in store_only),
            tuple(g for g in b.guards if g.pool not in store_only),
        )
        if kept.changes:
            out.append(kept)
    return out


def weights_after(pool: Pool, current: Sets, changes: Sequence[Change]) -> Weights:
    """Each configured origin's weight once the plan's changes are applied to `current`."""
    after = {sid: s.weight for sid, s in current.items()}
    after.update((c.new.set_id, c.new.weight) for c in changes)
    return tuple((edge_id(o), after.get(o.id, 0)) for o in pool.origins)


def writes(
    config: Config,
    judged: Mapping[str, Sets],
    decided: Plan,
    store: Mapping[str, Value | None],
) -> tuple[list[Write], list[Event]]:
    """The store writes a plan leads to: one per pool whose weights differ from its key.

    Nothing is written for a pool not yet read from the store, a pool the plan left
    out, a frozen pool, a pool whose changes the gate refused, or a value whose every
    weight would be 0 (the function would then leave the distribution's default).
    """
    out: list[Write] = []
    said: list[Event] = []
    for pool in config.pools:
        p = decided.pools.get(pool.name)
        if not writes_store(pool) or p is None or pool.name not in store:
            continue
        if p.desired.frozen or p.refused or pool.name not in judged:
            continue
        weights = weights_after(pool, judged[pool.name], p.changes)
        if not any(w > 0 for _, w in weights):
            if not p.changes:
                continue  # nothing known to serve yet (a missing key, health unknown)
            said.append(
                events.error("kvs_write_refused", pool=pool.name, reason="every weight would be 0")
            )
            continue
        old = store[pool.name]
        if old is not None and old.weights == weights:
            continue
        seq = 1 if old is None else (old.seq + 1 if old.seq < MAX_SEQ else 1)
        out.append(Write(pool.name, old, Value(seq, weights)))
    return out, said
