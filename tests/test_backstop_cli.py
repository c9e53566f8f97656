"""`failover backstop plan|apply` and `failover status` through the real CLI, against moto's server."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from failover.sandbox import healthchecks
from tests.conftest import Zone
from tests.e2e_support import cli
from tests.test_backstop_round import arm, sets
from tests.test_round import ALL, POOL

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def config(zone: Zone, tmp_path: Path) -> tuple[Path, str]:
    healthchecks.install()  # moto keeps a CLOUDWATCH_METRIC check's alarm, as Route 53 does
    zone.put(POOL, ALL)
    namespace = f"T{uuid.uuid4().hex[:10]}"  # the session's moto is shared: alarms of our own
    lines = [
        "[daemon]",
        'listen = ""',
        f'overrides = "file://{tmp_path}/overrides.json"',
        "[backstop]",
        'region = "us-west-2"',
        f'namespace = "{namespace}"',
        "[[pools]]",
        f'name = "{POOL.name}"',
        f'record = "{POOL.record}"',
        f'zone_id = "{zone.id}"',
        f"ttl = {POOL.ttl}",
        "backstop = true",
    ]
    for o in POOL.origins:
        lines += [
            "[[pools.origins]]",
            f'id = "{o.id}"',
            f'bucket = "{o.bucket}"',
            f'region = "{o.region}"',
        ]
    path = tmp_path / "failover.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, namespace


def run(*args: str) -> Any:
    return cli(*args, env=dict(os.environ))


def test_plan_shows_what_apply_makes_and_a_second_apply_finds_nothing_to_do(
    zone: Zone, config: tuple[Path, str]
) -> None:
    path, namespace = config
    plan = run("backstop", "plan", "--config", str(path))
    assert plan.returncode == 0, plan.stderr
    assert plan.stdout.count("create alarm") == 3
    assert plan.stdout.count("create health check") == 3
    assert plan.stdout.count("attach") == 3
    assert not [rr for rr in sets(zone).values() if "HealthCheckId" in rr]  # plan wrote nothing
    done = run("backstop", "apply", "--config", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    held = sets(zone)
    assert all(rr.get("HealthCheckId") for rr in held.values())
    assert [rr["Weight"] for rr in held.values()] == [100, 100, 100]
    cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=namespace)["MetricAlarms"]
    assert {a["TreatMissingData"] for a in alarms} == {"missing"}
    again = run("backstop", "apply", "--config", str(path))
    assert again.returncode == 0
    assert "every alarm, health check and set is in place" in again.stdout
    status = run("status", "--config", str(path))
    assert status.returncode == 0, status.stderr
    for o in POOL.origins:
        assert f"health check {held[o.id]['HealthCheckId']}" in status.stdout


def test_a_set_carrying_someone_elses_health_check_is_left_alone(
    zone: Zone, config: tuple[Path, str]
) -> None:
    path, _ = config
    first = POOL.origins[0].id
    theirs = arm(zone, first)
    done = run("backstop", "apply", "--config", str(path))
    assert done.returncode == 1
    assert "carries another health check" in done.stdout
    assert sets(zone)[first]["HealthCheckId"] == theirs


def test_a_metrics_region_in_us_east_1_is_refused_before_anything_is_made(
    config: tuple[Path, str],
) -> None:
    path, _ = config
    path.write_text(path.read_text().replace('region = "us-west-2"', 'region = "us-east-1"'))
    r = run("backstop", "apply", "--config", str(path))
    assert r.returncode == 2
    assert "backstop.region" in r.stderr
    assert "control plane" in r.stderr
