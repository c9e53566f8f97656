"""The README's cluster-mode cost table is what bench/cluster_cost.py prints, figure for figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "cluster_cost.py"), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line for line in result.stdout.splitlines() if line.startswith("|")]


def test_the_readme_shows_the_cost_script_s_table_unchanged() -> None:
    rows = _run()
    assert len(rows) == 6  # header, rule, 2 sizes x (steady, Region down)
    readme = (ROOT / "README.md").read_text().splitlines()
    assert [r for r in rows if r not in readme] == []


def test_an_outage_costs_more_with_more_origins_and_a_steady_round_does_not() -> None:
    """Steady views list nothing, so origins do not matter; a Region down lists a third."""
    small, large = _run("--origins", "1000")[2:], _run("--origins", "10000")[2:]
    assert small[0].split("|")[3:] == large[0].split("|")[3:]
    assert float(small[1].split("|")[6]) < float(large[1].split("|")[6])
