"""Node for the router's tests: found, recent enough and with edge_function's locked packages, or a failure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "edge_function"
# node:module register() with `initialize` and `--import`: Node 18.19 and 20.6 on.
MINIMUM = (18, 19)
HOW = "apt-get install nodejs npm, then npm ci in edge_function/ (.ci/run does both)"


def node() -> str:
    """The node binary, failing (never skipping) the test when it is missing or too old."""
    found = shutil.which("node")
    if found is None:
        pytest.fail(f"node is not installed: {HOW}")
    version = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    match = re.fullmatch(r"v(\d+)\.(\d+)\.\d+", version)
    if match is None or (int(match[1]), int(match[2])) < MINIMUM:
        pytest.fail(f"node {version} is older than {MINIMUM[0]}.{MINIMUM[1]}: {HOW}")
    if not (EDGE / "node_modules" / "fast-check").is_dir():
        pytest.fail(f"edge_function/node_modules is missing: {HOW}")
    return found


def run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """node with the router's module hooks, from the repository root."""
    return subprocess.run(
        [node(), "--import", "./edge_function/test/register.mjs", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env={**os.environ, **(env or {})},
    )
