"""Pure routing rules: which TXT values name an acceptable S3 origin, and which one to use."""

from __future__ import annotations

import fnmatch
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_DOMAIN = 128  # CloudFront's limit on origin.s3.domainName

_ENDPOINT = re.compile(
    r"(?P<bucket>[a-z0-9.-]+)\.s3\.(?:dualstack\.)?(?P<region>[a-z0-9-]+)\.amazonaws\.com"
)
_REGION = re.compile(
    r"(?:af|ap|ca|eu|eusc|il|me|mx|sa|us)(?:-(?:gov|iso[a-z]?|[a-z]{2}))?"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-[1-9][0-9]?"
)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class Endpoint:
    """An S3 regional endpoint the request can be sent to."""

    domain: str
    bucket: str
    region: str


@dataclass(frozen=True)
class Refusal:
    """A value that was not used, and why."""

    value: str
    reason: str


def valid_region(region: str) -> bool:
    """Whether `region` has the shape of an AWS region name such as `eu-west-1`."""
    return _REGION.fullmatch(region) is not None


def bucket_problem(bucket: str) -> str | None:
    """Why `bucket` is not a usable S3 bucket name, or None if it is."""
    if not 3 <= len(bucket) <= 63:
        return "bucket name must be 3-63 characters"
    if not _BUCKET.fullmatch(bucket):
        return "bucket name must be a-z 0-9 . - and start and end with a letter or digit"
    if ".." in bucket:
        return "bucket name must not contain '..'"
    if _IPV4.fullmatch(bucket):
        return "bucket name must not be an IP address"
    if bucket.startswith(_BUCKET_PREFIXES) or bucket.endswith(_BUCKET_SUFFIXES):
        return "bucket name has a reserved prefix or suffix"
    if "." in bucket:
        return "bucket name with dots breaks TLS on the virtual-hosted endpoint"
    return None


def parse_endpoint(value: str) -> Endpoint | Refusal:
    """`BUCKET.s3.REGION.amazonaws.com` or its dual-stack form, checked; anything else refused."""
    domain = value.strip().rstrip(".").lower()
    if len(domain) > MAX_DOMAIN:
        return Refusal(value, f"longer than {MAX_DOMAIN} characters")
    match = _ENDPOINT.fullmatch(domain)
    if match is None:
        return Refusal(value, "not an S3 regional endpoint")
    bucket, region = match["bucket"], match["region"]
    if not valid_region(region):
        return Refusal(value, f"not a valid region: {region!r}")
    problem = bucket_problem(bucket)
    if problem is not None:
        return Refusal(value, problem)
    return Endpoint(domain, bucket, region)


def matches(bucket: str, patterns: Iterable[str]) -> bool:
    """Whether `bucket` matches any shell-style pattern (case-sensitive)."""
    return any(fnmatch.fnmatchcase(bucket, p) for p in patterns)


def screen(
    values: Iterable[str], allowed: Sequence[str]
) -> tuple[tuple[Endpoint, ...], tuple[Refusal, ...]]:
    """Split TXT values into usable endpoints of allowed buckets and refused values."""
    good: list[Endpoint] = []
    refused: list[Refusal] = []
    for value in values:
        parsed = parse_endpoint(value)
        if isinstance(parsed, Refusal):
            refused.append(parsed)
        elif not matches(parsed.bucket, allowed):
            refused.append(Refusal(value, "bucket not in allowed_buckets"))
        else:
            good.append(parsed)
    return tuple(good), tuple(refused)


def header_patterns(value: str | None) -> tuple[str, ...] | None:
    """Comma-separated patterns of the allow header; None when the header is absent."""
    if value is None:
        return None
    return tuple(p for p in (part.strip() for part in value.split(",")) if p)


def choose(
    endpoints: Sequence[Endpoint], narrowing: Sequence[str] | None, rng: random.Random
) -> Endpoint | Refusal:
    """Pick one endpoint at random among those the allow header (if any) still permits."""
    usable = list(endpoints)
    if narrowing is not None:
        usable = [e for e in usable if matches(e.bucket, narrowing)]
    if not usable:
        names = ",".join(sorted({e.domain for e in endpoints}))
        return Refusal(names, "no bucket allowed by the allow header")
    return usable[0] if len(usable) == 1 else rng.choice(usable)


def record_name(value: str) -> str | Refusal:
    """The DNS name of the `x-dns-origin` header, normalised, or why it is not one."""
    name = value.strip().rstrip(".").lower()
    if not name or len(name) > 253:
        return Refusal(value[:300], "not a DNS name")
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return Refusal(value[:300], "not a DNS name")
    return name
