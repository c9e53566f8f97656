"""Canary prober: one signed, bounded, single-attempt GET per origin, classified."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import boto3
import botocore.config
import botocore.exceptions

from failover.aws.fetch import Fetcher, ProtocolError, Target, build
from failover.model import CANARY_BYTES, Origin, OriginKey, Outcome, ProbeResult, outcome_for_status

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

URL_LIFETIME = 900  # seconds a presigned canary URL is valid
URL_REFRESH = 300  # re-sign up to this long before it expires (credentials may rotate)
RANGE = (("Range", f"bytes=0-{CANARY_BYTES - 1}"),)
EMPTY = 416  # Range Not Satisfiable: the answer to RANGE when the canary has 0 bytes


def canary_age(body: bytes, now: float) -> float | None:
    """Age of a canary that holds JSON with an RFC 3339 `written_at`, else None."""
    if body.lstrip()[:1] != b"{":
        return None  # only a JSON object carries written_at; nothing else is parsed
    try:
        doc = json.loads(body)
        stamp = doc["written_at"]
        written = (
            datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else None
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None
    if written is None or written.tzinfo is None:
        return None
    return now - written.timestamp()


def classify(
    origin: Origin, status: int, body: bytes, now: float
) -> tuple[Outcome, float | None, str]:
    """Outcome, canary age and a short detail for an HTTP answer to a canary GET.

    The age is reported, not judged: whether a canary is too old depends on the other
    canaries of its pool (`failover.core.evidence.freshness`).
    """
    if status == EMPTY:
        # S3 GetObject: "Downloads the specified byte range of an object. For more
        # information about the HTTP Range header, see RFC 9110" — and RFC 9110 (14.1.1):
        # a range "is satisfiable if ... the first-pos is less than the current length of
        # the selected representation"; otherwise the server answers 416. `bytes=0-N` is
        # unsatisfiable only when the object has no byte at all: an empty canary, read.
        status, body = 200, b""
    if status not in (200, 206):
        return outcome_for_status(status), None, f"HTTP {status}"
    age = canary_age(body, now)
    settings = origin.health
    if settings.expect and settings.expect.encode() not in body[:CANARY_BYTES]:
        return Outcome.MISMATCH, age, "expected string not found"
    if settings.max_age > 0 and age is None:
        return Outcome.MISMATCH, None, "canary has no RFC 3339 written_at"
    return Outcome.OK, age, ""


class Prober:
    """Probes origins concurrently, each within its own overall deadline, never retried.

    Each canary URL is presigned once and reused for minutes, as the bytes of a ready
    request; the GETs run on one event loop with connections kept alive per endpoint.
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        concurrency: int = 512,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._session = session or boto3.Session()
        self._clock = clock
        self._wall = wall
        self._clients: dict[str, S3Client] = {}
        self._targets: dict[tuple[str, str, str], tuple[Target, float]] = {}
        self._headers: tuple[tuple[str, str], ...] = RANGE
        self._fetcher = Fetcher(concurrency)

    def close(self) -> None:
        self._fetcher.close()

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        async def every() -> list[ProbeResult]:
            return await asyncio.gather(*(self._probe(o) for o in origins))

        return {r.key: r for r in self._fetcher.run(every())}

    def probe(self, origin: Origin) -> ProbeResult:
        """One GET of the canary, bounded to `origin.health.timeout` seconds in all."""
        return self._fetcher.run(self._probe(origin))

    async def _probe(self, origin: Origin) -> ProbeResult:
        try:
            target = self._target(origin)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            # Cannot sign (no credentials, bad endpoint): the daemon's own fault, like a
            # dead network, so it counts as no answer and can freeze writes.
            return ProbeResult(
                origin.key, Outcome.CONNECTION, 0.0, detail=f"cannot sign: {type(e).__name__}"
            )
        except ValueError:
            return ProbeResult(origin.key, Outcome.CONNECTION, 0.0, detail="bad endpoint URL")
        async with self._fetcher.slot():
            started = self._clock()
            try:
                async with asyncio.timeout(origin.health.timeout):
                    status, body = await self._fetcher.get(target, CANARY_BYTES)
            except TimeoutError:
                return self._result(origin, Outcome.TIMEOUT, started, detail="deadline exceeded")
            except (OSError, EOFError, ProtocolError, asyncio.LimitOverrunError, ValueError) as e:
                # No usable HTTP answer: refused, reset, TLS failure, closed early, garbled.
                return self._result(origin, Outcome.CONNECTION, started, detail=type(e).__name__)
        outcome, age, detail = classify(origin, status, body, self._wall())
        return self._result(origin, outcome, started, status, age, detail)

    def _result(
        self,
        origin: Origin,
        outcome: Outcome,
        started: float,
        status: int | None = None,
        age: float | None = None,
        detail: str = "",
    ) -> ProbeResult:
        return ProbeResult(origin.key, outcome, self._clock() - started, status, age, detail)

    def _target(self, origin: Origin) -> Target:
        ident = (origin.region, origin.bucket, origin.canary)
        now = self._wall()
        cached = self._targets.get(ident)
        if cached is not None and cached[1] > now:
            return cached[0]
        client = self._clients.get(origin.region)
        if client is None:
            client = self._session.client(
                "s3",
                region_name=origin.region,
                config=botocore.config.Config(signature_version="s3v4"),
            )
            self._clients[origin.region] = client
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": origin.bucket, "Key": origin.canary},
            ExpiresIn=URL_LIFETIME,
        )
        target = build(url, self._headers)
        # Re-sign somewhere in the last URL_REFRESH seconds of the URL's life, at a point
        # fixed per canary, so thousands of URLs signed at start are not all re-signed in
        # the same round again.
        spread = (zlib.crc32("/".join(ident).encode()) % 1000) / 1000
        self._targets[ident] = (target, now + URL_LIFETIME - URL_REFRESH * (1 + spread) / 2)
        return target
