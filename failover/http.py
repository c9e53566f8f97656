"""The daemon's HTTP endpoint: /metrics, /healthz, /readyz, /status."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from failover.errors import FailoverError
from failover.status import Snapshot, to_json


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class Liveness:
    """Whether rounds are completing: the last one ended less than `stale_after` ago."""

    def __init__(self, stale_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stale_after = stale_after
        self.clock = clock
        self.started = clock()
        self.last: float | None = None

    def beat(self) -> None:
        self.last = self.clock()

    def check(self) -> tuple[bool, str]:
        now = self.clock()
        if self.last is None:
            waited = now - self.started
            ok = waited < self.stale_after
            return ok, f"no round completed yet ({waited:.1f}s since start)"
        age = now - self.last
        if age < self.stale_after:
            return True, f"last round completed {age:.1f}s ago"
        return False, f"last round completed {age:.1f}s ago (limit {self.stale_after:.0f}s)"


class Endpoint:
    """A small threaded HTTP server on the configured listen address."""

    def __init__(
        self,
        listen: str,
        registry: CollectorRegistry,
        snapshot: Callable[[], Snapshot],
        liveness: Liveness,
    ) -> None:
        host, port = parse_listen(listen)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # scrapes every few seconds would drown the decision log

        ThreadingHTTPServer.allow_reuse_address = True
        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as e:
            raise FailoverError(
                f"daemon.listen {listen!r}: cannot listen: {e.strerror or e}"
            ) from e
        self.server.daemon_threads = True
        self.registry = registry
        self.snapshot = snapshot
        self.liveness = liveness
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(req, 200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            ok, why = self.liveness.check()
            self._json(req, 200 if ok else 503, {"ok": ok, "detail": why})
        elif path == "/readyz":
            snap = self.snapshot()
            # Overrides never read since start: a drain may be in force that the daemon
            # cannot see (an S3 store answering 403, a hung bucket); not ready until read.
            read = snap.overrides_age is not None
            ready = snap.ready and read
            overrides = f"read {snap.overrides_age:.1f}s ago" if read else "never read since start"
            self._json(
                req,
                200 if ready else 503,
                {"ready": ready, "rounds": snap.ready, "overrides": overrides},
            )
        elif path == "/status":
            self._json(req, 200, to_json(self.snapshot()))
        else:
            self._json(
                req,
                404,
                {"error": "not found", "paths": ["/metrics", "/healthz", "/readyz", "/status"]},
            )

    def _json(self, req: BaseHTTPRequestHandler, code: int, doc: object) -> None:
        self._send(req, code, (json.dumps(doc, indent=2) + "\n").encode(), "application/json")

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
        req.send_response(code)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)
