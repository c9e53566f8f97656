"""Non-blocking canary GETs: one event loop, kept-alive connections per endpoint, bounded reads.

Thousands of probes a second are mostly waiting on the network. One event loop keeps
any number of them in flight without a thread each, and a request built once per
presigned URL is sent as bytes: no URL parsing, header building or header parsing by
a general-purpose client on every probe.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import threading
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
HEAD_LIMIT = 16384  # bytes of status line and headers accepted
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class ProtocolError(Exception):
    """The peer answered something that is not an HTTP/1.x response."""


class _UnansweredError(Exception):
    """The connection ended before the first byte of an answer."""


@dataclass(frozen=True)
class Target:
    """Where to send one prebuilt GET, and the request's bytes."""

    tls: bool
    host: str
    port: int
    request: bytes

    @property
    def endpoint(self) -> tuple[bool, str, int]:
        return self.tls, self.host, self.port


def build(url: str, headers: Iterable[tuple[str, str]]) -> Target:
    """A GET of `url` as bytes on the wire (HTTP/1.1, keep-alive)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: failover-probe"]
    lines += [f"{k}: {v}" for k, v in headers]
    return Target(tls, parts.hostname, port, ("\r\n".join(lines) + "\r\n\r\n").encode())


def tls_context() -> ssl.SSLContext:
    """Verify certificates as botocore does: the system's CAs, or AWS_CA_BUNDLE."""
    return ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)


class Fetcher:
    """Runs GETs on an event loop of its own thread; callers block on `run`."""

    def __init__(self, concurrency: int = 512, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._idle: dict[tuple[bool, str, int], list[Conn]] = {}
        self._loop = asyncio.new_event_loop()
        self._slots = asyncio.Semaphore(concurrency)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="probe-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("the prober is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Cancel what is in flight (a waiting `run` raises CancelledError), then stop."""
        if self._loop.is_closed():
            return
        self.run(self._cancel_and_close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _cancel_and_close(self) -> None:
        here = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not here]
        for task in tasks:
            task.cancel()
        # Wait for them to unwind (closing their connections, telling their callers).
        await asyncio.gather(*tasks, return_exceptions=True)
        self._close_idle()

    def _close_idle(self) -> None:
        for conns in self._idle.values():
            for _, writer in conns:
                writer.close()
        self._idle.clear()

    def slot(self) -> asyncio.Semaphore:
        """Bounds the probes in flight; taken before a probe's deadline starts."""
        return self._slots

    async def get(self, target: Target, limit: int) -> tuple[int, bytes, dict[str, str]]:
        """Status, up to `limit` bytes of the body and the headers (names in lowercase).

        The caller bounds the time.
        """
        conn = self._take(target.endpoint)
        if conn is not None:
            try:
                return await self._exchange(conn, target, limit)
            except _UnansweredError:
                pass  # the server closed the idle connection as we reused it: not an answer
        conn = await self._open(target)
        try:
            return await self._exchange(conn, target, limit)
        except _UnansweredError as e:
            raise ConnectionResetError("connection closed before an answer") from e

    def _take(self, endpoint: tuple[bool, str, int]) -> Conn | None:
        conns = self._idle.get(endpoint)
        while conns:
            reader, writer = conns.pop()
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _open(self, target: Target) -> Conn:
        tls = None
        if target.tls:
            if self._tls is None:
                self._tls = tls_context()
            tls = self._tls
        return await asyncio.open_connection(
            target.host, target.port, ssl=tls, limit=HEAD_LIMIT * 2
        )

    async def _exchange(
        self, conn: Conn, target: Target, limit: int
    ) -> tuple[int, bytes, dict[str, str]]:
        reader, writer = conn
        reusable = False
        try:
            writer.write(target.request)
            try:
                head = await _read_head(reader)
            except ConnectionError as e:
                raise _UnansweredError from e
            except asyncio.IncompleteReadError as e:
                if e.partial:
                    raise
                raise _UnansweredError from e
            status, headers = _parse_head(head)
            body, reusable = await _read_body(reader, headers, status, limit)
            reusable = reusable and headers.get("connection", "").lower() != "close"
            return status, body, headers
        finally:
            if reusable:
                self._idle.setdefault(target.endpoint, []).append(conn)
            else:
                writer.close()


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as e:
        raise ProtocolError("response headers too long") from e


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError("not an HTTP/1.x status line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(
    reader: asyncio.StreamReader, headers: dict[str, str], status: int, limit: int
) -> tuple[bytes, bool]:
    """Up to `limit` bytes of body, and whether the connection can carry another request."""
    if status in (204, 304) or 100 <= status < 200:
        return b"", True
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, limit)
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ProtocolError("bad Content-Length")
        size = int(length)
        body = await reader.readexactly(min(size, limit))
        return body, size <= limit
    return await reader.read(limit), False  # delimited by close: never reused


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        line = await reader.readuntil(b"\r\n")
        try:
            n = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as e:
            raise ProtocolError("bad chunk size") from e
        if n == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers, up to the empty line that ends the message
            return b"".join(chunks)[:limit], True
        data = await reader.readexactly(n + 2)
        chunks.append(data[:-2])
        size += n
    return b"".join(chunks)[:limit], False
