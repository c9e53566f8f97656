"""Whole daemons (the real Runner) on moto's strict Route 53, seeing a scripted world."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from prometheus_client import CollectorRegistry

from failover.metrics import Metrics
from failover.model import HealthSettings, Pool
from failover.overrides import FileStore
from failover.round import Runner
from tests.conftest import Zone
from tests.factories import Clock, ScriptedProber, make_config, make_pool

H = HealthSettings(timeout=0.5, fall=3, rise=2, hold_down=10.0, hold_down_max=80.0)
POOL = make_pool(record="www.example.com", health=H)
A, B, C = (o.id for o in POOL.origins)


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
