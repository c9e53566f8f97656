"""systemd notifications: watchdog pings paced by WATCHDOG_USEC, start extended until READY."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from failover.config import load
from failover.daemon import Daemon
from failover.metrics import Metrics
from failover.round import RoundReport
from failover.service import EXTEND_EVERY, ServiceManager, watchdog_period
from tests.conftest import Zone
from tests.e2e_support import free_port, make_buckets, write_config


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_watchdog_period_is_half_of_watchdog_usec_for_this_process_only() -> None:
    assert watchdog_period({"WATCHDOG_USEC": "30000000"}, 7) == 15.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, 7) == 15.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"}, 7) is None
    assert watchdog_period({}, 7) is None
    assert watchdog_period({"WATCHDOG_USEC": "0"}, 7) is None


def test_pings_come_every_half_period_while_alive_and_stop_when_rounds_stop() -> None:
    clock = FakeClock()
    sent: list[str] = []
    manager = ServiceManager(lambda m: sent.append(m) or True, clock, period=15.0)
    manager.started("first round completed")
    pings = 0
    for second in range(61):
        clock.now = 1000.0 + second
        manager.step(alive=second < 40)
        assert manager.wait() <= 15.0
    pings = sent.count("WATCHDOG=1")
    assert pings == 3  # at 0, 15 and 30 s; none once rounds stopped completing at 40 s
    assert sent[0].startswith("READY=1")


def test_until_ready_the_start_timeout_is_extended_and_then_never_again() -> None:
    clock = FakeClock()
    sent: list[str] = []
    manager = ServiceManager(lambda m: sent.append(m) or True, clock, period=None)
    for second in range(35):
        clock.now = 1000.0 + second
        manager.step(alive=True)
    extends = [m for m in sent if m.startswith("EXTEND_TIMEOUT_USEC=")]
    assert len(extends) == 35 // int(EXTEND_EVERY) + 1
    assert extends[0].startswith("EXTEND_TIMEOUT_USEC=30000000\n")
    manager.started("first round completed")
    sent.clear()
    clock.now += 100
    manager.step(alive=True)
    assert sent == []
    assert manager.wait() == float("inf")


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    yield sock
    sock.close()


def test_a_first_round_that_outlasts_the_watchdog_is_pinged_and_extended_not_killed(
    zone: Zone, tmp_path: Path, notify_socket: socket.socket
) -> None:
    """Before, WATCHDOG=1 followed rounds only: a slow first round meant no ping at all."""
    buckets = make_buckets(f"svc-{uuid.uuid4().hex[:8]}")
    config_path = tmp_path / "c.toml"
    write_config(config_path, zone.id, buckets, free_port(), tmp_path)
    config = load(str(config_path), {})
    daemon = Daemon(config, lambda: config, metrics=Metrics(CollectorRegistry()))
    release = threading.Event()

    def slow_first_round() -> RoundReport:
        release.wait(10)
        return RoundReport()

    daemon.runner.run_round = slow_first_round  # type: ignore[method-assign]
    thread = threading.Thread(target=daemon.run)
    thread.start()
    heard: list[str] = []
    try:
        while heard.count("WATCHDOG=1") < 3:
            heard.append(notify_socket.recv(4096).decode())
        assert not any(m.startswith("READY=1") for m in heard)
        assert any(m.startswith("EXTEND_TIMEOUT_USEC=") for m in heard)
        release.set()
        while not heard[-1].startswith("READY=1"):
            heard.append(notify_socket.recv(4096).decode())
    finally:
        release.set()
        daemon.stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
