"""The real `failover` command in a subprocess against moto's server on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Zone
from tests.deploy import iam
from tests.deploy.test_task_role import role_params
from tests.e2e_support import (
    aws_record,
    cli,
    drop_canary,
    events,
    free_port,
    get,
    make_buckets,
    pool_for,
    put_canary,
    start,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    config: Path
    log: Path
    port: int
    zone: Zone
    buckets: dict[str, str]

    def weights(self) -> dict[str, int]:
        return self.zone.weights(pool_for(self.buckets))


@pytest.fixture
def daemon(zone: Zone, tmp_path: Path) -> Iterator[Running]:
    buckets = make_buckets(f"e2e-{uuid.uuid4().hex[:8]}")
    pool = pool_for(buckets)
    zone.put(pool, dict.fromkeys(buckets, 100))
    port = free_port()
    config = tmp_path / "failover.toml"
    write_config(config, zone.id, buckets, port, tmp_path)
    log = tmp_path / "daemon.log"
    proc = start(config, log)
    run = Running(proc, config, log, port, zone, buckets)
    try:
        wait_for("/readyz", lambda: get(port, "/readyz")[0] == 200)
        yield run
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Every AWS operation this test's daemon made is one daemon.yaml's task role allows.
    recorded = iam.needs(aws_record(log))
    assert recorded, "the daemon recorded no AWS operation"
    assert iam.refused(iam.task_role(role_params(zone.id, buckets)), recorded) == []


def test_a_region_fails_over_and_comes_back(daemon: Running) -> None:
    eu, bucket = "eu-west-1", daemon.buckets["eu-west-1"]
    drop_canary(bucket, eu)
    took = wait_for("eu-west-1 at weight 0", lambda: daemon.weights()[eu] == 0)
    # fall x interval + timeout + 1 s = 2.4 s; polling adds a little
    print(f"failover observed after {took:.2f}s (bound 2.4s)")
    assert daemon.weights() == {eu: 0, "us-east-1": 100, "ap-southeast-2": 100}
    put_canary(bucket, eu)
    wait_for("eu-west-1 back at 100", lambda: daemon.weights()[eu] == 100)
    names = [e["event"] for e in events(daemon.log)]
    for event in ("origin_marked_down", "weights_planned", "weights_applied", "origin_marked_up"):
        assert event in names
    applied = [e for e in events(daemon.log) if e["event"] == "weights_applied"]
    planned_ids = {e["change_id"] for e in events(daemon.log) if e["event"] == "weights_planned"}
    assert {e["change_id"] for e in applied} <= planned_ids


def test_an_applied_change_is_followed_until_route53_reports_it_in_sync(
    daemon: Running,
) -> None:
    drop_canary(daemon.buckets["eu-west-1"], "eu-west-1")

    def applied() -> list[dict[str, object]]:
        return [e for e in events(daemon.log) if e["event"] == "weights_applied"]

    wait_for("weights_applied", lambda: bool(applied()))
    change = applied()[0]

    def in_sync() -> list[dict[str, object]]:
        return [e for e in events(daemon.log) if e["event"] == "change_in_sync"]

    wait_for("change_in_sync", lambda: bool(in_sync()))
    assert in_sync()[0]["change_id"] == change["change_id"]
    assert in_sync()[0]["route53_change"] == change["route53_change"]
    metrics = get(daemon.port, "/metrics")[1].decode().splitlines()
    assert "failover_route53_propagation_seconds_count 1.0" in metrics


def test_every_region_failing_never_zeroes_the_record(daemon: Running) -> None:
    for region, bucket in daemon.buckets.items():
        drop_canary(bucket, region)
    wait_for(
        "pool_failed_open", lambda: "pool_failed_open" in [e["event"] for e in events(daemon.log)]
    )
    assert daemon.weights() == dict.fromkeys(daemon.buckets, 100)
    status = json.loads(get(daemon.port, "/status")[1])
    assert status["pools"][0]["failed_open"] is True


def test_endpoints_status_metrics_and_healthcheck(daemon: Running) -> None:
    assert "weights_applied" not in [e["event"] for e in events(daemon.log)]  # steady: no writes
    status = json.loads(get(daemon.port, "/status")[1])
    assert {o["id"] for o in status["pools"][0]["origins"]} == set(daemon.buckets)
    code, body = get(daemon.port, "/metrics")
    assert code == 200
    text = body.decode()
    for name in (
        "failover_probe_total",
        "failover_origin_healthy",
        "failover_build_info",
        "failover_probe_duration_seconds_bucket",
        "failover_round_duration_seconds_count",
    ):
        assert name in text
    lint = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert get(daemon.port, "/healthz")[0] == 200
    assert cli("healthcheck", "--config", str(daemon.config)).returncode == 0
    st = cli("status", "--config", str(daemon.config), "--json")
    assert st.returncode == 0, st.stderr
    doc = json.loads(st.stdout)
    assert doc["route53"]["www"] == dict.fromkeys(daemon.buckets, 100)
    assert doc["daemon"]["ready"] is True


def test_drain_and_undrain_through_the_cli(daemon: Running) -> None:
    cfg = str(daemon.config)
    r = cli("drain", "www", "us-east-1", "--reason", "maintenance", "--config", cfg)
    assert r.returncode == 0, r.stderr
    assert "confirmed: the daemon at" in r.stdout  # read back from its /status
    wait_for("us-east-1 drained", lambda: daemon.weights()["us-east-1"] == 0)
    # Draining the other two would leave nothing serving: refused without --force.
    assert cli("drain", "www", "eu-west-1", "--reason", "x", "--config", cfg).returncode == 0
    wait_for("eu-west-1 drained", lambda: daemon.weights()["eu-west-1"] == 0)
    refused = cli("drain", "www", "ap-southeast-2", "--reason", "x", "--config", cfg)
    assert refused.returncode == 3
    assert "no serving origin" in refused.stderr
    assert cli("undrain", "www", "us-east-1", "--config", cfg).returncode == 0
    wait_for("us-east-1 back", lambda: daemon.weights()["us-east-1"] == 100)
    status = json.loads(cli("status", "--config", cfg, "--json").stdout)
    assert [o["origin"] for o in status["overrides"]] == ["eu-west-1"]


def test_sighup_reloads_a_good_config_and_keeps_running_on_a_bad_one(daemon: Running) -> None:
    good = daemon.config.read_text()
    daemon.config.write_text(good.replace("fall = 2", "fall = 0"))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(
        "config_rejected", lambda: "config_rejected" in [e["event"] for e in events(daemon.log)]
    )
    rejected = next(e for e in events(daemon.log) if e["event"] == "config_rejected")
    assert any("fall" in p for p in rejected["problems"])
    assert get(daemon.port, "/healthz")[0] == 200
    daemon.config.write_text(good.replace("resync = 5.0", "resync = 7.0"))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(
        "config_reloaded", lambda: "config_reloaded" in [e["event"] for e in events(daemon.log)]
    )
    # Log settings take effect on reload too: console lines follow the JSON ones.
    daemon.config.write_text(good.replace('log_format = "json"', 'log_format = "console"'))
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(
        "console log lines",
        lambda: any(
            "config_reloaded" in line and not line.startswith("{")
            for line in daemon.log.read_text().splitlines()
        ),
    )


def test_sigterm_stops_the_daemon_cleanly_within_seconds(daemon: Running) -> None:
    started = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(timeout=10) == 0
    print(f"stopped in {time.monotonic() - started:.2f}s")
    assert "daemon_stopped" in [e["event"] for e in events(daemon.log)]


def test_validate_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[daemon]\nintervall = 2\n[[pools]]\nname = "www"\nrecord = "o.example.com"\n'
        'zone_id = "Z1"\n[[pools.origins]]\nid = "a"\nbucket = "My_Bucket"\n'
        'region = "europe"\nweight = 300\n'
    )
    r = cli("validate", "--config", str(bad))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 4, r.stderr
    assert any("daemon.intervall" in x for x in lines)
    assert any("pools[0].origins[0].bucket" in x and "My_Bucket" in x for x in lines)


def test_validate_accepts_the_example_config_and_failover_config_env(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "config.example.toml"
    assert cli("validate", "--config", str(example)).returncode == 0
    import os

    env = {**os.environ, "FAILOVER_CONFIG": example.read_text()}
    r = cli("validate", "--json", env=env)
    assert r.returncode == 0
    assert json.loads(r.stdout) == {"ok": True, "pools": 1, "origins": 3, "warnings": []}


def test_check_reaches_verdicts_and_writes_nothing(zone: Zone, tmp_path: Path) -> None:
    buckets = make_buckets(f"chk-{uuid.uuid4().hex[:8]}")
    pool = pool_for(buckets)
    zone.put(pool, dict.fromkeys(buckets, 100))
    drop_canary(buckets["ap-southeast-2"], "ap-southeast-2")
    config = tmp_path / "c.toml"
    write_config(config, zone.id, buckets, free_port(), tmp_path)
    r = cli("check", "--config", str(config), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["would_change"] == [
        {"pool": "www", "origin": "ap-southeast-2", "from": 100, "to": 0, "reason": "down"}
    ]
    assert zone.weights(pool) == dict.fromkeys(buckets, 100)
