"""The real daemon and CLI on the sandbox: a standby taking over and handed back, old sets retired."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from failover.model import quote_txt
from failover.sandbox.observe import DaemonProcess, http_get
from failover.sandbox.sandbox_config import free_port
from failover.sandbox.world import REGIONS, Sandbox
from tests.e2e_support import cli, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRIMARY, FIRST, SECOND = "eu-west-1", "us-east-1", "ap-southeast-2"
IDLE = {PRIMARY: 100, FIRST: 0, SECOND: 0}
OLD = "eu-west-1-old"  # the primary's id before a rename


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def world(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, healed and back to three primaries at 100 afterwards."""
    try:
        yield sandbox
    finally:
        sandbox.heal()
        if OLD in sandbox.records():
            _old_set(sandbox, "DELETE", sandbox.records()[OLD])
        sandbox.set_weights(dict.fromkeys(REGIONS, 100))


def _config(sb: Sandbox, tmp_path: Path, pool_keys: str = "", **health: object) -> Path:
    """A config whose standbys are FIRST then SECOND, with extra keys for the pool."""
    path = sb.write_config(
        tmp_path / "failover.toml",
        listen=f"127.0.0.1:{free_port()}",
        overrides=f"file://{tmp_path}/overrides.json",
        standby=(FIRST, SECOND),
        **health,
    )
    text = path.read_text()
    ttl = f"ttl = {sb.timings.ttl}\n"
    path.write_text(text.replace(ttl, ttl + pool_keys, 1))
    return path


def _start(sb: Sandbox, config: Path) -> DaemonProcess:
    daemon = DaemonProcess(config, sb.child_env(os.environ))
    port = _port(config)
    wait_for("/readyz", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
    return daemon


def _reason(config: Path, origin: str) -> str:
    """Why the running daemon gives `origin` its weight, from its /status."""
    port = _port(config)
    status, body = http_get(f"http://127.0.0.1:{port}/status")
    assert status == 200
    (pool,) = json.loads(body)["pools"]
    return str(next(o["reason"] for o in pool["origins"] if o["id"] == origin))


def _port(config: Path) -> int:
    return int(config.read_text().split('listen = "127.0.0.1:')[1].split('"')[0])


def _old_set(sb: Sandbox, action: str, weight: int) -> None:
    rrset: Any = {
        "Name": sb.record + ".",
        "Type": "TXT",
        "SetIdentifier": OLD,
        "Weight": weight,
        "TTL": sb.timings.ttl,
        "ResourceRecords": [{"Value": quote_txt(sb.endpoint(PRIMARY))}],
    }
    change: Any = {"Action": action, "ResourceRecordSet": rrset}
    sb.route53.change_resource_record_sets(
        HostedZoneId=sb.zone_id, ChangeBatch={"Comment": "by hand", "Changes": [change]}
    )


def test_manual_failback_keeps_the_standby_until_an_operator_pins_the_primary(
    world: Sandbox, tmp_path: Path
) -> None:
    world.set_weights(IDLE)
    config = _config(world, tmp_path, 'failback = "manual"\n')
    daemon = _start(world, config)
    try:
        wait_for("every origin up", lambda: len(daemon.events(0, "origin_marked_up")) == 3)
        world.break_bucket(PRIMARY, "http_503")
        wait_for(
            "the first standby serves", lambda: world.records() == {**IDLE, PRIMARY: 0, FIRST: 100}
        )
        t_heal = time.time()
        world.heal(PRIMARY)
        wait_for(
            "the primary up again",
            lambda: any(
                e.event.get("origin") == PRIMARY for e in daemon.events(t_heal, "origin_marked_up")
            ),
        )
        # Up, past its hold-down: manual failback holds it at 0, the standby keeps the pool.
        wait_for("the primary held", lambda: _reason(config, PRIMARY) == "held")
        assert world.records() == {PRIMARY: 0, FIRST: 100, SECOND: 0}
        cfg, env = str(config), world.child_env(os.environ)
        pin = cli("pin", "www", PRIMARY, "--reason", "hand back", "--config", cfg, env=env)
        assert pin.returncode == 0, pin.stderr
        wait_for("the primary serves, the standby idle", lambda: world.records() == IDLE)
        assert cli("unpin", "www", PRIMARY, "--config", cfg, env=env).returncode == 0
        wait_for("the pin gone", lambda: _reason(config, PRIMARY) == "up")
        assert world.records() == IDLE
        assert _reason(config, FIRST) == "standby"
    finally:
        daemon.kill()


def test_a_restarted_daemon_hands_a_dead_primary_to_the_idle_standby_without_failing_open(
    world: Sandbox, tmp_path: Path
) -> None:
    """An idle standby at 0 was never taken out: no hold-down from the restart keeps it idle
    (with one, the pool would fail open onto the dead primary meanwhile)."""
    world.set_weights(IDLE)
    world.break_bucket(PRIMARY, "http_503")
    daemon = _start(world, _config(world, tmp_path, hold_down=30.0))
    try:
        wait_for(
            "the first standby serves", lambda: world.records() == {**IDLE, PRIMARY: 0, FIRST: 100}
        )
        assert not daemon.events(0, "pool_failed_open")
    finally:
        daemon.kill()


def test_retire_shows_then_deletes_a_renamed_origins_old_set_once_the_daemon_took_it_to_0(
    world: Sandbox, tmp_path: Path
) -> None:
    config = _config(world, tmp_path, f'previous_ids = ["{OLD}"]\n')
    cfg, env = str(config), world.child_env(os.environ)
    retire = ("retire", "--pool", "www", "--config", cfg)
    # Every owned set at 0: nothing owned serves, so nothing is deleted.
    world.set_weights(dict.fromkeys(REGIONS, 0))
    _old_set(world, "CREATE", 0)
    refused = cli(*retire, "--apply", env=env)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "no configured origin of pool www carries weight" in refused.stderr
    assert world.records()[OLD] == 0
    # Still carrying weight: shown as waiting for the daemon, never deleted.
    world.set_weights(IDLE)
    _old_set(world, "DELETE", 0)
    _old_set(world, "CREATE", 40)
    waiting = cli(*retire, "--apply", env=env)
    assert waiting.returncode == 0, waiting.stderr
    assert f"keep {OLD} for now: it still carries weight 40" in waiting.stdout
    assert world.records()[OLD] == 40
    daemon = _start(world, config)
    try:
        wait_for("the daemon retires the old set", lambda: world.records().get(OLD) == 0)
    finally:
        daemon.kill()
    shown = cli(*retire, env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"delete {OLD} (weight 0, {world.endpoint(PRIMARY)})" in shown.stdout
    assert "add --apply" in shown.stdout
    assert world.records()[OLD] == 0
    applied = cli(*retire, "--apply", env=env)
    assert applied.returncode == 0, applied.stderr
    assert f"deleted {OLD}" in applied.stdout
    assert OLD not in world.records()
    assert world.records() == IDLE
    again = cli(*retire, "--apply", env=env)
    assert (again.returncode, again.stdout.strip()) == (0, "pool www: nothing to retire")
