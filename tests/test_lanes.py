"""Slow dependencies in the daemon's mode: probing keeps its cadence while they hang."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from failover.aws.route53 import Record
from failover.metrics import Metrics
from failover.model import Change, Guard, HealthSettings, Origin, OriginKey, Outcome, ProbeResult
from failover.overrides import FileStore, Overrides
from failover.round import Runner
from failover.stages.lane import Lane
from tests.conftest import Zone
from tests.factories import Clock, ScriptedProber, make_config, make_pool

H = HealthSettings(timeout=0.5, fall=2, rise=2, hold_down=10.0, hold_down_max=80.0)
BOUND = 10.0  # seconds any wait on another thread may take before the test gives up


def wait_until(what: str, check: Callable[[], bool]) -> None:
    done = threading.Event()
    for _ in range(2000):
        if check():
            return
        done.wait(0.005)  # polling a real condition, bounded
    raise AssertionError(f"never happened: {what}")


class Gate:
    """Holds every call that passes it until released; says when one is waiting."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        assert self.release.wait(BOUND), "never released"


class HeldStore:
    """A Route 53 store whose reads or writes hang until the test releases them."""

    def __init__(self, real: object, *, reads: Gate | None = None, writes: Gate | None = None):
        self.real = real
        self.reads, self.writes = reads, writes

    def read(self, zone_id: str, names: Sequence[str]) -> dict[str, Record]:
        if self.reads is not None:
            self.reads.hold()
        return self.real.read(zone_id, names)  # type: ignore[attr-defined, no-any-return]

    def change(
        self, zone_id: str, changes: Sequence[Change], comment: str, guards: Sequence[Guard] = ()
    ) -> str:
        if self.writes is not None:
            self.writes.hold()
        return self.real.change(zone_id, changes, comment, guards)  # type: ignore[attr-defined, no-any-return]


class HeldOverrides(FileStore):
    def __init__(self, path: Path, gate: Gate) -> None:
        super().__init__(path)
        self.gate = gate

    def load(self) -> Overrides:
        self.gate.hold()
        return super().load()


class CountingProber(ScriptedProber):
    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        self.rounds += 1
        return super().probe_all(origins)


def setup(zone: Zone, tmp_path: Path, store: object, overrides: FileStore | None = None):  # type: ignore[no-untyped-def]
    pool = dataclasses.replace(make_pool(record="www.example.com", health=H), zone_id=zone.id)
    zone.put(pool, {o.id: 100 for o in pool.origins})
    prober, clock, metrics = CountingProber(), Clock(), Metrics(CollectorRegistry())
    runner = Runner(
        make_config(pool),
        prober,
        store,  # type: ignore[arg-type]
        overrides or FileStore(tmp_path / "o.json"),
        metrics,
        clock=clock,
        wall=clock,
        background=True,
    )
    return pool, prober, clock, runner


def test_a_hung_route53_read_never_holds_a_round(zone: Zone, tmp_path: Path) -> None:
    gate = Gate()
    _, prober, clock, runner = setup(zone, tmp_path, HeldStore(zone.store, reads=gate))
    for _ in range(5):
        assert runner.run_round().error == ""
        clock.t += 1.0
    assert gate.entered.is_set(), "the read is in flight"
    assert prober.rounds == 5, "every round probed while Route 53 hung"
    assert not runner.ready
    gate.release.set()
    wait_until("the read lands", lambda: runner.run_round() is not None and runner.ready)
    assert runner.records


def test_a_hung_overrides_store_never_holds_a_round_and_its_age_shows_it(
    zone: Zone, tmp_path: Path
) -> None:
    gate = Gate()
    _, prober, clock, runner = setup(
        zone, tmp_path, zone.store, HeldOverrides(tmp_path / "o.json", gate)
    )
    for _ in range(4):
        assert runner.run_round().error == ""
        clock.t += 1.0
    assert gate.entered.is_set()
    assert prober.rounds == 4
    assert runner.snapshot().overrides_age is None, "never read since start"
    gate.release.set()
    wait_until("the overrides are read", lambda: runner.run_round() and runner.overrides.known)
    clock.t += 3.0
    assert runner.snapshot().overrides_age == 3.0


def test_a_hung_write_delays_only_itself_and_lands_when_route53_answers(
    zone: Zone, tmp_path: Path
) -> None:
    gate = Gate()
    pool, prober, clock, runner = setup(zone, tmp_path, HeldStore(zone.store, writes=gate))
    a = pool.origins[0].id
    wait_until("Route 53 read", lambda: runner.run_round() is not None and runner.ready)
    prober.set(Outcome.HTTP_5XX, a)
    for _ in range(6):
        runner.run_round()
        clock.t += 1.0
    assert gate.entered.is_set(), "the write is in flight"
    assert zone.weights(pool)[a] == 100
    probed = prober.rounds
    for _ in range(3):
        runner.run_round()
    assert prober.rounds == probed + 3, "probing went on while the write hung"
    gate.release.set()
    wait_until("the change lands", lambda: zone.weights(pool)[a] == 0)
    wait_until(
        "the round takes it in",
        lambda: runner.run_round() and runner.records["www"].sets[a].weight == 0,
    )


def test_a_lane_runs_one_call_at_a_time_and_reports_it_late_once() -> None:
    clock = Clock(0.0)
    lane: Lane[int] = Lane("test", background=True, clock=clock)
    gate = Gate()

    def call() -> int:
        gate.hold()
        return 7

    lane.start(call, timeout=5.0)
    assert not lane.idle
    assert lane.take() is None
    clock.t = 6.0
    assert lane.late() == 6.0
    assert lane.late() is None, "reported once"
    gate.release.set()
    wait_until("the call ends", lambda: lane.finished)
    future = lane.take()
    assert future is not None
    assert future.result() == 7
    assert lane.idle
