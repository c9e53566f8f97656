"""A fault-injecting HTTP reverse proxy in front of moto's server, telling buckets apart.

One S3 endpoint serves every region in the sandbox, so the proxy names the target of a
request by its first path segment (path-style, what botocore uses with a custom endpoint)
or by the first label of a ``BUCKET.host`` Host header; Route 53's API (``/2013-04-01/…``)
is the target ``route53`` (a fault on ``route53-change`` touches only its change batches,
ChangeResourceRecordSets: a batch held on the wire while reads go on). Requests are
forwarded unchanged (method, path, query, headers, body), so SigV4 signatures stay valid.
Faults are set per target from Python (:meth:`S3FaultProxy.break_target`) or over HTTP on
the same port::

    POST   /_sandbox/faults/BUCKET   {"kind": "http_503"}     switch a fault on
    DELETE /_sandbox/faults/BUCKET                            heal
    GET    /_sandbox/faults                                   faults and request counts
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import os
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from failover.sandbox.s3faults import HUGE_BYTES, OWN_FAULT_ANSWERS, STATUS_TEXT, Fault, Kind

__all__ = ["HUGE_BYTES", "Fault", "Kind", "S3FaultProxy", "target_of"]

CONTROL = "/_sandbox/faults"
ROUTE53 = "route53"
ROUTE53_CHANGE = "route53-change"  # ChangeResourceRecordSets only, when a fault names it
DYNAMODB = "dynamodb"  # the cluster table (failover sandbox --replicas)
ROUTE53_WRITES = "route53-writes"  # ChangeResourceRecordSets only (POST .../rrset/)
_HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade")
)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler: nothing is left behind
    block_on_close = True
    proxy: S3FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is normal here (a bounded prober does)."""


class S3FaultProxy:
    """The proxy: start on construction, `close()` releases every thread and the port."""

    def __init__(self, upstream: str, *, port: int = 0, host: str = "127.0.0.1") -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise ValueError(f"upstream must be http://HOST:PORT, got {upstream!r}")
        self.upstream = (parsed.hostname, parsed.port)
        self._faults: dict[str, Fault] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.closing = threading.Event()
        self._healed = threading.Condition(self._lock)
        self._conns: set[socket.socket] = set()
        self._server = _Server((host, port), _Handler)
        self._server.proxy = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"s3proxy-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- faults ---------------------------------------------------------------------
    def break_target(self, target: str, fault: Fault | str, seconds: float | None = None) -> None:
        """Switch a fault on for a bucket (or `route53`)."""
        self.set_faults({target: fault if isinstance(fault, Fault) else Fault.of(fault, seconds)})

    def set_faults(self, faults: dict[str, Fault]) -> None:
        """Switch several faults on at once: no request sees only some of them."""
        with self._lock:
            self._faults.update(faults)
            self._healed.notify_all()

    def heal(self, *targets: str) -> None:
        """Heal these targets, or every target when none is named."""
        with self._lock:
            for t in targets or list(self._faults):
                self._faults.pop(t, None)
            self._healed.notify_all()

    def faults(self) -> dict[str, Fault]:
        with self._lock:
            return dict(self._faults)

    def fault_for(self, target: str) -> Fault | None:
        with self._lock:
            return self._faults.get(target)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def requests(self, target: str | None = None) -> int:
        """Requests received for one target, or in total (control requests excluded)."""
        with self._lock:
            return self._counts.total() if target is None else self._counts[target]

    def count(self, target: str) -> None:
        with self._lock:
            self._counts[target] += 1

    def wait_while_broken(self, target: str, kind: Kind) -> bool:
        """Block while `target` has this fault; False if the proxy is closing."""
        with self._lock:
            while not self.closing.is_set():
                fault = self._faults.get(target)
                if fault is None or fault.kind is not kind:
                    return True
                self._healed.wait(0.1)
        return False

    # -- connections ----------------------------------------------------------------
    def track(self, sock: socket.socket, on: bool) -> None:
        with self._lock:
            if on:
                self._conns.add(sock)
            else:
                self._conns.discard(sock)

    def close(self) -> None:
        """Stop accepting, release hung and idle connections, join every thread."""
        self.closing.set()
        with self._lock:
            self._healed.notify_all()
            conns = list(self._conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> S3FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def target_of(path: str, host: str, amz_target: str = "") -> str:
    """The bucket a request is for (or `route53`, `dynamodb`, or "" for the service root)."""
    if path.startswith("/2013-04-01/"):
        return ROUTE53
    if amz_target.startswith("DynamoDB_"):  # the JSON protocol names its operation here
        return DYNAMODB
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    first = name.split(".", 1)[0]
    if "." in name and not first.isdigit() and name != "localhost":
        return first
    return urllib.parse.urlsplit(path).path.lstrip("/").split("/", 1)[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.proxy.track(self.connection, on=True)

    def finish(self) -> None:
        self.server.proxy.track(self.connection, on=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sandbox's users read the daemon's log, not the proxy's."""

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET  # noqa: N815 - http.server's names

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        proxy = self.server.proxy
        body = self._body()
        if self.path.startswith(CONTROL):
            self._control(body)
            return
        target = target_of(
            self.path, self.headers.get("Host", ""), self.headers.get("X-Amz-Target", "")
        )
        proxy.count(target)
        fault = proxy.fault_for(target)
        if target == ROUTE53 and self.command == "POST" and "/rrset" in self.path:
            proxy.count(ROUTE53_CHANGE)
            if (own := proxy.fault_for(ROUTE53_CHANGE)) is not None:
                target, fault = ROUTE53_CHANGE, own
            else:
                fault = proxy.fault_for(ROUTE53_WRITES) or fault
        kind = None if fault is None else fault.kind
        if kind is Kind.HANG:
            if not proxy.wait_while_broken(target, Kind.HANG):
                self.close_connection = True
                return
            kind = None
        if fault is not None and kind in (Kind.HTTP_503, Kind.HTTP_403, Kind.HTTP_404):
            status = int(kind.value.removeprefix("http_"))
            self._error(status)
        elif kind in OWN_FAULT_ANSWERS:
            self._own_fault(OWN_FAULT_ANSWERS[kind], late=kind is Kind.URL_EXPIRED)
        elif kind is Kind.RESET:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif kind is Kind.HUGE:
            self._hostile(200, HUGE_BYTES, b"\x00garbage" * 8)
        elif kind is Kind.BINARY:
            self._send(200, {"Content-Type": "application/json"}, os.urandom(4096))
        elif kind is Kind.TRUNCATED:
            self._hostile(200, 4096, b'{"written_at": "', sent=20)
        elif kind is Kind.EMPTY and self.command == "GET":
            self._empty()
        else:
            self._forward(body, fault)

    # -- answers --------------------------------------------------------------------
    def _send(
        self, status: int, headers: dict[str, str], body: bytes, *, drip: float = 0.0
    ) -> None:
        self.send_response_only(status)
        for k, v in headers.items():
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if drip <= 0:
            self.wfile.write(body)
            return
        closing = self.server.proxy.closing
        for i in range(len(body)):
            if closing.wait(drip):
                self.close_connection = True
                return
            self.wfile.write(body[i : i + 1])

    def _error(self, status: int) -> None:
        code = STATUS_TEXT[status]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>injected by the sandbox</Message>"
            "<RequestId>SANDBOX</RequestId></Error>"
        ).encode()
        self._send(status, {"Content-Type": "application/xml"}, body)

    def _own_fault(self, answer: tuple[int, str, str], *, late: bool) -> None:
        """S3 refusing the request for the signer's fault, with S3's `Date` header.

        For an expired URL S3's clock is, by definition, past X-Amz-Date + X-Amz-Expires:
        the `Date` says so (a prober that trusts the message alone cannot tell).
        """
        status, code, message = answer
        now = time.time()
        if late:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            try:
                stamp = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
                end = stamp.replace(tzinfo=UTC).timestamp() + int(query["X-Amz-Expires"][0])
                now = max(now, end + 1.0)
            except (KeyError, IndexError, ValueError):
                pass  # not a presigned request: S3's clock as it is
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            "<RequestId>SANDBOX</RequestId></Error>"
        ).encode()
        headers = {
            "Content-Type": "application/xml",
            "Date": email.utils.formatdate(now, usegmt=True),
        }
        self._send(status, headers, body)

    def _empty(self) -> None:
        """A 0-byte object. `bytes=0-N` is unsatisfiable on it (RFC 9110, 14.1.1: a range
        is satisfiable only if its first-pos is less than the representation's length):
        S3 answers 416 InvalidRange; without a Range, a 200 with no body."""
        if self.headers.get("Range"):
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                "<Error><Code>InvalidRange</Code><Message>The requested range is not "
                "satisfiable</Message><RangeRequested>"
                + self.headers["Range"]
                + "</RangeRequested>"
                "<ActualObjectSize>0</ActualObjectSize><RequestId>SANDBOX</RequestId></Error>"
            ).encode()
            headers = {"Content-Type": "application/xml", "Content-Range": "bytes */0"}
            self._send(416, headers, body)
        else:
            self._send(200, {"Content-Type": "application/json"}, b"")

    def _hostile(self, status: int, length: int, pattern: bytes, sent: int | None = None) -> None:
        """Announce `length` bytes; send them all (or only `sent`, then close)."""
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.close_connection = True
        todo = length if sent is None else sent
        block = (pattern * (65536 // len(pattern) + 1))[:65536]
        try:
            while todo > 0 and not self.server.proxy.closing.is_set():
                piece = block[: min(todo, len(block))]
                self.wfile.write(piece)
                todo -= len(piece)
        except OSError:
            pass  # the client stopped reading, as a bounded prober does

    def _forward(self, body: bytes, fault: Fault | None) -> None:
        proxy = self.server.proxy
        if fault is not None and fault.kind is Kind.SLOW and proxy.closing.wait(fault.seconds):
            self.close_connection = True
            return
        host, port = proxy.upstream
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.connect()
            assert conn.sock is not None  # noqa: S101 - connect() sets it
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                    conn.putheader(k, v)
            if body or self.command in ("PUT", "POST"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = dict(resp.getheaders())
            status = resp.status
        except OSError:
            self._send(502, {"Content-Type": "text/plain"}, b"sandbox upstream unreachable")
            return
        finally:
            conn.close()
        if fault is not None and fault.kind is Kind.STALE:
            data, headers = _staled(data, headers, fault.seconds)
        if fault is not None and fault.kind is Kind.FUTURE:
            data, headers = _staled(data, headers, -fault.seconds)
        drip = fault.seconds if fault is not None and fault.kind is Kind.DRIP else 0.0
        self._send(status, headers, data, drip=drip)

    def _control(self, body: bytes) -> None:
        proxy = self.server.proxy
        target = self.path[len(CONTROL) :].strip("/")
        if self.command == "GET" and not target:
            doc = {
                "faults": {
                    t: {"kind": f.kind.value, "seconds": f.seconds}
                    for t, f in proxy.faults().items()
                },
                "requests": proxy.counts(),
            }
            self._json(200, doc)
        elif self.command == "POST" and target:
            try:
                doc = json.loads(body or b"{}")
                fault = Fault.of(doc["kind"], doc.get("seconds"))
            except (ValueError, KeyError, TypeError) as e:
                self._json(400, {"error": f'body must be {{"kind": KIND}}: {e}'})
                return
            proxy.break_target(target, fault)
            self._json(200, {"target": target, "kind": fault.kind.value})
        elif self.command == "DELETE":
            if target:
                proxy.heal(target)
            else:
                proxy.heal()
            self._json(200, {"healed": target or "*"})
        else:
            self._json(405, {"error": f"{self.command} {self.path} is not a control request"})

    def _json(self, status: int, doc: object) -> None:
        self._send(status, {"Content-Type": "application/json"}, json.dumps(doc).encode())


def _staled(data: bytes, headers: dict[str, str], age: float) -> tuple[bytes, dict[str, str]]:
    """Rewrite a JSON canary's written_at to `age` seconds ago (ahead if negative)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data, headers
    if not isinstance(doc, dict) or "written_at" not in doc:
        return data, headers
    stamp = datetime.fromtimestamp(time.time() - age, UTC).isoformat(timespec="seconds")
    doc["written_at"] = stamp.replace("+00:00", "Z")
    new = (json.dumps(doc) + "\n").encode()
    out = {k: v for k, v in headers.items() if k.lower() not in ("content-range", "etag")}
    if any(k.lower() == "content-range" for k in headers):
        out["Content-Range"] = f"bytes 0-{len(new) - 1}/{len(new)}"
    return new, out
