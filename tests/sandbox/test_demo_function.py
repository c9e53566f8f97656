"""`failover demo --router function`: the daemon writes the store, router.js under Node routes."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e_support import cli

pytestmark = [pytest.mark.e2e]


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_the_function_demo_fails_over_through_the_store_and_exits_0() -> None:
    """The standby scenario: the shortest one whose steps move every weight both ways."""
    assert shutil.which("node"), "CI installs Node.js (the distribution's nodejs package)"
    r = cli("demo", "--router", "function", "--scenario", "standby", timeout=80)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert re.search(r"OK: all \d+ expectations held", r.stdout)
    assert "viewer requests go through edge_function/router.js under Node" in r.stdout
    seqs = [int(s) for s in re.findall(r"kvs_weights_applied change_id=\w+ seq=(\d+)", r.stdout)]
    # The standbys going idle, then the failover; the failback's store write may land a
    # round after Route 53's, as the daemon stops (the two sinks are written one round apart).
    assert len(seqs) >= 2, r.stdout[-3000:]
    assert seqs == sorted(seqs), "each write advances the value's sequence"


def test_without_node_the_function_demo_says_so_and_exits_non_zero(tmp_path: Path) -> None:
    """Nothing is started: the message names Node.js and how to get it."""
    python_only = tmp_path / "bin"
    python_only.mkdir()
    env = {**os.environ, "PATH": str(python_only)}
    r = cli("demo", "--router", "function", env=env, timeout=30)
    assert r.returncode == 2
    assert "no `node` is on the PATH" in r.stderr
    assert "install Node.js 20" in r.stderr
    assert "sandbox up" not in r.stdout
