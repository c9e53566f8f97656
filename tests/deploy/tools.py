"""Paths and external tools the deployment tests use; a missing tool fails, never skips."""

from __future__ import annotations

import os
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


# checkov asks PyPI for a newer version and its vendor for guidelines on
# start-up; a proxy on a closed loopback port makes those calls fail at once,
# so the tests send nothing beyond 127.0.0.1.
OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


def run(
    *args: str | Path, timeout: float = 120, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, offline, and capture its output."""
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
        env={**os.environ, **OFFLINE},
    )
