"""Rounds while the overrides store cannot be read: raises held for the grace, then released."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.metrics import Metrics
from failover.model import HealthSettings, Outcome
from failover.overrides import S3_CLIENT, FileStore, OverrideStore, S3Store
from failover.round import Runner
from failover.sandbox.faults import overrides_fault
from failover.sandbox.s3proxy import S3FaultProxy
from tests.conftest import Zone
from tests.factories import Clock, ScriptedProber, make_config, make_pool

H = HealthSettings(timeout=0.5, fall=2, rise=2, hold_down=5.0, hold_down_max=40.0)
POOL = make_pool(record="www.example.com", health=H)
A, B, C = (o.id for o in POOL.origins)
GRACE = 30.0


@pytest.fixture
def refusing(endpoint: str) -> Iterator[S3Store]:
    """An S3 overrides store that answers 403 AccessDenied, as without s3:ListBucket."""
    with S3FaultProxy(endpoint) as proxy:
        bucket = f"ovr-{uuid.uuid4().hex[:10]}"
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
        client = boto3.client(
            "s3", region_name="us-east-1", endpoint_url=proxy.url, config=S3_CLIENT
        )
        proxy.break_target(bucket, overrides_fault("refuse"))
        yield S3Store(bucket, "failover/overrides.json", client)
        client.close()


def runner(zone: Zone, store: OverrideStore, clock: Clock, prober: ScriptedProber) -> Runner:
    config = make_config(
        dataclasses.replace(POOL, zone_id=zone.id), overrides_grace=GRACE, interval=1.0
    )
    metrics = Metrics(CollectorRegistry())
    r = Runner(config, prober, zone.store, store, metrics, clock=clock, wall=clock)
    metrics.watch(r.snapshot)
    return r


def rounds(r: Runner, clock: Clock, n: int) -> list[str]:
    seen: list[str] = []
    for _ in range(n):
        with capture_logs() as logs:
            assert r.run_round().error == ""
        seen += [e["event"] for e in logs]
        clock.t += 1.0
    return seen


def test_a_refusing_store_holds_a_recovery_only_for_the_grace_and_says_when_it_ends(
    zone: Zone, refusing: S3Store
) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    clock, prober = Clock(), ScriptedProber()
    r = runner(zone, refusing, clock, prober)
    never = lambda: r.metrics.registry.get_sample_value("failover_overrides_never_read")  # noqa: E731
    prober.set(Outcome.HTTP_5XX, A)
    seen = rounds(r, clock, 4)
    assert zone.weights(POOL)[A] == 0  # lowering never waits for the overrides
    assert "overrides_unreadable" in seen
    prober.set(Outcome.OK, A)
    seen = rounds(r, clock, 10)  # rise and hold-down are over: the raise waits
    assert "increase_held" in seen
    assert zone.weights(POOL)[A] == 0
    assert never() == 1.0
    assert r.snapshot().overrides_age is None  # /readyz answers 503
    seen = rounds(r, clock, int(GRACE))
    assert seen.count("overrides_grace_ended") == 1
    assert zone.weights(POOL)[A] == 100
    assert never() == 1.0  # still never read: the alert keeps firing


def test_a_store_read_once_holds_nothing_and_exports_that_it_was_read(
    zone: Zone, tmp_path: Path
) -> None:
    zone.put(POOL, {A: 0, B: 100, C: 100})
    clock, prober = Clock(), ScriptedProber()
    r = runner(zone, FileStore(tmp_path / "overrides.json"), clock, prober)
    seen = rounds(r, clock, 8)
    assert "increase_held" not in seen
    assert "overrides_grace_ended" not in seen
    assert zone.weights(POOL)[A] == 100
    assert r.metrics.registry.get_sample_value("failover_overrides_never_read") == 0.0
