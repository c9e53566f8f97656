"""The deterministic fault simulation: over a thousand simulated hours clean, and every broken core caught."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import pytest

from failover.sim.cluster import simulate_cluster
from failover.sim.mutants import CAUGHT_ELSEWHERE, MIXES, MUTANTS, REPLICAS, mutant
from failover.sim.report import markdown, merge
from failover.sim.run import Result, simulate
from failover.sim.scenario import OVERRIDES_KINDS

CI_SEEDS = (11, 12, 13, 14)
CI_HOURS = 247.5  # per seed: 990 simulated hours of one daemon
# Three replicas in cluster mode (slower per hour): 990 + 10 = 1,000 simulated hours in all.
CLUSTER_SEEDS = (21, 22)
CLUSTER_HOURS = 5.0


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
    clustered = [simulate_cluster(seed, CLUSTER_HOURS) for seed in CLUSTER_SEEDS]
    single = merge(results)
    total = merge(results + clustered)
    text = "\n".join(describe(r) for r in results + clustered)
    kinds = Counter(v.invariant for v in total.violations)
    text += (
        f"\nSIMULATION: {total.hours:g} simulated hours, {total.rounds} rounds, "
        f"{sum(total.faults.values())} faults injected {dict(sorted(total.faults.items()))}, "
        f"{total.changes} changes written, {len(total.violations)} violations {dict(kinds)}, "
        f"longest failover {single.failover_max:.0f}s alone, "
        f"{merge(clustered).failover_max:.0f}s in cluster mode"
    )
    report(capsys, text)
    (tmp_path / "simulation.md").write_text(markdown(results, CI_SEEDS))
    assert total.hours >= 1000
    assert total.changes > 0
    assert set(total.faults) >= {"cutoff", "flap", "lost_response", "throttle", "human_edit"}
    assert set(merge(clustered).faults) >= {"path_cut", "pause", "kill", "table_cut"}
    assert not total.violations, text
    # fall x interval + timeout + one write cycle, for the slowest pool (fall 4, timeout 3 s)
    assert 0 < single.failover_max <= 4 * 10 + 3 + 10, single.failover_max
    # The cluster's bound is judged fault by fault (failover_within_bound); a failover
    # without a takeover needs a round more than one daemon: the views' round trip.
    assert merge(clustered).failover_max > 0, text


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
    "deadline_ignored": {"one_writer"},
    "quorum_of_live": {"no_down_on_minority"},
    "fence_not_reasserted": {"no_superseded_write", "no_flip_flop"},
}


def test_every_mutant_is_caught_by_the_simulation_or_by_a_named_test() -> None:
    assert set(MUTANTS) == set(MIXES) | set(CAUGHT_ELSEWHERE)
    assert set(CAUGHT_BY) == set(MIXES)


def run_mix(kinds: tuple[str, ...] | None, hours: float, replicas: int) -> Result:
    """One seeded run of a fault mix: one daemon, or `replicas` in cluster mode."""
    if replicas:
        return simulate_cluster(1, hours, replicas, kinds)
    return simulate(1, hours, kinds)


@functools.cache
def real_core(kinds: tuple[str, ...] | None, hours: float, replicas: int) -> Result:
    """The real core's run of a fault mix, once per mix: several mutants share one."""
    return run_mix(kinds, hours, replicas)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(MIXES))
def test_the_simulation_catches_a_deliberately_broken_core(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kinds, hours = MIXES[name]
    clean = real_core(kinds, hours, REPLICAS.get(name, 0))
    with mutant(name):
        broken = run_mix(kinds, hours, REPLICAS.get(name, 0))
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


def test_a_cluster_seed_replays_exactly() -> None:
    """Three replicas, drifting clocks, a paused leader resumed mid-send: the same again."""
    a, b = (simulate_cluster(10, 1.0, 3, ("pause", "kill", "path_cut")) for _ in range(2))
    assert (a.rounds, a.faults, a.changes, a.takeovers, a.paused_sends) == (
        b.rounds,
        b.faults,
        b.changes,
        b.takeovers,
        b.paused_sends,
    )
    assert a.paused_sends > 0
    assert a.replay == "python -m failover.sim --replicas 3 --seed 10 --hours 1"
