"""Canary prober: one signed, bounded, single-attempt GET per origin, classified."""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import re
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.config
import botocore.credentials
import botocore.exceptions

from failover.aws import audit
from failover.aws.fetch import Fetcher, ProtocolError, Target, build
from failover.model import (
    CANARY_BYTES,
    OWN_FAULTS,
    Origin,
    OriginKey,
    Outcome,
    ProbeResult,
    outcome_for_status,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

URL_LIFETIME = 900  # seconds a presigned canary URL is valid, as S3's clock counts
URL_REFRESH = 300  # re-sign up to this long before it expires (credentials may rotate)
# Stop using a URL this long before the credentials that signed it expire: a probe in
# flight at that moment, and a clock a little off, must still find them valid.
CREDENTIALS_MARGIN = 60.0
RENEW_EVERY = 10.0  # seconds: at most one forced credential refresh this often
MAX_EXPIRES = 7 * 24 * 3600  # SigV4 presigned URLs: at most seven days
RANGE = (("Range", f"bytes=0-{CANARY_BYTES - 1}"),)
# S3 error codes that blame the request's credentials, signature or date, not the bucket.
# AWS, S3 API Reference, "Error responses": ExpiredToken "The provided token has expired"
# (400); InvalidToken "The provided token is malformed or otherwise invalid" (400);
# TokenRefreshRequired "The provided token must be refreshed" (400); RequestTimeTooSkewed
# "The difference between the request time and the server's time is too large" (403);
# SignatureDoesNotMatch "The request signature that the server calculated does not match
# the signature that you provided" (403); InvalidAccessKeyId "The AWS access key ID that
# you provided does not exist in our records" (403).
OWN_FAULT_CODES = frozenset(OWN_FAULTS[:6])
URL_EXPIRED = "RequestExpired"
CANNOT_SIGN = "CannotSign"
_CODE = re.compile(rb"<Code>([A-Za-z0-9.]{1,64})</Code>")
_MESSAGE = re.compile(rb"<Message>([^<]{0,512})</Message>")

# Every canary is fetched at its bucket's regional endpoint, BUCKET.s3.REGION.amazonaws.com,
# us-east-1 included. botocore presigns for the legacy global host BUCKET.s3.amazonaws.com
# unless told otherwise, and AWS, S3 User Guide, "Virtual hosting of general purpose
# buckets": "For S3 buckets in Regions launched after March 20, 2019, the DNS server doesn't
# route your request directly to the AWS Region where your bucket resides. It returns an
# HTTP 400 Bad Request error instead." and, for older Regions, "Amazon S3 then redirects it
# with an HTTP 307 Temporary Redirect to the correct Region" while DNS catches up ("up to
# 24 hours", AWS Knowledge Center, "S3 HTTP 307 response"). Virtual-host addressing with a
# custom endpoint that is an IP literal (the sandbox's 127.0.0.1) stays path style.
S3_CONFIG = botocore.config.Config(
    signature_version="s3v4",
    s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
)
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


def s3_error(body: bytes) -> tuple[str, str]:
    """The `<Code>` and `<Message>` of an S3 error document ("" where there is none)."""
    code, message = _CODE.search(body), _MESSAGE.search(body)
    return (
        code.group(1).decode() if code else "",
        message.group(1).decode("utf-8", "replace") if message else "",
    )


def http_date(value: str | None) -> float | None:
    """Unix time of an HTTP `Date` header, or None when absent or unreadable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


@dataclass(frozen=True)
class Signed:
    """A ready request for one canary, what S3 will check of it, and until when to use it."""

    target: Target
    amz_date: float  # X-Amz-Date: when the URL's validity starts, as S3 counts it
    expires: int  # X-Amz-Expires, seconds
    signed_at: float  # local unix time it was signed
    refresh: float  # seconds before its end it is re-signed (spread per canary)
    credentials_end: float  # unix time the signing credentials expire (inf: never)

    def usable(self, now: float, skew: float) -> bool:
        """Whether the URL can still be sent at local time `now`, S3's clock `skew` ahead.

        It must be valid when it reaches S3 by S3's clock, and the credentials that
        signed it must still be valid then, less a margin.
        """
        ahead = max(skew, 0.0)
        url_end = self.signed_at + self.expires - self.refresh
        credentials_end = self.credentials_end - CREDENTIALS_MARGIN
        return now + ahead < min(url_end, credentials_end)


def own_fault(status: int, body: bytes, date: float | None, signed: Signed) -> str | None:
    """Which of the daemon's own faults a refusal shows, or None when it may be the origin's.

    An expired presigned URL answers 403 AccessDenied "Request has expired", but
    AccessDenied is otherwise real evidence (a bucket policy, a missing object): it is
    taken for an expired URL only when S3's own `Date` is past X-Amz-Date + X-Amz-Expires.
    """
    if not 400 <= status < 500:
        return None
    code, message = s3_error(body[:CANARY_BYTES])
    if code in OWN_FAULT_CODES:
        return code
    if (
        status == 403
        and code == "AccessDenied"
        and "request has expired" in message.lower()
        and date is not None
        and date >= signed.amz_date + signed.expires
    ):
        return URL_EXPIRED
    return None


def credentials_end(session: boto3.Session) -> float:
    """Unix time the session's credentials expire; inf for keys that do not expire.

    botocore keeps the expiry of refreshable credentials (instance profile, container,
    assumed role) in `_expiry_time` and offers no public accessor.
    """
    creds = session.get_credentials()
    expiry = getattr(creds, "_expiry_time", None)
    return expiry.timestamp() if isinstance(expiry, datetime) else math.inf


def renew_session(session: boto3.Session) -> boto3.Session:
    """A session that resolves its credentials afresh; the same one when they cannot change.

    A new session runs the credential chain again (instance metadata, container
    endpoint, assumed role), so it gets whatever the provider holds now; static keys
    cannot be refreshed and re-signing is all there is to do.
    """
    creds = session.get_credentials()
    if not isinstance(creds, botocore.credentials.RefreshableCredentials):
        return session
    return boto3.Session(profile_name=session.profile_name, region_name=session.region_name)


def _query_date(url: str) -> tuple[float, int]:
    query = parse_qs(urlsplit(url).query)
    stamp = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return stamp.timestamp(), int(query["X-Amz-Expires"][0])


class Prober:
    """Probes origins concurrently, each within its own overall deadline, never retried.

    Each canary URL is presigned once and reused for minutes, as the bytes of a ready
    request; the GETs run on one event loop with connections kept alive per endpoint.
    A URL is never sent past its own expiry or its credentials', as S3's clock counts.
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        concurrency: int = 512,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        renew: Callable[[boto3.Session], boto3.Session] = renew_session,
    ) -> None:
        self._session = session or boto3.Session()
        self._clock = clock
        self._wall = wall
        self._renew = renew
        self._clients: dict[str, S3Client] = {}
        self._targets: dict[tuple[str, str, str], Signed] = {}
        self._headers: tuple[tuple[str, str], ...] = RANGE
        self._fetcher = Fetcher(concurrency)
        self._skew = 0.0  # S3's Date minus the local clock, as last seen
        self._stale = False  # S3 refused our credentials: refresh them before the next round
        self._renewed = -math.inf

    @property
    def skew(self) -> float:
        """S3's clock minus the local clock, as the last answer's `Date` showed (to 1 s)."""
        return self._skew

    def close(self) -> None:
        self._fetcher.close()

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        self._renew_if_refused()

        async def every() -> list[ProbeResult]:
            return await asyncio.gather(*(self._probe(o) for o in origins))

        return {r.key: r for r in self._fetcher.run(every())}

    def probe(self, origin: Origin) -> ProbeResult:
        """One GET of the canary, bounded to `origin.health.timeout` seconds in all."""
        self._renew_if_refused()
        return self._fetcher.run(self._probe(origin))

    def _renew_if_refused(self) -> None:
        """After S3 refused our credentials, get fresh ones and re-sign every URL.

        At most once per RENEW_EVERY seconds; the URLs S3 refused are re-signed anyway.
        """
        if not self._stale or self._clock() - self._renewed < RENEW_EVERY:
            return
        self._stale, self._renewed = False, self._clock()
        self._session = self._renew(self._session)
        self._clients.clear()
        self._targets.clear()

    async def _probe(self, origin: Origin) -> ProbeResult:
        try:
            signed = self.signed(origin)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            # Cannot sign (no credentials, a credential provider failing): the daemon's
            # own fault, no evidence about the origin.
            self._stale = True
            return ProbeResult(
                origin.key, Outcome.CREDENTIALS, 0.0, detail=CANNOT_SIGN + f": {type(e).__name__}"
            )
        except (ValueError, KeyError):
            return ProbeResult(origin.key, Outcome.CONNECTION, 0.0, detail="bad endpoint URL")
        async with self._fetcher.slot():
            started = self._clock()
            try:
                async with asyncio.timeout(origin.health.timeout):
                    audit.record("s3", "GetObject", {"Bucket": origin.bucket, "Key": origin.canary})
                    status, body, headers = await self._fetcher.get(signed.target, CANARY_BYTES)
            except TimeoutError:
                return self._result(origin, Outcome.TIMEOUT, started, detail="deadline exceeded")
            except (OSError, EOFError, ProtocolError, asyncio.LimitOverrunError, ValueError) as e:
                # No usable HTTP answer: refused, reset, TLS failure, closed early, garbled.
                return self._result(origin, Outcome.CONNECTION, started, detail=type(e).__name__)
        seen = self._wall()
        date = http_date(headers.get("date"))
        skew = None if date is None else date - seen
        if skew is not None:
            self._skew = skew
        fault = own_fault(status, body, date, signed)
        if fault is not None:
            # Not evidence against the origin: this URL is re-signed for the next probe,
            # with credentials fetched afresh.
            self._targets.pop((origin.region, origin.bucket, origin.canary), None)
            self._stale = True
            return self._result(
                origin, Outcome.CREDENTIALS, started, status, detail=fault, skew=skew
            )
        outcome, age, detail = classify(origin, status, body, seen)
        return self._result(origin, outcome, started, status, age, detail, skew)

    def _result(
        self,
        origin: Origin,
        outcome: Outcome,
        started: float,
        status: int | None = None,
        age: float | None = None,
        detail: str = "",
        skew: float | None = None,
    ) -> ProbeResult:
        latency = self._clock() - started
        return ProbeResult(origin.key, outcome, latency, status, age, detail, skew)

    def signed(self, origin: Origin) -> Signed:
        """The request for `origin`'s canary as it would go now: cached, or signed afresh."""
        ident = (origin.region, origin.bucket, origin.canary)
        now = self._wall()
        cached = self._targets.get(ident)
        if cached is not None and cached.usable(now, self._skew):
            return cached
        client = self._clients.get(origin.region)
        if client is None:
            client = self._session.client("s3", region_name=origin.region, config=S3_CONFIG)
            self._clients[origin.region] = client
        # A clock behind S3's dates the URL in S3's past: lengthen it by that much, so it
        # lives URL_LIFETIME by S3's clock. AWS, S3 User Guide, "Download and upload objects
        # with presigned URLs": a URL signed with temporary credentials cannot "be valid for
        # longer than the credentials themselves"; "If you created a presigned URL using a
        # temporary credential, the URL expires when the credential expires. This is true
        # even if the URL was created with a later expiration time." Hence its use-by below.
        expires = min(URL_LIFETIME + math.ceil(max(self._skew, 0.0)), MAX_EXPIRES)
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": origin.bucket, "Key": origin.canary},
            ExpiresIn=expires,
        )
        amz_date, expires = _query_date(url)
        # Re-sign somewhere in the last URL_REFRESH seconds of the URL's life, at a point
        # fixed per canary, so thousands of URLs signed at start are not all re-signed in
        # the same round again. Read the credentials' expiry after signing: signing is
        # when botocore refreshes them.
        spread = (zlib.crc32("/".join(ident).encode()) % 1000) / 1000
        signed = Signed(
            build(url, self._headers),
            amz_date,
            expires,
            now,
            URL_REFRESH * (1 + spread) / 2,
            credentials_end(self._session),
        )
        self._targets[ident] = signed
        return signed
