"""`failover demo --replicas 3` and `failover sandbox --replicas 3` as a user runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e_support import cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(150)
def test_the_cluster_demo_survives_a_partial_view_a_killed_leader_and_a_lost_table() -> None:
    r = cli("demo", "--replicas", "3", timeout=140)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    out = r.stdout
    assert "FAIL" not in out
    assert "PASS  no change: one replica's partial view moves nothing" in out
    assert "PASS  nothing written while the table is unreachable" in out
    assert re.search(r"PASS  failover within the lease \+ bound \([\d.]+ s\): [\d.]+", out)
    assert re.search(r"OK: all \d+ expectations held", out)


def test_replicas_out_of_range_are_refused_naming_the_option() -> None:
    r = cli("demo", "--replicas", "12")
    assert r.returncode != 0
    assert "--replicas must be between 1 and 9" in r.stderr


def test_the_sandbox_gives_each_replica_its_own_path_and_config(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "failover",
            "sandbox",
            "--replicas",
            "3",
            "--config-out",
            str(tmp_path / "c.toml"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if not line or line.startswith("  # replica-3"):
                break
        text = "".join(lines)
        assert "cluster mode: table" in text
        paths = re.findall(r"# replica-\d: its path (http://127\.0\.0\.1:\d+)", text)
        assert len(set(paths)) == 3, text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
