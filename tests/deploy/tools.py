"""Paths and external tools the deployment tests use; a missing tool fails, never skips."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATES = sorted((DEPLOY / "cloudformation").glob("*.yaml"))
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """Absolute path of a command-line tool, from the venv first, then PATH."""
    local = VENV_BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; CI installs it (see .ci/run)")
    return found


def run(
    *args: str | Path, timeout: float = 120, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion and capture its output."""
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
