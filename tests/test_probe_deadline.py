"""The probe's overall deadline against an S3 endpoint that drips its response headers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import boto3
import pytest

from failover.aws.probe import Prober
from failover.model import HealthSettings, Origin, Outcome


@pytest.fixture
def header_drip(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An endpoint on loopback that sends a status line, then one header byte every 50 ms."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.settimeout(1.0)
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Drip: ")
                    ends = time.monotonic() + 3.0
                    while time.monotonic() < ends:
                        conn.sendall(b"a")
                        if stop.wait(0.05):  # one byte per 50 ms until the test ends
                            break
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
    yield
    stop.set()
    thread.join(timeout=5)
    server.close()


@pytest.mark.usefixtures("header_drip")
def test_the_probe_deadline_bounds_an_endpoint_that_drips_its_headers() -> None:
    """botocore's lesson applies to urllib3 too: a read timeout bounds each read, not the reply."""
    o = Origin("www", "eu-west-1", "bucket-x", "eu-west-1", 100, "k", HealthSettings(timeout=0.5))
    prober = Prober(boto3.Session())
    started = time.monotonic()
    try:
        result = prober.probe(o)
    finally:
        prober.close()
    took = time.monotonic() - started
    # The server drips for 3 s: without the deadline the probe would take that long. The
    # bound tells 0.5 s from 3 s with room for a busy machine (two test workers, two cores).
    assert took < 2.5, f"the 0.5 s probe took {took:.2f}s"
    assert result.outcome is Outcome.TIMEOUT
