"""The systemd unit passes `systemd-analyze verify` and scores as hardened."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from .tools import DEPLOY, run, tool

UNIT = DEPLOY / "systemd" / "failover.service"
EXEC_START = "/usr/local/bin/failover run --config /etc/failover/config.toml"
MAX_EXPOSURE = 2.0


def _root(tmp_path: Path, unit_text: str, *, with_binary: bool = True) -> Path:
    """A throwaway root holding the host's stock units, our unit and a stand-in binary.

    verify resolves ExecStart= (and every unit it pulls in) under --root, so the
    daemon's absolute path must exist there; nothing is installed on the host.
    """
    tool("systemd-analyze")  # fail with a clear message before copying host units
    root = tmp_path / "root"
    units = root / "usr" / "lib" / "systemd" / "system"
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "bin").symlink_to("usr/bin")
    shutil.copy("/usr/bin/kill", root / "usr" / "bin" / "kill")
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "etc" / "systemd" / "system" / "failover.service").write_text(unit_text)
    if with_binary:
        binary = root / "usr" / "local" / "bin" / "failover"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\nexit 0\n")
        binary.chmod(0o755)
    return root


def _verify(root: Path) -> tuple[int, str]:
    result = run(tool("systemd-analyze"), "verify", f"--root={root}", "failover.service")
    return result.returncode, (result.stdout + result.stderr).strip()


def test_verify_passes_without_a_single_warning(tmp_path: Path) -> None:
    assert _verify(_root(tmp_path, UNIT.read_text())) == (0, "")


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("ProtectSystem=strict", "ProtectSystem=sideways", "protect system"),
        ("WatchdogSec=30s", "WatchdogSecs=30s", "Unknown key"),
        ("Type=notify", "Type=notified", "Failed to parse service type"),
    ],
)
def test_verify_reports_a_broken_unit(tmp_path: Path, old: str, new: str, complaint: str) -> None:
    text = UNIT.read_text()
    assert old in text
    _, output = _verify(_root(tmp_path, text.replace(old, new)))
    assert complaint in output


def test_verify_fails_when_the_daemon_binary_is_missing(tmp_path: Path) -> None:
    rc, output = _verify(_root(tmp_path, UNIT.read_text(), with_binary=False))
    assert rc != 0
    assert "/usr/local/bin/failover" in output


def _settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_runs_the_daemon_as_the_design_says() -> None:
    s = _settings()
    assert s["ExecStart"] == [EXEC_START]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Type"] == ["notify"]
    assert s["Restart"] == ["on-failure"]
    assert s["DynamicUser"] == ["yes"]
    assert s["StateDirectory"] == ["failover"]  # overrides: /var/lib/failover/overrides.json
    assert "WatchdogSec" in s
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert s["CapabilityBoundingSet"] == [""]
    assert "@system-service" in s["SystemCallFilter"]


def test_security_exposure_is_low() -> None:
    result = run(tool("systemd-analyze"), "security", "--offline=true", UNIT)
    match = re.search(r"Overall exposure level for failover\.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE
