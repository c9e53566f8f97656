"""The real `failover run` stops within seconds on SIGTERM while a Route 53 call hangs."""

from __future__ import annotations

import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e_support import events, free_port, make_buckets, start, write_config

pytestmark = pytest.mark.e2e

STOP_WITHIN = 10.0


class Silent:
    """A TCP server on loopback that accepts, reads the request, and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.asked = threading.Event()  # a request arrived and is waiting for its answer
        self.held: list[socket.socket] = []
        self._closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            if conn.recv(65536):
                self.asked.set()
        except OSError:
            return

    def close(self) -> None:
        self._closed.set()
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent_route53(monkeypatch: pytest.MonkeyPatch) -> Iterator[Silent]:
    server = Silent()
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", server.url)  # S3 stays on moto
    yield server
    server.close()


def test_sigterm_while_route53_hangs_exits_0_within_ten_seconds(
    endpoint: str, silent_route53: Silent, tmp_path: Path
) -> None:
    buckets = make_buckets(f"stop-{uuid.uuid4().hex[:8]}")
    config = tmp_path / "failover.toml"
    write_config(config, "ZHANGS", buckets, free_port(), tmp_path)
    log = tmp_path / "daemon.log"
    proc = start(config, log)
    try:
        assert silent_route53.asked.wait(30), "the daemon never called Route 53"
        assert proc.poll() is None
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=STOP_WITHIN + 20)  # bounded; judged against 10 s below
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"stopped {took:.2f}s after SIGTERM with a Route 53 call in flight")
    assert code == 0
    assert took < STOP_WITHIN
    names = [e["event"] for e in events(log)]
    assert "stop_requested" in names
    assert "daemon_stopped" in names
