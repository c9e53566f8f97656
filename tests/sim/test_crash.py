"""The real `failover run` killed with SIGKILL (mid-write too) and restarted; humans editing mid-run."""

from __future__ import annotations

import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from failover.model import Pool
from tests.conftest import Zone
from tests.e2e_support import (
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
from tests.sim.proxy import Route53Proxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EU = "eu-west-1"


@dataclass
class Site:
    zone: Zone
    buckets: dict[str, str]
    pool: Pool
    config: Path
    port: int
    tmp: Path
    proxy: Route53Proxy
    runs: int = 0

    def weights(self) -> dict[str, int]:
        return self.zone.weights(self.pool)

    def start(self) -> tuple[subprocess.Popen[bytes], Path]:
        self.runs += 1
        log = self.tmp / f"daemon-{self.runs}.log"
        return start(self.config, log), log

    def ready(self, proc: subprocess.Popen[bytes]) -> None:
        wait_for("/readyz", lambda: proc.poll() is None and get(self.port, "/readyz")[0] == 200)


@pytest.fixture
def site(
    zone: Zone, tmp_path: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    buckets = make_buckets(f"crash-{uuid.uuid4().hex[:8]}")
    pool = pool_for(buckets)
    zone.put(pool, dict.fromkeys(buckets, 100))
    port = free_port()
    config = tmp_path / "failover.toml"
    write_config(config, zone.id, buckets, port, tmp_path)
    with Route53Proxy(moto_server) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", proxy.url)  # the daemon's Route 53
        yield Site(zone, buckets, pool, config, port, tmp_path, proxy)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def names(log: Path) -> list[str]:
    return [e["event"] for e in events(log)]


def planned_before_evidence(log: Path) -> list[dict[str, Any]]:
    """weights_planned events that came before any origin was marked up or down."""
    out = []
    for e in events(log):
        if e["event"] in ("origin_marked_down", "origin_marked_up"):
            return out
        if e["event"] == "weights_planned":
            out.append(e)
    return out


@pytest.mark.timeout(60)
def test_killed_mid_write_the_restarted_daemon_changes_nothing_and_converges(site: Site) -> None:
    site.proxy.hold = 5.0  # the change reaches Route 53; its answer does not come back in time
    proc, log = site.start()
    try:
        site.ready(proc)
        drop_canary(site.buckets[EU], EU)
        assert site.proxy.landed.wait(15), "the daemon never sent its change"
        kill(proc)  # SIGKILL while waiting for Route 53's answer
    finally:
        kill(proc)
    assert site.weights()[EU] == 0  # the write landed
    assert "weights_planned" in names(log)
    assert "weights_applied" not in names(log)  # it never learnt that
    site.proxy.hold = 0.0
    changes = site.proxy.changes
    proc, log = site.start()
    try:
        site.ready(proc)
        wait_for(
            "six rounds of the restarted daemon",
            lambda: sum(1 for e in events(log) if e["event"] == "probe_failed") >= 6,
        )
        assert site.proxy.changes == changes  # Route 53 already holds its verdict: no write
        assert "weights_planned" not in names(log)
        put_canary(site.buckets[EU], EU)
        wait_for("eu-west-1 back", lambda: site.weights()[EU] == 100)
        assert not planned_before_evidence(log)
    finally:
        kill(proc)


@pytest.mark.timeout(60)
def test_killed_at_random_points_it_converges_and_never_acts_without_evidence(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(20240611)
    logs, kills = [], []
    for _ in range(5):
        region = rng.choice(sorted(site.buckets))
        if rng.random() < 0.5:
            drop_canary(site.buckets[region], region)
        else:
            put_canary(site.buckets[region], region)
        site.proxy.hold = rng.choice([0.0, 0.0, 1.5])
        proc, log = site.start()
        logs.append(log)
        try:
            at = rng.uniform(0.5, 3.5)
            time.sleep(at)  # a real process, killed at a random moment of its life
            kills.append(round(at, 2))
        finally:
            kill(proc)
        assert any(site.weights().values())
    site.proxy.hold = 0.0
    for region, bucket in site.buckets.items():
        put_canary(bucket, region)
    proc, log = site.start()
    logs.append(log)
    try:
        site.ready(proc)
        wait_for("every region back", lambda: site.weights() == dict.fromkeys(site.buckets, 100))
    finally:
        kill(proc)
    with capsys.disabled():
        print(f"\nkilled at {kills} s, {site.proxy.changes} changes reached Route 53, converged")
    for log in logs:
        assert not planned_before_evidence(log), log.name


@pytest.mark.timeout(60)
def test_a_hand_edit_mid_run_is_noticed_logged_and_policy_applied_drain_included(
    site: Site,
) -> None:
    proc, log = site.start()
    try:
        site.ready(proc)
        site.zone.put(site.pool, {"us-east-1": 42})  # by hand, in the console
        wait_for("drift corrected", lambda: "drift_corrected" in names(log), timeout=20)
        assert site.weights()["us-east-1"] == 100
        detected = [e for e in events(log) if e["event"] == "drift_detected"]
        assert detected[0]["origin"] == "us-east-1"
        assert (detected[0]["expected"], detected[0]["found"]) == (100, 42)
        corrected = [e for e in events(log) if e["event"] == "drift_corrected"]
        assert corrected[0]["reason"] == "up"
        r = cli(
            "drain", "www", "ap-southeast-2", "--reason", "disk swap", "--config", str(site.config)
        )
        assert r.returncode == 0, r.stderr
        wait_for("drained", lambda: site.weights()["ap-southeast-2"] == 0)
        site.zone.put(site.pool, {"ap-southeast-2": 100})  # someone undoes the drain by hand
        wait_for(
            "drain re-applied",
            lambda: any(
                e["event"] == "drift_corrected" and e["origin"] == "ap-southeast-2"
                for e in events(log)
            ),
            timeout=20,
        )
        assert site.weights()["ap-southeast-2"] == 0
        again = [e for e in events(log) if e["event"] == "drift_corrected"][-1]
        assert (again["found"], again["weight"], again["reason"]) == (100, 0, "drained")
    finally:
        kill(proc)
