"""Regressions: four ways the fault simulation once broke a safety rule, each pinned.

Each test drives whole rounds of the real Runner against a strict Route 53 with a
scripted prober, and names the safety rule it guards.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.aws.route53 import RateLimiter, Route53Store
from failover.metrics import Metrics
from failover.model import HealthSettings, Outcome
from failover.overrides import FileStore
from failover.round import Runner
from failover.sim.mutants import mutant
from failover.sim.route53 import FakeRoute53
from failover.sim.world import SimClock
from tests.conftest import Zone
from tests.factories import ScriptedProber, make_config, make_pool, wset

H = HealthSettings(timeout=0.5, fall=3, rise=2, hold_down=10.0, hold_down_max=80.0)
POOL = make_pool(record="www.example.com", health=H)
A, B, C = (o.id for o in POOL.origins)


class Daemon:
    def __init__(self, zone: Zone, tmp: Path, **daemon: object) -> None:
        self.zone = zone
        self.t = 1_000_000.0
        self.prober = ScriptedProber()
        config = make_config(dataclasses.replace(POOL, zone_id=zone.id), **daemon)
        self.runner = Runner(
            config,
            self.prober,
            zone.store,
            FileStore(tmp / "overrides.json"),
            Metrics(CollectorRegistry()),
            clock=lambda: self.t,
        )

    def rounds(self, n: int) -> list[dict[str, int]]:
        seen = []
        for _ in range(n):
            assert self.runner.run_round().error == ""
            self.t += 1.0
            seen.append(self.zone.weights(POOL))
        return seen


def test_a_stale_view_of_the_other_sets_never_lets_a_write_zero_the_record(
    zone: Zone, tmp_path: Path
) -> None:
    """Safety rule: never write a record with every weight at 0.

    An operator takes B and C out by hand (weights 0) between two resyncs. A then fails:
    the daemon's batch swaps only A's set (DELETE A=100 + CREATE A=0), which matches, so
    Route 53 accepts it although B and C are no longer what the daemon last read. Its gate
    judged the batch against that stale view. The record ends with every weight at 0 —
    the state fail-open exists to prevent — until the next resync. The batch should
    carry the other sets as preconditions (or the daemon should re-read before taking
    weight out), so the race becomes a conflict and the pool fails open.
    """
    zone.put(POOL, {A: 100, B: 100, C: 100})
    d = Daemon(zone, tmp_path, resync=3600.0)
    d.rounds(2)
    zone.put(POOL, {B: 0, C: 0})  # by hand, in the console
    d.prober.set(Outcome.HTTP_5XX, A)
    seen = d.rounds(4)
    assert all(any(w.values()) for w in seen), seen


def test_a_blind_spell_never_takes_healthy_origins_out_afterwards(
    zone: Zone, tmp_path: Path
) -> None:
    """Safety rules: don't trust a blind prober; a healthy origin is never taken out.

    Writes are frozen while every probe fails at transport level, but health keeps
    stepping on those failures, so every origin goes down during the blind spell. A, which
    flapped shortly before, is then held down twice as long as B and C. When the network
    returns, B and C come back first and the daemon writes A to 0, although A answered
    every probe it could reach. Blind rounds should not count as evidence against origins.
    """
    zone.put(POOL, {A: 100, B: 100, C: 100})
    d = Daemon(zone, tmp_path)
    d.rounds(2)
    d.prober.set(Outcome.HTTP_5XX, A)
    d.rounds(3)  # A down (a real failure)
    d.prober.set(Outcome.OK, A)
    seen = d.rounds(12)  # back after its 10 s hold-down
    assert seen[-1][A] == 100
    d.prober.set(Outcome.TIMEOUT)  # the daemon's own network is cut
    with capture_logs() as logs:
        d.rounds(4)
    assert "writes_frozen" in {e["event"] for e in logs}
    d.prober.set(Outcome.OK)  # network back; every origin answers
    seen = d.rounds(30)
    assert all(w[A] == 100 for w in seen), [w[A] for w in seen]


def test_an_unknown_set_with_another_ttl_never_blocks_the_pools_writes(
    zone: Zone, tmp_path: Path
) -> None:
    """Safety rules: records the daemon owns (TTL corrected, unknown sets untouched) and
    failover within fall x interval + timeout + one write cycle.

    Route 53 requires every weighted set of a name to share one TTL. With an unknown
    set (not in the config) at TTL 60 and the pool configured at 30, every batch the
    daemon sends carries a TTL correction of its own sets, which Route 53 rejects
    ("weighted sets must contain the same TTL") as InvalidChangeBatch. The daemon takes
    that for a lost race, re-reads, resends the same batch, and conflicts again, every
    round: a failing origin is never taken out. It should leave the TTL alone (and report
    it) when a set it may not touch holds the name's TTL, and still write the weights.
    """
    other = make_pool(record=POOL.record, regions=("sa-east-1",), health=H)
    zone.put(other, {"sa-east-1": 5}, ttl=60)
    zone.put(POOL, {A: 100, B: 100, C: 100}, ttl=60)
    d = Daemon(zone, tmp_path)
    d.prober.set(Outcome.HTTP_5XX, A)
    with capture_logs() as logs:
        seen = d.rounds(6)
    rec = zone.store.read(zone.id, [POOL.record])[POOL.record]
    assert rec.sets["sa-east-1"] == wset(other, "sa-east-1", 5, ttl=60)  # untouched
    conflicts = [e["error"] for e in logs if e["event"] == "change_conflict" and "error" in e]
    assert seen[-1][A] == 0, conflicts[:1]


class LostAnswer:
    """Route 53 faults, call by call: a change's answer is lost, then the re-read and the
    next rounds' writes fail until the next resync."""

    def __init__(self) -> None:
        self.changes = 0
        self.lists_failing = 0

    def __call__(self, operation: str) -> str | None:
        if operation == "ChangeResourceRecordSets":
            self.changes += 1
            if self.changes == 1:
                self.lists_failing = 5  # the re-read after the conflict fails too
                return "lost"
            return "throttle" if 3 <= self.changes <= 12 else None
        if self.lists_failing:
            self.lists_failing -= 1
            return "timeout"
        return None


def lost_answer(tmp_path: Path) -> tuple[int | None, list[Any], list[Any]]:
    """Eight rounds with A failing while Route 53 loses the answer to the change taking it
    out: A's weight in Route 53 then, the changes logged as applied, and the drift found."""
    clock = SimClock()
    r53 = FakeRoute53(clock, LostAnswer())
    r53.create_zone("ZFAKE", "example.com")
    pool = dataclasses.replace(POOL, zone_id="ZFAKE")
    r53.human(
        "ZFAKE",
        [
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": pool.record + ".",
                    "Type": "TXT",
                    "SetIdentifier": o.id,
                    "Weight": 100,
                    "TTL": pool.ttl,
                    "ResourceRecords": [{"Value": f'"{o.endpoint}"'}],
                },
            }
            for o in pool.origins
        ],
    )
    store = Route53Store(
        r53,  # type: ignore[arg-type]
        RateLimiter(100.0, clock=clock, sleep=clock.sleep),
        sleep=clock.sleep,
        clock=clock,
        rand=lambda: 0.5,
    )
    prober = ScriptedProber()
    runner = Runner(
        make_config(pool, resync=3.0),
        prober,
        store,
        FileStore(tmp_path / "overrides.json"),
        Metrics(CollectorRegistry()),
        clock=clock,
    )
    prober.set(Outcome.HTTP_5XX, A)
    start = clock()
    with capture_logs() as logs:
        for n in range(8):
            clock.t = max(clock.t, start + n)
            assert runner.run_round().error == ""
    applied = [c for e in logs if e["event"] == "weights_applied" for c in e["changes"]]
    drift = [e for e in logs if e["event"] == "drift_detected"]
    return r53.weight("ZFAKE", pool.record, A), applied, drift


def test_a_change_whose_answer_was_lost_is_still_logged_as_applied(tmp_path: Path) -> None:
    """Every applied change has its log event (weights_applied, with its change id).

    Route 53 applies the change taking A out, but the answer is lost; the store retries,
    the retry conflicts (the change is already there), and the re-read that would show it
    fails. The round forgets the change. While Route 53 throttles the next writes, the
    next resync finds A at 0 and logs `drift_detected` — as if a human had done it — and,
    since 0 is what policy wants, nothing is ever logged as applied: the log and Route 53's
    change history (comment `failover <change_id>`) disagree. The round should remember
    batches whose fate is unknown and settle them when it next reads the record.
    """
    weight, applied, drift = lost_answer(tmp_path)
    assert weight == 0  # Route 53 took A out in round 3
    assert any(c["origin"] == A and c["to"] == 0 for c in applied), drift


def test_a_core_that_never_settles_a_lost_answer_fails_the_lost_answer_check(
    tmp_path: Path,
) -> None:
    """The simulation cannot tell this broken core from the real one (see CAUGHT_ELSEWHERE):
    this check must, or nothing guards the rule."""
    with mutant("lost_answer_never_settled"):
        weight, applied, _ = lost_answer(tmp_path)
    assert weight == 0
    assert not any(c["origin"] == A and c["to"] == 0 for c in applied), applied
