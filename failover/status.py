"""A read-only view of the daemon's state, shared by /status, metrics and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from failover.model import Outcome, Override, State


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


@dataclass(frozen=True)
class Snapshot:
    pools: tuple[PoolView, ...] = ()
    frozen: bool = False
    dry_run: bool = False
    ready: bool = False
    last_round: float | None = None  # unix time the last round completed
    last_change: dict[str, Any] = field(default_factory=dict)


def to_json(snap: Snapshot) -> dict[str, Any]:
    return {
        "ready": snap.ready,
        "frozen": snap.frozen,
        "dry_run": snap.dry_run,
        "last_round": snap.last_round,
        "last_change": snap.last_change or None,
        "pools": [
            {
                "name": p.name,
                "record": p.record,
                "zone_id": p.zone_id,
                "failed_open": p.failed_open,
                "unknown_sets": list(p.unknown_sets),
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
