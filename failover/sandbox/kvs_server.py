"""A CloudFront KeyValueStore data plane on loopback, for the real botocore client, with faults.

moto has only the control plane. This serves DescribeKeyValueStore, GetKey, PutKey,
UpdateKeys and ListKeys as botocore's `cloudfront-keyvaluestore` client sends them
(rest-json), reached the way FACTS.md gives: the client's endpoint is a host name that
resolves nowhere (the endpoint rules prefix the ARN's account id to it) and its proxy
is this server, which therefore receives absolute URLs. It keeps AWS's rules that the
daemon relies on: one ETag for the whole store, changed by every write; a write whose
`If-Match` is not the current ETag is a 409 ConflictException; a key or value over its
size limit is a ValidationException. Every request must carry a well-formed SigV4A
`Authorization` header (the signature itself is not verified) for the ARN's account.

Faults (`inject`): "conflict" (the next write finds another writer has moved the
store: 409, as in a race), "http_500" (InternalServerException), "slow" (the answer
waits `delay` seconds); each for the next `count` requests of the operations named.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_KEY = 512
MAX_VALUE = 1024
MAX_STORE = 5 * 1024 * 1024
_AUTH = re.compile(
    r"AWS4-ECDSA-P256-SHA256 Credential=[A-Za-z0-9]+/\d{8}/cloudfront-keyvaluestore/"
    r"aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{16,}"
)
_ARN = re.compile(r"arn:aws:cloudfront::(\d{12}):key-value-store/[A-Za-z0-9-]+")
WRITES = ("PutKey", "UpdateKeys")


@dataclass
class Fault:
    kind: str  # "conflict", "http_500" or "slow"
    operations: frozenset[str]
    count: int
    delay: float = 0.0


@dataclass
class Store:
    arn: str
    items: dict[str, str] = field(default_factory=dict)
    etag: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)

    def size(self) -> int:
        return sum(len(k.encode()) + len(v.encode()) for k, v in self.items.items())

    def moved(self) -> None:
        self.etag = uuid.uuid4().hex
        self.modified = time.time()


class KvsServer:
    """The data plane of one store, on 127.0.0.1; `proxy` is what the client's proxy is."""

    def __init__(self, arn: str) -> None:
        if not _ARN.fullmatch(arn):
            raise ValueError(f"not a KeyValueStore ARN: {arn}")
        self.store = Store(arn)
        self.lock = threading.Lock()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (operation, status) as answered
        self.refused_auth = 0
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    # The client's endpoint: `.invalid` never resolves (RFC 6761), so nothing leaks out.
    endpoint_url = "http://kvs.sandbox.invalid"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- the operator's side: faults and writes by someone else ------------------------
    def inject(
        self, kind: str, count: int = 1, operations: Iterable[str] = WRITES, delay: float = 0.0
    ) -> None:
        if kind not in ("conflict", "http_500", "slow"):
            raise ValueError(f"unknown fault {kind!r}")
        with self.lock:
            self.faults.append(Fault(kind, frozenset(operations), count, delay))

    def heal(self) -> None:
        with self.lock:
            self.faults.clear()

    def put(self, key: str, value: str) -> None:
        """Another writer puts a key: the store's ETag moves."""
        with self.lock:
            self.store.items[key] = value
            self.store.moved()

    def get(self, key: str) -> str | None:
        with self.lock:
            return self.store.items.get(key)

    def count(self, operation: str, status: str | None = None) -> int:
        with self.lock:
            return sum(1 for op, st in self.requests if op == operation and status in (None, st))

    def _fault(self, operation: str) -> Fault | None:
        for f in self.faults:
            if operation in f.operations and f.count > 0:
                f.count -= 1
                if f.count == 0:
                    self.faults.remove(f)
                return f
        return None


class _Handler(BaseHTTPRequestHandler):
    server_state: KvsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        parts = url.path.split("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(parts) < 3 or parts[1] != "key-value-stores":
            self._error(404, "UnknownOperationException", "no such operation")
            return
        arn = unquote(parts[2])
        key = unquote(parts[4]) if len(parts) > 4 and parts[3] == "keys" else None
        op = {
            ("GET", 3): "DescribeKeyValueStore",
            ("GET", 4): "ListKeys",
            ("POST", 4): "UpdateKeys",
            ("GET", 5): "GetKey",
            ("PUT", 5): "PutKey",
        }.get((self.command, len(parts)))
        if op is None:
            self._error(404, "UnknownOperationException", "no such operation")
            return
        state = self.server_state
        problem = self._auth(url.netloc or self.headers.get("Host", ""), arn)
        if problem:
            with state.lock:
                state.refused_auth += 1
                state.requests.append((op, "403"))
            self._error(403, "AccessDeniedException", problem)
            return
        with state.lock:
            fault = state._fault(op)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)  # the fault itself: an answer that takes this long
        with state.lock:
            status, headers, out = self._answer(op, arn, key, url.query, body, fault)
            state.requests.append((op, str(status)))
        self._send(status, headers, out)

    def _auth(self, host: str, arn: str) -> str:
        m = _ARN.fullmatch(arn)
        if m is None or arn != self.server_state.store.arn:
            return "no such key value store"
        if not _AUTH.fullmatch(self.headers.get("Authorization", "")):
            return "missing or malformed SigV4A Authorization header"
        if self.headers.get("X-Amz-Region-Set") is None or not self.headers.get("X-Amz-Date"):
            return "missing X-Amz-Region-Set or X-Amz-Date (SigV4A)"
        if not host.startswith(m.group(1) + "."):
            return "the host does not start with the store's account id"
        return ""

    def _answer(
        self, op: str, arn: str, key: str | None, query: str, body: bytes, fault: Fault | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        s = self.server_state.store
        if fault is not None and fault.kind == "http_500":
            return _err(500, "InternalServerException", "injected")
        if op == "DescribeKeyValueStore":
            return 200, {"ETag": s.etag}, _describe(s)
        if op == "GetKey":
            assert key is not None  # noqa: S101 - routed on the path's length
            if key not in s.items:
                return _err(404, "ResourceNotFoundException", "key not found")
            return 200, {}, {"Key": key, "Value": s.items[key], **_counts(s)}
        if op == "ListKeys":
            q = parse_qs(query)
            start = int(q.get("NextToken", ["0"])[0])
            size = int(q.get("MaxResults", ["50"])[0])
            keys = sorted(s.items)[start : start + size]
            more = start + size < len(s.items)
            page: dict[str, Any] = {"Items": [{"Key": k, "Value": s.items[k]} for k in keys]}
            if more:
                page["NextToken"] = str(start + size)
            return 200, {}, page
        if fault is not None and fault.kind == "conflict":
            s.moved()  # another writer got in first
        if self.headers.get("If-Match") != s.etag:
            return _err(409, "ConflictException", "the ETag does not match the store's")
        doc = json.loads(body or b"{}")
        puts = [{"Key": key, "Value": doc.get("Value")}] if op == "PutKey" else doc.get("Puts", [])
        deletes = [] if op == "PutKey" else [d["Key"] for d in doc.get("Deletes", [])]
        after = dict(s.items)
        for p in puts:
            k, v = p.get("Key"), p.get("Value")
            if not isinstance(k, str) or not isinstance(v, str):
                return _err(400, "ValidationException", "a key and a value are strings")
            if not 1 <= len(k.encode()) <= MAX_KEY or len(v.encode()) > MAX_VALUE:
                return _err(400, "ValidationException", "key or value over its size limit")
            after[k] = v
        for k in deletes:
            after.pop(k, None)
        if sum(len(k.encode()) + len(v.encode()) for k, v in after.items()) > MAX_STORE:
            return _err(402, "ServiceQuotaExceededException", "the store would exceed 5 MB")
        s.items = after
        s.moved()
        return 200, {"ETag": s.etag}, _counts(s)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(*_err(status, code, message))

    def _send(self, status: int, headers: dict[str, str], body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up first (a slow fault): fine


def _err(status: int, code: str, message: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    return status, {"x-amzn-ErrorType": code}, {"Message": message}


def _counts(s: Store) -> dict[str, Any]:
    return {"ItemCount": len(s.items), "TotalSizeInBytes": s.size()}


def _describe(s: Store) -> dict[str, Any]:
    return {
        "KvsARN": s.arn,
        "Created": s.created,
        "LastModified": s.modified,
        "Status": "READY",
        **_counts(s),
    }
