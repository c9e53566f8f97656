"""The README's cluster-mode cost table is what bench/cluster_cost.py measures, figure for figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # about 10 s: 10,000 origins through three replicas on moto


@pytest.fixture(scope="module")
def printed() -> list[str]:
    """One run of the bench with its defaults (1,000 and 10,000 origins), on moto."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cluster_cost.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.splitlines()


def test_the_readme_shows_the_cost_script_s_table_unchanged(printed: list[str]) -> None:
    rows = [line for line in printed if line.startswith("|")]
    assert len(rows) == 6  # header, rule, 2 sizes x (steady, Region down)
    readme = (ROOT / "README.md").read_text().splitlines()
    assert [r for r in rows if r not in readme] == []


def test_an_outage_costs_more_with_more_origins_and_a_steady_round_does_not(
    printed: list[str],
) -> None:
    """Steady views list nothing, so origins do not matter; a Region down lists a third."""
    small_steady, small_down, large_steady, large_down = [
        line for line in printed if line.startswith("| 1")
    ]
    assert small_steady.split("|")[3:] == large_steady.split("|")[3:]
    assert float(small_down.split("|")[6]) < float(large_down.split("|")[6])


def test_the_calls_measured_are_the_ones_the_docs_describe(printed: list[str]) -> None:
    """Each replica: its view, every view, the lease, the overrides; the leader also renews."""
    calls = [line for line in printed if "calls per round" in line]
    assert len(calls) == 2
    for line in calls:
        assert "leader 2 GetItem, 2 PutItem, 1 Query;" in line
        assert "each other replica 2 GetItem, 1 PutItem, 1 Query;" in line
