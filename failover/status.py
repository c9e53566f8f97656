"""A read-only view of the daemon's state, shared by /status, metrics and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from failover.aws.route53 import Record
from failover.core.plan import ghosts, unknown_sets
from failover.model import (
    Config,
    Desired,
    Health,
    OriginKey,
    Outcome,
    Override,
    ProbeResult,
    State,
)


@dataclass(frozen=True)
class OriginView:
    id: str
    region: str
    bucket: str
    configured: int
    state: State = State.UNKNOWN
    last_outcome: Outcome | None = None
    latency: float | None = None
    age: float | None = None
    desired: int | None = None
    applied: int | None = None
    reason: str = ""
    override: Override | None = None


@dataclass(frozen=True)
class PoolView:
    name: str
    record: str
    zone_id: str
    origins: tuple[OriginView, ...]
    failed_open: bool = False
    unknown_sets: tuple[str, ...] = ()
    ghost_sets: tuple[str, ...] = ()  # unknown sets whose value is an owned origin's bucket


@dataclass(frozen=True)
class Snapshot:
    pools: tuple[PoolView, ...] = ()
    frozen: bool = False
    dry_run: bool = False
    ready: bool = False
    last_round: float | None = None  # unix time the last round completed
    last_change: dict[str, Any] = field(default_factory=dict)
    overrides_age: float | None = None  # seconds since the last good read; None: never
    cluster: dict[str, Any] | None = None  # cluster mode: leader, epoch, every replica's view


def build(
    config: Config,
    records: Mapping[str, Record],
    desired: Mapping[str, Desired],
    health: Mapping[OriginKey, Health],
    results: Mapping[OriginKey, ProbeResult],
    ages: Mapping[OriginKey, float | None],
    overrides: Mapping[OriginKey, Override],
    **daemon: Any,
) -> Snapshot:
    """The view of every configured origin, from the values the round holds.

    Every configured origin has a view whatever its state: with no verdict (frozen,
    unknown), the desired weight is what Route 53 holds, since that is what is kept.
    """
    pools = []
    for p in config.pools:
        record = records.get(p.name, Record({}))
        wanted = desired.get(p.name)
        decisions = {} if wanted is None else {d.key.origin: d for d in wanted.decisions}
        held_sets = dict(record.sets)
        views = []
        for o in p.origins:
            h = health.get(o.key, Health())
            r = results.get(o.key)
            d = decisions.get(o.id)
            held = held_sets.get(o.id)
            applied = None if held is None else held.weight
            views.append(
                OriginView(
                    id=o.id,
                    region=o.region,
                    bucket=o.bucket,
                    configured=o.weight,
                    state=h.state,
                    last_outcome=h.last_outcome,
                    latency=None if r is None else r.latency,
                    age=ages.get(o.key),
                    desired=applied if d is None or d.weight is None else d.weight,
                    applied=applied,
                    reason="" if d is None else d.reason.value,
                    override=overrides.get(o.key),
                )
            )
        pools.append(
            PoolView(
                name=p.name,
                record=p.record,
                zone_id=p.zone_id,
                origins=tuple(views),
                failed_open=wanted is not None and wanted.failed_open,
                unknown_sets=tuple(unknown_sets(p, held_sets)),
                ghost_sets=tuple(ghosts(p, held_sets)),
            )
        )
    return Snapshot(pools=tuple(pools), **daemon)


def to_json(snap: Snapshot) -> dict[str, Any]:
    doc = _json(snap)
    if snap.cluster is not None:
        doc["cluster"] = snap.cluster
    return doc


def _json(snap: Snapshot) -> dict[str, Any]:
    return {
        "ready": snap.ready,
        "frozen": snap.frozen,
        "dry_run": snap.dry_run,
        "last_round": snap.last_round,
        "last_change": snap.last_change or None,
        "overrides_age": snap.overrides_age,
        "pools": [
            {
                "name": p.name,
                "record": p.record,
                "zone_id": p.zone_id,
                "failed_open": p.failed_open,
                "unknown_sets": list(p.unknown_sets),
                "ghost_sets": list(p.ghost_sets),
                "origins": [_origin(o) for o in p.origins],
            }
            for p in snap.pools
        ],
    }


def _origin(o: OriginView) -> dict[str, Any]:
    return {
        "id": o.id,
        "region": o.region,
        "bucket": o.bucket,
        "configured": o.configured,
        "state": o.state.value,
        "last_outcome": o.last_outcome.value if o.last_outcome else None,
        "latency": o.latency,
        "canary_age": o.age,
        "desired": o.desired,
        "applied": o.applied,
        "reason": o.reason,
        "override": None
        if o.override is None
        else {
            "action": o.override.action.value,
            "by": o.override.by,
            "at": o.override.at,
            "reason": o.override.reason,
        },
    }
