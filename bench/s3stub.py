"""A fast stand-in for S3 canary GETs on loopback: asyncio, HTTP/1.1 keep-alive, no signature check.

Run as `python bench/s3stub.py [--delay SECONDS]`; it prints its port on the first line of
stdout. Any path containing a substring registered with `PUT /_fail/<substring>` answers 503
(a regional outage); `DELETE /_fail` clears them. Every other GET answers 206 with a canary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime

FAILING: set[str] = set()


def canary() -> bytes:
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return json.dumps({"written_at": stamp, "writer": "s3stub"}).encode()


def response(status: int, body: bytes, close: bool) -> bytes:
    reason = {200: "OK", 206: "Partial Content", 503: "Slow Down", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode() + body


class Stub(asyncio.Protocol):
    """One connection: parse request heads (no bodies expected), answer each in order."""

    delay = 0.0
    body = canary()
    body_at = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            close = any(h.lower() == "connection: close" for h in lines[1:])
            answer = self.answer(method, path, close)
            if self.delay > 0:
                asyncio.get_running_loop().call_later(self.delay, self.send, answer, close)
            else:
                self.send(answer, close)

    def send(self, answer: bytes, close: bool) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(answer)
        if close:
            self.transport.close()

    def answer(self, method: str, path: str, close: bool) -> bytes:
        if path.startswith("/_fail"):
            token = path.removeprefix("/_fail").strip("/")
            if method == "PUT" and token:
                FAILING.add(token)
            elif method == "DELETE":
                FAILING.clear()
            return response(200, b"{}", close)
        if any(token in path for token in FAILING):
            return response(503, b"<Error><Code>SlowDown</Code></Error>", close)
        now = time.monotonic()
        if now - Stub.body_at > 1.0:  # written_at moves on like a refreshed canary
            Stub.body, Stub.body_at = canary(), now
        return response(206, Stub.body, close)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Stub, "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    Stub.delay = args.delay
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
