"""The scheduler shell in-process: overrunning rounds are counted, never stacked."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from prometheus_client import CollectorRegistry

from failover.config import load
from failover.daemon import Daemon
from failover.metrics import Metrics
from failover.round import RoundReport
from tests.conftest import Zone
from tests.e2e_support import free_port, make_buckets, wait_for, write_config


def test_a_round_that_overruns_is_counted_and_never_runs_twice_at_once(
    zone: Zone, tmp_path: Path
) -> None:
    buckets = make_buckets(f"dmn-{uuid.uuid4().hex[:8]}")
    config_path = tmp_path / "c.toml"
    write_config(config_path, zone.id, buckets, free_port(), tmp_path)
    config = load(str(config_path), {})
    registry = CollectorRegistry()
    daemon = Daemon(config, lambda: config, metrics=Metrics(registry))
    running = 0
    most = 0
    release = threading.Event()
    lock = threading.Lock()

    def slow_round() -> RoundReport:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(10)
        with lock:
            running -= 1
        return RoundReport()

    daemon.runner.run_round = slow_round  # type: ignore[method-assign]
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for(
            "a missed round",
            lambda: (registry.get_sample_value("failover_rounds_missed_total") or 0) >= 2,
        )
    finally:
        release.set()
        daemon.stop.set()
        thread.join(timeout=10)
    assert most == 1
    assert not thread.is_alive()
