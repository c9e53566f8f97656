"""Small builders of model values for tests."""

from __future__ import annotations

from collections.abc import Sequence

from failover.core.plan import PoolPlan
from failover.model import (
    Change,
    Config,
    DaemonSettings,
    Desired,
    HealthSettings,
    Origin,
    OriginKey,
    Outcome,
    Pool,
    ProbeResult,
    WeightedSet,
)

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")


def make_pool(
    name: str = "www",
    regions: tuple[str, ...] = REGIONS,
    weights: tuple[int, ...] | None = None,
    health: HealthSettings | None = None,
    record: str | None = None,
    zone_id: str = "Z1",
    ttl: int = 30,
    bucket_prefix: str | None = None,
) -> Pool:
    h = health or HealthSettings(timeout=0.5, fall=3, rise=2, hold_down=30.0)
    ws = weights or tuple(100 for _ in regions)
    origins = tuple(
        Origin(name, r, f"{bucket_prefix or name}-{r}", r, w, "_failover/canary.json", h)
        for r, w in zip(regions, ws, strict=True)
    )
    return Pool(name, record or f"{name}.origin.example.com", zone_id, ttl, origins)


def make_config(*pools: Pool, **daemon: object) -> Config:
    settings = DaemonSettings(**{"interval": 1.0, "listen": "", **daemon})  # type: ignore[arg-type]
    return Config(settings, HealthSettings(), pools or (make_pool(),))


def wset(pool: Pool, origin_id: str, weight: int, ttl: int | None = None) -> WeightedSet:
    o = pool.origin(origin_id)
    return WeightedSet(pool.record, o.id, weight, pool.ttl if ttl is None else ttl, (o.endpoint,))


class ScriptedProber:
    """Stands in for the network: each origin answers what the test says (OK unless set)."""

    def __init__(self, ids: Sequence[str] = REGIONS) -> None:
        self.ids = tuple(ids)
        self.outcomes: dict[str, Outcome] = {}

    def set(self, outcome: Outcome, *ids: str) -> None:
        for i in ids or self.ids:
            self.outcomes[i] = outcome

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        return {
            o.key: ProbeResult(o.key, self.outcomes.get(o.id, Outcome.OK), 0.01) for o in origins
        }


class Clock:
    """A clock that moves only when the test moves it."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def pool_plans(changes: Sequence[Change]) -> list[PoolPlan]:
    """Changes grouped into one plan per pool, in order, as the planner hands them to batching."""
    by_pool: dict[str, list[Change]] = {}
    for c in changes:
        by_pool.setdefault(c.pool, []).append(c)
    return [PoolPlan(Desired(name, ()), tuple(cs)) for name, cs in by_pool.items()]
