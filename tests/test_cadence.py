"""Time in the daemon: rounds on a monotonic grid, wall-clock steps that change nothing, SIGHUPs."""

from __future__ import annotations

import dataclasses
import itertools
import os
import signal
import threading
import time
import uuid
from pathlib import Path

from prometheus_client import CollectorRegistry

from failover.config import load
from failover.daemon import Cadence, Daemon
from failover.metrics import Metrics
from failover.model import HealthSettings, Outcome
from failover.overrides import FileStore
from failover.round import Runner
from tests.conftest import Zone
from tests.e2e_support import free_port, make_buckets, wait_for, write_config
from tests.factories import Clock, ScriptedProber, make_config, make_pool


def test_ticks_come_every_interval_of_the_monotonic_clock() -> None:
    c = Cadence(2.0, now=100.0)
    assert c.due(100.0) == 1
    assert c.due(101.9) == 0
    assert c.wait(101.0) == 1.0
    assert c.due(102.0) == 1
    assert c.next == 104.0


def test_a_round_that_overruns_misses_ticks_and_the_grid_goes_on() -> None:
    c = Cadence(2.0, now=0.0)
    assert c.due(0.0) == 1
    assert c.due(7.5) == 3  # ticks at 2, 4 and 6 all passed: one runs, two are missed
    assert c.next == 8.0


def test_a_reload_with_a_shorter_interval_brings_the_next_tick_closer() -> None:
    c = Cadence(60.0, now=0.0)
    c.due(0.0)
    c.retime(1.0, now=5.0)
    assert c.next == 6.0


class Wall:
    """A wall clock an operator (or NTP) can step."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def test_a_wall_clock_stepped_ten_minutes_back_and_forward_changes_no_interval_or_hold_down(
    zone: Zone, tmp_path: Path
) -> None:
    """Rounds keep their interval and a hold-down its length: only the monotonic clock counts."""
    health = HealthSettings(timeout=0.5, fall=2, rise=2, hold_down=10.0, hold_down_max=80.0)
    pool = dataclasses.replace(make_pool(record="www.example.com", health=health), zone_id=zone.id)
    a = pool.origins[0].id
    zone.put(pool, {o.id: 100 for o in pool.origins})
    mono, wall = Clock(50.0), Wall()
    prober = ScriptedProber()
    runner = Runner(
        make_config(pool),
        prober,
        zone.store,
        FileStore(tmp_path / "o.json"),
        Metrics(CollectorRegistry()),
        clock=mono,
        wall=wall,
    )
    cadence = Cadence(1.0, now=mono())
    started: list[float] = []

    def run_until(done: object, limit: int = 200) -> None:
        for _ in range(limit):
            if callable(done) and done():
                return
            mono.t += cadence.wait(mono())
            wall.t += cadence.wait(mono())
            for _ in range(cadence.due(mono())):
                started.append(mono())
                runner.run_round()
        raise AssertionError("the condition never came")

    run_until(lambda: len(started) >= 3)
    prober.set(Outcome.HTTP_5XX, a)
    run_until(lambda: zone.weights(pool)[a] == 0)
    down_at = mono()
    wall.t -= 600.0  # stepped back ten minutes
    prober.set(Outcome.OK, a)
    run_until(lambda: len(started) >= 8)
    wall.t += 1200.0  # and forward ten
    run_until(lambda: zone.weights(pool)[a] == 100)
    back_at = mono()
    gaps = {round(b - x, 6) for x, b in itertools.pairwise(started)}
    assert gaps == {1.0}, "every round one interval after the last"
    assert 10.0 <= back_at - down_at <= 10.0 + health.rise + 1, "hold-down of 10 s kept"


def test_sighups_in_a_storm_make_at_most_one_reload_per_interval(
    zone: Zone, tmp_path: Path
) -> None:
    buckets = make_buckets(f"hup-{uuid.uuid4().hex[:8]}")
    config_path = tmp_path / "c.toml"
    write_config(config_path, zone.id, buckets, free_port(), tmp_path)
    config = load(str(config_path), {})
    reloads: list[float] = []
    lock = threading.Lock()

    def reload() -> object:
        with lock:
            reloads.append(time.monotonic())
        return config

    daemon = Daemon(config, reload, metrics=Metrics(CollectorRegistry()))  # type: ignore[arg-type]
    saved = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    daemon.install_signals()
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        for _ in range(50):
            os.kill(os.getpid(), signal.SIGHUP)
        wait_for("a first reload", lambda: len(reloads) >= 1)
        for _ in range(50):
            os.kill(os.getpid(), signal.SIGHUP)
        wait_for("a second reload", lambda: len(reloads) >= 2)
    finally:
        daemon.stop.set()
        thread.join(timeout=10)
        for s, handler in saved.items():
            signal.signal(s, handler)
    assert not thread.is_alive()
    assert len(reloads) == 2, "a hundred SIGHUPs, two reloads"
    assert reloads[1] - reloads[0] >= config.daemon.interval - 0.05


def test_the_round_only_sequences_stages_in_under_two_hundred_lines() -> None:
    """The orchestrator stays small: a rule that grows into it belongs in the core."""
    lines = Path(__file__).parent.parent.joinpath("failover", "round.py").read_text().splitlines()
    assert len(lines) < 200
