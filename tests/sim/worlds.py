"""Whole daemons (the real Runner) on moto's strict Route 53, seeing a scripted world."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from failover.metrics import Metrics
from failover.model import HealthSettings, Origin, OriginKey, Outcome, Pool, ProbeResult
from failover.overrides import FileStore
from failover.round import Runner
from tests.conftest import Zone
from tests.factories import make_config, make_pool

H = HealthSettings(timeout=0.5, fall=3, rise=2, hold_down=10.0, hold_down_max=80.0)
POOL = make_pool(record="www.example.com", health=H)
A, B, C = (o.id for o in POOL.origins)


class ScriptedProber:
    """The network as the test says: every origin answers its outcome (OK unless set)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}

    def set(self, outcome: Outcome, *ids: str) -> None:
        for i in ids or (A, B, C):
            self.outcomes[i] = outcome

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        return {
            o.key: ProbeResult(o.key, self.outcomes.get(o.id, Outcome.OK), 0.01) for o in origins
        }


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def runner(
    zone: Zone,
    tmp: Path,
    prober: ScriptedProber,
    clock: Clock,
    pool: Pool = POOL,
    **daemon: object,
) -> Runner:
    config = make_config(dataclasses.replace(pool, zone_id=zone.id), **daemon)
    return Runner(
        config,
        prober,
        zone.store,
        FileStore(tmp / "overrides.json"),
        Metrics(CollectorRegistry()),
        clock=clock,
    )
