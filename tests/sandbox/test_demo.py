"""`failover demo` and `failover sandbox` as a user runs them, in subprocesses."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e_support import cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(180)
def test_the_demo_runs_the_whole_scenario_and_exits_0() -> None:
    r = cli("demo", timeout=170)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    out = r.stdout
    assert "FAIL" not in out
    assert re.search(r"OK: all \d+ expectations held", out)
    times = [float(t) for t in re.findall(r"PASS  failover time (\d+\.\d+)s <= bound", out)]
    assert len(times) == 4  # one per single-region fault kind
    for event in (
        "origin_marked_down",
        "weights_applied change_id=",
        "pool_failed_open",
        "writes_frozen",
        "writes_unfrozen",
    ):
        assert event in out
    took = float(re.findall(r"held in (\d+\.\d+)s", out)[0])
    assert took < 90


@pytest.mark.timeout(60)
def test_the_demo_fails_when_the_daemon_cannot_fail_over_in_time() -> None:
    """fall = 100 (the most a config allows) means 50 s to notice: the demo must say FAIL."""
    r = cli("demo", "--fall", "100", timeout=55)
    assert r.returncode == 1, r.stdout[-3000:]
    assert "FAIL  eu-west-1 marked down" in r.stdout
    assert "FAILED:" in r.stdout


def test_the_demo_rejects_an_absurd_fall_naming_the_setting() -> None:
    r = cli("demo", "--fall", "1000", timeout=30)
    assert r.returncode == 2
    assert "health.fall" in r.stderr
    assert "1000" in r.stderr


def test_failover_sandbox_prints_what_failover_run_needs_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sandbox.toml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "failover", "sandbox", "--config-out", str(config)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("config written to") or not line:
                break
        assert lines[-1].strip() == f"config written to {config}", "".join(lines)
        env = dict(os.environ)
        for line in lines:
            words = shlex.split(line)
            if words[:1] == ["export"]:
                key, _, value = words[1].partition("=")
                env[key] = value
        assert env["AWS_ENDPOINT_URL_S3"].startswith("http://127.0.0.1:")
        assert any(f"failover run --config {config}" in line for line in lines)
        status = cli("status", "--config", str(config), "--json", env=env)
        assert status.returncode == 0, status.stderr
        weights = json.loads(status.stdout)["route53"]["www"]
        assert weights == {"eu-west-1": 100, "us-east-1": 100, "ap-southeast-2": 100}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "stopping the sandbox" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_stops_the_demo_and_its_daemon_subprocess() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "failover", "demo"],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        pid = None
        deadline = time.monotonic() + 20
        while pid is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"daemon started: pid (\d+)", line)
            pid = int(found.group(1)) if found else None
        assert pid is not None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 1  # interrupted: not every expectation was seen
        assert "daemon stopped cleanly" in proc.stdout.read()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_cli_offers_every_scripted_scenario_and_no_other() -> None:
    from failover.commands.sandbox import DEMO_SCENARIOS
    from failover.sandbox.scenario import SCENARIOS

    assert set(DEMO_SCENARIOS) == set(SCENARIOS)


@pytest.mark.timeout(120)
def test_the_overrides_hang_scenario_fails_over_within_the_bound_while_the_store_hangs() -> None:
    r = cli("demo", "--scenario", "overrides-hang", timeout=110)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    out = r.stdout
    assert "FAIL" not in out
    assert "injected hang into" in out
    assert "(overrides store)" in out
    [took] = re.findall(r"PASS  failover time (\d+\.\d+)s <= bound", out)
    assert float(took) < 5
    assert "PASS  the overrides read is reported late" in out
    assert "failover_overrides_age_seconds" in out


@pytest.mark.timeout(120)
def test_the_standby_scenario_fails_a_primary_over_to_its_standby_and_back() -> None:
    r = cli("demo", "--scenario", "standby", timeout=110)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    out = r.stdout
    assert "FAIL" not in out
    assert "PASS  the daemon takes the standbys to 0 (idle)" in out
    assert "PASS  one Route 53 change takes eu-west-1 to 0 and gives us-east-1 its weight" in out
    assert "PASS  only the first standby, us-east-1, serves" in out
    assert "PASS  requests reach the standby us-east-1" in out
    assert "PASS  failback (auto): eu-west-1 back to 100 and us-east-1 idle again" in out
    assert "PASS  requests reach eu-west-1 again" in out
