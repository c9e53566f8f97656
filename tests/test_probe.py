"""The prober against a real HTTP server on loopback: every outcome, deadlines, keep-alive, TLS."""

from __future__ import annotations

import json
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from failover.aws.probe import Prober
from failover.core.evidence import freshness
from failover.model import HealthSettings, Origin, Outcome


def fresh() -> bytes:
    """A canary written now (computed per answer: a suite can run for minutes)."""
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return json.dumps({"written_at": stamp}).encode()


OLD = json.dumps({"written_at": "2020-01-01T00:00:00Z"}).encode()


def answer(status: int, body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


class Canaries(socketserver.StreamRequestHandler):
    """Answers by the bucket named in the path; keeps connections alive unless told not to."""

    server: Server
    query: dict[str, list[str]]

    def handle(self) -> None:
        self.server.connections += 1
        while True:
            line = self.rfile.readline()
            if not line:
                return
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            path = line.split(b" ")[1].decode()
            bucket = path.split("/")[1]
            self.server.paths.append(path)
            self.query = parse_qs(urlsplit(path).query)
            if not self.respond(bucket):
                return

    def s3_refusal(self, status: int, code: str, message: str, date: float) -> bytes:
        """An S3 error document with S3's `Date` header, as S3 refuses a request."""
        body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
        return answer(status, body, f"Date: {formatdate(date, usegmt=True)}\r\n")

    def url_end(self) -> float:
        """X-Amz-Date + X-Amz-Expires of the request: when S3 stops accepting it."""
        stamp = datetime.strptime(self.query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
        return stamp.replace(tzinfo=UTC).timestamp() + int(self.query["X-Amz-Expires"][0])

    def respond(self, bucket: str) -> bool:
        w = self.wfile
        if bucket == "case-expiredtoken":
            # S3 refuses a URL signed with the session token "token-1" and no other.
            if self.query.get("X-Amz-Security-Token") == ["token-1"]:
                w.write(
                    self.s3_refusal(
                        400, "ExpiredToken", "The provided token has expired.", time.time()
                    )
                )
            else:
                w.write(answer(206, fresh()))
        elif bucket == "case-skewed":
            w.write(self.s3_refusal(403, "RequestTimeTooSkewed", "too large", time.time()))
        elif bucket == "case-urlexpired":  # S3's own clock past the URL's end
            w.write(self.s3_refusal(403, "AccessDenied", "Request has expired", self.url_end() + 5))
        elif bucket == "case-deniedexpired":  # the same words, but S3's clock says it is valid
            w.write(self.s3_refusal(403, "AccessDenied", "Request has expired", time.time()))
        elif bucket == "case-aheadclock":  # S3's clock 400 s ahead of ours; the URL still valid
            w.write(answer(206, fresh(), f"Date: {formatdate(time.time() + 400, usegmt=True)}\r\n"))
        elif bucket == "case-ok":
            w.write(answer(206, fresh()))
        elif bucket == "case-old":
            w.write(answer(200, OLD))
        elif bucket == "case-empty":
            # What S3 answers a `Range: bytes=0-5119` GET of a 0-byte object.
            body = b"<Error><Code>InvalidRange</Code><ActualObjectSize>0</ActualObjectSize></Error>"
            w.write(answer(416, body, "Content-Range: bytes */0\r\n"))
        elif bucket == "case-503":
            w.write(answer(503, b"<Error><Code>SlowDown</Code></Error>"))
        elif bucket == "case-403":
            w.write(answer(403, b"<Error><Code>AccessDenied</Code></Error>"))
        elif bucket == "case-404":
            w.write(answer(404, b""))
        elif bucket == "case-302":
            w.write(answer(302, b"", "Location: http://127.0.0.1:9/\r\n"))
        elif bucket == "case-chunked":
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            body = fresh()
            for i in range(0, len(body), 7):
                part = body[i : i + 7]
                w.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            w.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif bucket == "case-big":
            w.write(answer(200, fresh() + b" " * 100_000))
        elif bucket == "case-oneshot":
            w.write(answer(206, fresh()))  # then closes without saying so
            return False
        elif bucket == "case-drip":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                w.write(b"x")
                if self.server.stopping.wait(0.05):  # one byte per 50 ms until shut down
                    return False
        elif bucket == "case-hang":
            self.server.hanging.set()
            self.server.stopping.wait(10.0)  # never answers while the server runs
            return False
        elif bucket == "case-badchunk":
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            return False
        elif bucket == "case-longchunk":
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 40_000)
            return False
        elif bucket == "case-longhead":
            w.write(b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * 40_000 + b"\r\n\r\n")
            return False
        elif bucket == "case-garbage":
            w.write(b"HELLO THERE\r\n\r\n")
            return False
        else:  # case-close
            return False
        return True


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Canaries)
        self.connections = 0
        self.paths: list[str] = []
        self.hanging = threading.Event()  # set once a request is being held unanswered
        self.stopping = threading.Event()  # releases held and dripping answers
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def start(tls: ssl.SSLContext | None = None) -> Server:
    server = Server(tls)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    s = start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{s.port}")
    yield s
    s.stop()


@pytest.fixture
def prober() -> Iterator[Prober]:
    p = Prober()
    yield p
    p.close()


def origin(case: str, **health: object) -> Origin:
    settings = HealthSettings(**{"timeout": 0.4, **health})  # type: ignore[arg-type]
    return Origin("www", case, f"case-{case}", "eu-west-1", 100, "_failover/canary.json", settings)


@pytest.mark.parametrize(
    ("case", "outcome", "status"),
    [
        ("ok", Outcome.OK, 206),
        ("chunked", Outcome.OK, 200),
        ("big", Outcome.OK, 200),
        ("503", Outcome.HTTP_5XX, 503),
        ("403", Outcome.HTTP_403, 403),
        ("404", Outcome.HTTP_404, 404),
        ("302", Outcome.HTTP_OTHER, 302),
        ("close", Outcome.CONNECTION, None),
        ("garbage", Outcome.CONNECTION, None),
        ("badchunk", Outcome.CONNECTION, None),
        ("longchunk", Outcome.CONNECTION, None),
        ("longhead", Outcome.CONNECTION, None),
    ],
)
def test_each_answer_is_classified(
    server: Server, prober: Prober, case: str, outcome: Outcome, status: int | None
) -> None:
    result = prober.probe(origin(case))
    assert (result.outcome, result.status) == (outcome, status)


def test_the_canary_is_read_with_a_signed_bounded_range_get(server: Server, prober: Prober) -> None:
    result = prober.probe(origin("ok"))
    assert result.age is not None
    assert result.age < 120
    path = server.paths[-1]
    assert path.startswith("/case-ok/_failover/canary.json?")
    assert "X-Amz-Signature=" in path


def test_a_canary_without_the_expected_text_fails(server: Server, prober: Prober) -> None:
    assert prober.probe(origin("ok", expect="nowhere")).outcome is Outcome.MISMATCH
    assert prober.probe(origin("ok", expect="written_at")).outcome is Outcome.OK


@pytest.mark.parametrize("case", ["drip", "hang"])
def test_a_slow_answer_times_out_at_the_overall_deadline(
    server: Server, prober: Prober, case: str
) -> None:
    started = time.monotonic()
    result = prober.probe(origin(case, timeout=0.3))
    took = time.monotonic() - started
    assert result.outcome is Outcome.TIMEOUT
    # The server drips or holds until the test ends: without the deadline the probe would
    # never return. The upper bound only has to tell 0.3 s from "never" on a busy machine.
    assert 0.25 < took < 3.0


def test_nothing_listening_is_a_connection_failure(
    monkeypatch: pytest.MonkeyPatch, prober: Prober
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    result = prober.probe(origin("ok"))
    assert result.outcome is Outcome.CONNECTION
    assert result.outcome.transport_failure


def test_rounds_reuse_kept_alive_connections(server: Server, prober: Prober) -> None:
    origins = [origin("ok"), origin("chunked"), origin("503")]
    for _ in range(5):
        results = prober.probe_all(origins)
        assert [r.outcome for r in results.values()] == [Outcome.OK, Outcome.OK, Outcome.HTTP_5XX]
    assert len(server.paths) == 15
    assert server.connections <= 3


def test_a_connection_the_server_closed_while_idle_is_replaced_not_failed(
    server: Server, prober: Prober
) -> None:
    for _ in range(5):
        assert prober.probe(origin("oneshot")).outcome is Outcome.OK
    assert server.connections == 5


def test_a_body_left_unread_never_poisons_the_next_probe(server: Server, prober: Prober) -> None:
    for case in ("big", "ok", "drip", "ok", "big", "chunked"):
        result = prober.probe(origin(case, timeout=0.2))
        assert result.outcome is (Outcome.TIMEOUT if case == "drip" else Outcome.OK), case


def test_closing_the_prober_ends_a_round_in_flight_at_once(server: Server) -> None:
    """A stopping daemon must not wait out the probes of the round that is running."""
    prober = Prober()
    outcome: list[BaseException | dict[object, object]] = []

    def round_() -> None:
        try:
            outcome.append(prober.probe_all([origin("hang", timeout=5.0)]))
        except BaseException as e:  # noqa: BLE001 - the test inspects what the round saw
            outcome.append(e)

    worker = threading.Thread(target=round_)
    worker.start()
    assert server.hanging.wait(5), "the probe never reached the server"
    started = time.monotonic()
    prober.close()
    worker.join(timeout=3)
    assert not worker.is_alive()
    # The probe's own deadline is 5 s: 2.5 s tells closing from waiting it out, with
    # room for two test workers sharing two cores.
    assert time.monotonic() - started < 2.5
    assert len(outcome) == 1
    assert isinstance(outcome[0], Exception)
    with pytest.raises(RuntimeError, match="closed"):
        prober.probe_all([origin("ok")])


def test_probe_all_answers_for_every_origin_at_once(server: Server, prober: Prober) -> None:
    origins = [
        Origin(f"p{i}", "a", "case-ok", "eu-west-1", 100, "c.json", HealthSettings(timeout=2.0))
        for i in range(300)
    ]
    results = prober.probe_all(origins)
    assert set(results) == {o.key for o in origins}
    assert {r.outcome for r in results.values()} == {Outcome.OK}


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def test_https_endpoints_are_verified_against_the_configured_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server = start(tls)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"https://127.0.0.1:{server.port}")
        untrusting = Prober()
        try:
            assert untrusting.probe(origin("ok")).outcome is Outcome.CONNECTION
        finally:
            untrusting.close()
        monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
        trusting = Prober()
        try:
            assert [trusting.probe(origin("ok")).outcome for _ in range(3)] == [Outcome.OK] * 3
        finally:
            trusting.close()
    finally:
        server.stop()


def test_the_prober_reports_an_old_canary_s_age_and_the_pool_judges_it(
    server: Server, prober: Prober
) -> None:
    """Years old is no failure by itself (the source may be the one down); behind a
    fresh canary of the same pool, it is too old."""
    old, ok = origin("old", max_age=60.0), origin("ok", max_age=60.0)
    alone = prober.probe(old)
    assert (alone.outcome, alone.age is not None and alone.age > 86_400) == (Outcome.OK, True)
    results = prober.probe_all([old, ok])
    judged = freshness([old, ok], results).results
    assert judged[old.key].outcome is Outcome.TOO_OLD
    assert judged[ok.key].outcome is Outcome.OK


def test_an_empty_canary_answered_416_to_the_range_get_is_read_not_failed(
    server: Server, prober: Prober
) -> None:
    result = prober.probe(origin("empty"))
    assert (result.outcome, result.status, result.age) == (Outcome.OK, 416, None)
    assert server.paths[-1].startswith("/case-empty/")
    # An empty canary has no text and no written_at: a pool that asks for them fails it.
    assert prober.probe(origin("empty", expect="ok")).outcome is Outcome.MISMATCH
    assert prober.probe(origin("empty", max_age=60.0)).outcome is Outcome.MISMATCH
