"""The real `failover run` subprocess against the sandbox: faults, fail-open, freeze, CLI."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from failover.sandbox.observe import DaemonProcess, Seen, http_get
from failover.sandbox.sandbox_config import free_port
from failover.sandbox.world import REGIONS, Sandbox
from tests.e2e_support import cli, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@dataclass
class Running:
    sb: Sandbox
    daemon: DaemonProcess
    config: Path
    port: int

    def names(self, since: float = 0.0) -> list[str]:
        return [s.name for s in self.daemon.events(since)]

    def env(self) -> dict[str, str]:
        return self.sb.child_env(os.environ)


@pytest.fixture
def running(sandbox: Sandbox, tmp_path: Path) -> Iterator[Running]:
    """A fresh daemon on the module's sandbox; the world is healed and reset afterwards."""
    port = free_port()
    config = sandbox.write_config(
        tmp_path / "failover.toml",
        listen=f"127.0.0.1:{port}",
        overrides=f"file://{tmp_path}/overrides.json",
    )
    daemon = DaemonProcess(config, sandbox.child_env(os.environ))
    run = Running(sandbox, daemon, config, port)
    try:
        wait_for("/readyz", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
        wait_for("every origin up", lambda: run.names().count("origin_marked_up") == 3)
        yield run
    finally:
        daemon.kill()
        sandbox.heal()
        sandbox.set_weights(dict.fromkeys(REGIONS, 100))


FAULTS = [
    "http_503",
    "http_403",
    "http_404",
    "reset",
    "hang",
    "drip",
    "stale",
    "huge",
    "binary",
    "truncated",
]


@pytest.mark.parametrize("kind", FAULTS)
def test_a_region_fails_over_and_comes_back_for_each_fault_kind(
    running: Running, kind: str
) -> None:
    sb, region = running.sb, "eu-west-1"
    t0 = time.time()
    sb.break_bucket(region, kind)
    wait_for(f"{region} at 0", lambda: sb.records()[region] == 0, timeout=10)

    def applied_for_region() -> Seen | None:
        return running.daemon.first(
            "weights_applied", t0, lambda e: any(c["origin"] == region for c in e["changes"])
        )

    # The daemon logs weights_applied once Route 53 has answered: the record can show
    # the change before the line reaches us.
    wait_for("weights_applied for the region", lambda: applied_for_region() is not None)
    applied = applied_for_region()
    assert applied is not None
    bound = sb.timings.bound()
    assert applied.at - t0 <= bound, f"{kind}: failover {applied.at - t0:.2f}s > {bound}s"
    assert sb.records() == {region: 0, "us-east-1": 100, "ap-southeast-2": 100}
    sb.heal(region)
    wait_for(f"{region} back", lambda: sb.records()[region] == 100, timeout=10)


def test_every_region_503_fails_open_and_keeps_the_weights(running: Running) -> None:
    t0 = time.time()
    running.sb.break_all("http_503")
    wait_for("pool_failed_open", lambda: "pool_failed_open" in running.names(t0))
    rounds = len(running.daemon.events(t0, "probe_failed"))
    wait_for(
        "two more rounds", lambda: len(running.daemon.events(t0, "probe_failed")) >= rounds + 6
    )
    assert running.sb.records() == dict.fromkeys(REGIONS, 100)
    assert "weights_applied" not in running.names(t0)


def test_a_cut_network_freezes_writes_and_leaves_route53_alone(running: Running) -> None:
    t0 = time.time()
    running.sb.break_all("reset")
    wait_for("writes_frozen", lambda: "writes_frozen" in running.names(t0))
    # Well past fall rounds of nothing but failures: the probes were logged, but as
    # evidence against our own network, not against any origin.
    wait_for(
        "several blind rounds",
        lambda: (
            len(
                [
                    e
                    for e in running.daemon.events(t0, "probe_failed")
                    if e.event.get("counted") is False
                ]
            )
            >= 3 * 4
        ),
    )
    assert "origin_marked_down" not in running.names(t0)
    assert running.sb.records() == dict.fromkeys(REGIONS, 100)
    assert "weights_applied" not in running.names(t0)
    t1 = time.time()
    running.sb.heal()
    wait_for("writes_unfrozen", lambda: "writes_unfrozen" in running.names(t1))
    assert "origin_marked_down" not in running.names(t0)


def test_drain_and_undrain_through_the_cli(running: Running) -> None:
    cfg, env = str(running.config), running.env()
    r = cli("drain", "www", "us-east-1", "--reason", "maintenance", "--config", cfg, env=env)
    assert r.returncode == 0, r.stderr
    wait_for("us-east-1 drained", lambda: running.sb.records()["us-east-1"] == 0)
    assert cli("undrain", "www", "us-east-1", "--config", cfg, env=env).returncode == 0
    wait_for("us-east-1 back", lambda: running.sb.records()["us-east-1"] == 100)


def test_sighup_reload_applies_a_new_weight(running: Running) -> None:
    text = running.config.read_text()
    eu = text.index('id = "eu-west-1"')
    running.config.write_text(text[:eu] + text[eu:].replace("weight = 100", "weight = 40", 1))
    t0 = time.time()
    running.daemon.proc.send_signal(signal.SIGHUP)
    wait_for("config_reloaded", lambda: "config_reloaded" in running.names(t0))
    wait_for("eu-west-1 at 40", lambda: running.sb.records()["eu-west-1"] == 40)


def test_sigterm_during_a_slow_write_exits_cleanly_with_the_record_all_old_or_all_new(
    running: Running,
) -> None:
    """Route 53 answers writes after 2 s; SIGTERM lands while a two-set batch is on the wire."""
    sb = running.sb
    assert sb.proxy is not None
    proxy = sb.proxy
    sb.break_route53("slow", 2.0)
    before = proxy.requests("route53")
    t0 = time.time()
    sb.break_all("http_503", regions=("eu-west-1", "us-east-1"))
    wait_for(
        "a two-set batch planned",
        lambda: any(
            len(s.event["changes"]) == 2 for s in running.daemon.events(t0, "weights_planned")
        ),
    )
    wait_for("the write on the wire", lambda: proxy.requests("route53") > before)
    started = time.monotonic()
    running.daemon.proc.send_signal(signal.SIGTERM)
    assert running.daemon.proc.wait(timeout=15) == 0
    assert time.monotonic() - started < 12
    # Its last lines may still be on their way through the pipe to the reader thread.
    wait_for("daemon_stopped", lambda: "daemon_stopped" in running.names(t0))
    sb.heal()
    held = sb.records()
    assert held in (
        dict.fromkeys(REGIONS, 100),
        {"eu-west-1": 0, "us-east-1": 0, "ap-southeast-2": 100},
    ), held
