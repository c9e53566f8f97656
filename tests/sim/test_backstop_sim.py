"""The simulation's Route 53 holds HealthCheckIds on backstop sets; no daemon write may drop one."""

from __future__ import annotations

from collections import Counter

from failover.sim.mutants import mutant
from failover.sim.run import simulate

KINDS = ("outage", "health_check")
HOURS = 3.0  # a few simulated hours: the img pool (backstop) loses and regains weights


def test_no_write_of_the_real_core_drops_a_health_check() -> None:
    r = simulate(2, HOURS, KINDS)
    assert r.changes > 0
    assert not r.violations, [(v.invariant, v.detail) for v in r.violations[:5]]


def test_the_simulation_catches_a_writer_that_drops_a_health_check() -> None:
    with mutant("health_check_dropped"):
        r = simulate(2, HOURS, KINDS)
    found = Counter(v.invariant for v in r.violations)
    assert found["health_check_kept"] > 0, dict(found)
