"""Several daemons on the same records against moto's strict Route 53: same world, different worlds."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from failover.model import Outcome
from failover.round import Runner
from tests.conftest import Zone
from tests.sim.worlds import POOL, A, B, C, Clock, ScriptedProber, runner

pytestmark = pytest.mark.slow  # several runners for many rounds on moto

ALL = {A: 100, B: 100, C: 100}


def flapping(tick: int) -> dict[str, Outcome]:
    """A flaps 4 s down / 9 s up (around fall=3, rise=2 and the 10 s hold-down); B has two outages."""
    out = {A: Outcome.HTTP_5XX if tick % 13 < 4 else Outcome.OK}
    out[B] = Outcome.TIMEOUT if 20 <= tick < 35 or 60 <= tick < 64 else Outcome.OK
    out[C] = Outcome.OK
    return out


def applied_writes(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes a daemon got Route 53 to accept (not ones it found already there)."""
    return [
        c
        for e in logs
        if e["event"] == "weights_applied" and e["route53_change"] != "already-applied"
        for c in e["changes"]
    ]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("daemons", [2, 3])
def test_daemons_that_see_the_same_world_never_lose_an_update_or_fight(
    zone: Zone, tmp_path: Path, daemons: int, capsys: pytest.CaptureFixture[str]
) -> None:
    zone.put(POOL, ALL)
    clock, prober = Clock(), ScriptedProber()
    runners = [runner(zone, tmp_path, prober, clock, resync=5.0) for _ in range(daemons)]
    rng = random.Random(daemons)
    history: list[dict[str, int]] = [zone.weights(POOL)]
    flips = 0
    with capture_logs() as logs:
        for tick in range(80):
            for oid, outcome in flapping(tick).items():
                prober.set(outcome, oid)
            order = list(runners)
            rng.shuffle(order)  # who goes first changes every round
            after: list[dict[str, int]] = []
            for r in order:
                assert r.run_round().error == ""
                after.append(zone.weights(POOL))
            # Within one tick the record may change once, never back: no fight.
            flips += sum(1 for x, y in itertools.pairwise(after) if x != y)
            assert all(a == after[0] for a in after[1:]) or len({str(a) for a in after}) == 2
            history.append(after[-1])
            desired = [r.desired["www"].weights() for r in runners]
            assert all(d == desired[0] for d in desired)  # same world, same verdict
            held = after[-1]
            assert all(held[k] == w for k, w in desired[0].items()), (tick, held, desired[0])
            assert any(held.values())
            clock.t += 1.0
    transitions = sum(1 for x, y in itertools.pairwise(history) if x != y)
    writes = applied_writes(logs)
    conflicts = sum(1 for e in logs if e["event"] == "change_conflict")
    with capsys.disabled():
        print(
            f"\n{daemons} daemons, same world: {len(writes)} changes accepted for "
            f"{transitions} transitions of the record, {conflicts} conflicts, final {history[-1]}"
        )
    # No lost update and no duplicate work: each transition of the record was written by
    # exactly one daemon's accepted change set (one change per origin that moved).
    moved = sum(sum(1 for k in x if x[k] != y.get(k)) for x, y in itertools.pairwise(history))
    assert len(writes) == moved
    assert flips == 0
    assert transitions >= 4
    # The faults end: every daemon converges on the same, full record.
    prober.set(Outcome.OK)
    for _ in range(100):
        for r in runners:
            assert r.run_round().error == ""
        clock.t += 1.0
    assert zone.weights(POOL) == ALL
    assert all(r.desired["www"].weights() == ALL for r in runners)


@pytest.mark.timeout(60)
def test_daemons_that_see_different_worlds_fight_over_the_record(
    zone: Zone, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Why a single writer (a lease) is needed: one daemon sees A down, the other sees it up."""
    zone.put(POOL, ALL)
    clock = Clock()
    blind_to_a, sees_a = ScriptedProber(), ScriptedProber()
    blind_to_a.set(Outcome.TIMEOUT, A)  # its path to A's region is broken; A is fine
    first: Runner = runner(zone, tmp_path, blind_to_a, clock, resync=5.0)
    second: Runner = runner(zone, tmp_path, sees_a, clock, resync=5.0)
    seen: list[int] = []
    with capture_logs() as logs:
        for _ in range(120):
            for r in (first, second):
                assert r.run_round().error == ""
                seen.append(zone.weights(POOL)[A])
            clock.t += 1.0
    writes = [c for c in applied_writes(logs) if c["origin"] == A]
    flips = sum(1 for x, y in itertools.pairwise(seen) if x != y)
    drift = sum(1 for e in logs if e["event"] == "drift_detected")
    with capsys.disabled():
        print(
            f"\n2 daemons, different worlds, 120 s: {len(writes)} writes of A, the record "
            f"flipped {flips} times, {drift} drift_detected, final A={seen[-1]}"
        )
    # They fight: each resync, each daemon undoes the other. Every write is a clean
    # compare-and-swap (nothing is lost silently) and the record is never all zero, but
    # A's weight oscillates for as long as their views differ.
    assert flips >= 10
    assert len(writes) >= 10
    assert drift >= 10
