"""The deterministic fault simulation: over a thousand simulated hours clean, and every broken core caught."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import pytest

from failover.sim.mutants import CAUGHT_ELSEWHERE, MIXES, MUTANTS, mutant
from failover.sim.report import markdown, merge
from failover.sim.run import Result, simulate
from failover.sim.scenario import OVERRIDES_KINDS

CI_SEEDS = (11, 12, 13, 14)
CI_HOURS = 260.0  # per seed: 1,040 simulated hours in all


def report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Show `text` in pytest's output whatever the capture mode."""
    with capsys.disabled():
        print("\n" + text)


def describe(r: Result) -> str:
    lines = [r.summary()]
    lines += [f"  VIOLATION {v.invariant} at {v.at:.0f}s: {v.detail}" for v in r.violations[:20]]
    if r.violations:
        lines.append(f"  replay with: {r.replay}")
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_thousand_simulated_hours_of_faults_break_no_safety_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    results = [simulate(seed, CI_HOURS) for seed in CI_SEEDS]
    total = merge(results)
    text = "\n".join(describe(r) for r in results)
    kinds = Counter(v.invariant for v in total.violations)
    text += (
        f"\nSIMULATION: {total.hours:g} simulated hours, {total.rounds} rounds, "
        f"{sum(total.faults.values())} faults injected {dict(sorted(total.faults.items()))}, "
        f"{total.changes} changes written, {len(total.violations)} violations {dict(kinds)}, "
        f"longest failover {total.failover_max:.0f}s"
    )
    report(capsys, text)
    (tmp_path / "simulation.md").write_text(markdown(results, CI_SEEDS))
    assert total.hours >= 1000
    assert total.changes > 0
    assert set(total.faults) >= {"cutoff", "flap", "lost_response", "throttle", "human_edit"}
    assert not total.violations, text
    # fall x interval + timeout + one write cycle, for the slowest pool (fall 4, timeout 3 s)
    assert 0 < total.failover_max <= 4 * 10 + 3 + 10, total.failover_max


CAUGHT_BY = {
    "fail_open_disabled": {"never_all_zero", "failover_within_bound"},
    "hold_down_ignored": {"hold_down_respected"},
    "freeze_ignored": {"no_write_while_frozen"},
    "cas_replaced_by_upsert": {"no_lost_update"},
    "blind_rounds_counted": {"taken_out_on_evidence", "healthy_never_taken_out"},
    "raises_not_held": {"drain_kept_unread"},
    "resend_ungated": {"never_all_zero"},
    "guard_dropped": {"never_all_zero"},
    "own_fault_counted": {"healthy_never_taken_out", "no_write_while_frozen"},
    "freshness_absolute": {"source_outage_contained"},
    "standby_never_takes_over": {"live_takes_over"},
}


def test_every_mutant_is_caught_by_the_simulation_or_by_a_named_test() -> None:
    assert set(MUTANTS) == set(MIXES) | set(CAUGHT_ELSEWHERE)
    assert set(CAUGHT_BY) == set(MIXES)


@functools.cache
def real_core(kinds: tuple[str, ...] | None, hours: float) -> Result:
    """The real core's run of a fault mix, once per mix: several mutants share one."""
    return simulate(1, hours, kinds)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(MIXES))
def test_the_simulation_catches_a_deliberately_broken_core(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds, hours = MIXES[name]
    clean = real_core(kinds, hours)
    with mutant(name):
        broken = simulate(1, hours, kinds)
    found = Counter(v.invariant for v in broken.violations)
    report(
        capsys,
        f"mutant {name} ({MUTANTS[name]}): {dict(found)}; real core: "
        f"{len(clean.violations)} violations",
    )
    assert not clean.violations, describe(clean)
    assert CAUGHT_BY[name] & set(found), describe(broken)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_an_overrides_store_refusing_slow_hung_or_garbled_breaks_no_safety_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With outages, drains, pins and restarts (a restart meets a store it cannot read)."""
    r = simulate(5, 40.0, (*OVERRIDES_KINDS, "outage", "flap", "drain", "pin", "restart"))
    report(capsys, describe(r))
    assert set(r.faults) >= set(OVERRIDES_KINDS)
    assert r.changes > 0
    assert not r.violations, describe(r)


def test_a_seed_replays_exactly() -> None:
    a, b = simulate(3, 5.0), simulate(3, 5.0)
    assert (a.rounds, a.faults, a.changes, a.route53_calls) == (
        b.rounds,
        b.faults,
        b.changes,
        b.route53_calls,
    )
    assert a.replay == "python -m failover.sim --seed 3 --hours 5"
