"""The daemon as a service: systemd notifications over a real socket, the canary writer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from tests.conftest import Zone
from tests.e2e_support import cli, free_port, make_buckets, pool_for, wait_for, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _setup(zone: Zone, tmp_path: Path, **health: object) -> tuple[Path, dict[str, str]]:
    buckets = make_buckets(f"svc-{uuid.uuid4().hex[:8]}")
    pool = pool_for(buckets)
    zone.put(pool, dict.fromkeys(buckets, 100))
    config = tmp_path / "failover.toml"
    write_config(config, zone.id, buckets, free_port(), tmp_path, **health)
    return config, buckets


def test_systemd_hears_start_extended_ready_after_the_first_round_then_watchdog_then_stopping(
    zone: Zone, tmp_path: Path
) -> None:
    config, _ = _setup(zone, tmp_path)
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(20)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "failover", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        messages = [sock.recv(4096).decode()]
        while not messages[-1].startswith("READY=1"):
            messages.append(sock.recv(4096).decode())
        ready = len(messages) - 1
        while messages[-1] != "WATCHDOG=1":
            messages.append(sock.recv(4096).decode())
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages[-1]:
            messages.append(sock.recv(4096).decode())
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    before = messages[:ready]
    assert any(m.startswith("EXTEND_TIMEOUT_USEC=") for m in before), before
    assert all(m.startswith(("EXTEND_TIMEOUT_USEC=", "WATCHDOG=1")) for m in before)
    assert messages[-1] == "STOPPING=1"


def test_canary_write_refreshes_the_source_bucket(zone: Zone, tmp_path: Path) -> None:
    config, buckets = _setup(zone, tmp_path)
    text = config.read_text().replace("ttl = 5\n", 'ttl = 5\ncanary_source = "eu-west-1"\n')
    config.write_text(text)
    before = time.time()
    r = cli("canary", "write", "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert f"s3://{buckets['eu-west-1']}/_failover/canary.json" in r.stdout
    body = (
        boto3.client("s3", region_name="eu-west-1")
        .get_object(Bucket=buckets["eu-west-1"], Key="_failover/canary.json")["Body"]
        .read()
    )
    written = datetime.fromisoformat(json.loads(body)["written_at"].replace("Z", "+00:00"))
    assert written.tzinfo is UTC or written.utcoffset() is not None
    assert written.timestamp() >= int(before)


def test_canary_write_without_a_source_is_a_clear_error(zone: Zone, tmp_path: Path) -> None:
    config, _ = _setup(zone, tmp_path)
    r = cli("canary", "write", "--config", str(config))
    assert r.returncode == 1
    assert "canary_source" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_stale_canary_takes_its_region_out_until_the_writer_refreshes_it(
    zone: Zone, tmp_path: Path
) -> None:
    """max_age catches stopped replication: the daemon's own writer keeps the source fresh."""
    config, buckets = _setup(zone, tmp_path, max_age=3.0)
    text = config.read_text().replace("ttl = 5\n", 'ttl = 5\ncanary_source = "eu-west-1"\n')
    text = text.replace("resync = 5.0\n", "resync = 5.0\ncanary_write_interval = 1.0\n")
    config.write_text(text)
    log = tmp_path / "d.log"
    from tests.e2e_support import events, start

    proc = start(config, log)
    try:
        pool = pool_for(buckets)
        # Nothing replicates here: the two other canaries age past max_age and go down,
        # while the source bucket's canary is rewritten every second and stays up.
        wait_for(
            "the unreplicated regions out",
            lambda: zone.weights(pool) == {"eu-west-1": 100, "us-east-1": 0, "ap-southeast-2": 0},
        )
        outcomes = {e.get("outcome") for e in events(log) if e["event"] == "probe_failed"}
        assert "too_old" in outcomes
    finally:
        proc.terminate()
        proc.wait(timeout=10)
