"""The S3 fault proxy's faults: what a broken target does, and how S3 words its own errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """How a broken target misbehaves."""

    HTTP_503 = "http_503"
    HTTP_403 = "http_403"
    HTTP_404 = "http_404"
    RESET = "reset"  # close the connection with a TCP RST
    HANG = "hang"  # read the request, never answer until healed or closed
    DRIP = "drip"  # the real answer, one byte at a time
    STALE = "stale"  # the canary's written_at rewritten to hours ago
    FUTURE = "future"  # the canary's written_at rewritten to `seconds` ahead (a fast clock)
    EMPTY = "empty"  # every object read as 0 bytes: a Range GET gets 416, as S3 answers
    SLOW = "slow"  # the real answer after `seconds`
    HUGE = "huge"  # a 200 with a multi-megabyte body
    BINARY = "binary"  # a 200 with bytes that are not text
    TRUNCATED = "truncated"  # Content-Length larger than the body sent, then close
    # The daemon's own faults, as S3 words them: never evidence against the bucket.
    EXPIRED_TOKEN = "expired_token"  # noqa: S105 - a fault name, not a secret: 400 ExpiredToken
    CLOCK_SKEWED = "clock_skewed"  # 403 RequestTimeTooSkewed: the signer's clock is off
    URL_EXPIRED = "url_expired"  # 403 AccessDenied "Request has expired", S3's Date past its end


@dataclass(frozen=True)
class Fault:
    """A fault and its one parameter: seconds per byte (drip), delay (slow), age (stale),
    how far ahead (future)."""

    kind: Kind
    seconds: float = 0.0

    @classmethod
    def of(cls, kind: str | Kind, seconds: float | None = None) -> Fault:
        try:
            k = Kind(kind)
        except ValueError:
            known = ", ".join(k.value for k in Kind)
            raise ValueError(f"unknown fault kind {kind!r} (known: {known})") from None
        defaults = {Kind.DRIP: 0.2, Kind.SLOW: 2.0, Kind.STALE: 3 * 3600.0, Kind.FUTURE: 86400.0}
        default = defaults.get(k, 0.0)
        if seconds is not None and (not 0 <= seconds < float("inf")):
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        return cls(k, default if seconds is None else float(seconds))


HUGE_BYTES = 8 * 1024 * 1024
STATUS_TEXT = {503: "SlowDown", 403: "AccessDenied", 404: "NoSuchKey"}
# status, code, message as S3 answers them. AWS, S3 API Reference, "Error responses":
# ExpiredToken "The provided token has expired." (400 Bad Request); RequestTimeTooSkewed
# "The difference between the request time and the server's time is too large." (403
# Forbidden). An expired presigned URL: 403 AccessDenied "Request has expired" (the
# message S3 sends; the error-code table lists only AccessDenied "Access Denied").
OWN_FAULT_ANSWERS = {
    Kind.EXPIRED_TOKEN: (400, "ExpiredToken", "The provided token has expired."),
    Kind.CLOCK_SKEWED: (
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    ),
    Kind.URL_EXPIRED: (403, "AccessDenied", "Request has expired"),
}
