"""Pure routing rules: which TXT values name an acceptable S3 origin, and which one to use."""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from edge_router import names

MAX_DOMAIN = 128  # CloudFront's limit on origin.s3.domainName


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
    """Whether `region` is a Region of the aws partition whose buckets this router can reach."""
    return names.edge_region_reason(region) is None


def bucket_problem(bucket: str) -> str | None:
    """Why `bucket` is not a usable origin bucket name (dots refused), or None if it is."""
    return names.bucket_problem(bucket)


def parse_endpoint(value: str) -> Endpoint | Refusal:
    """`BUCKET.s3.REGION.amazonaws.com` or its dual-stack form, checked; anything else refused."""
    domain = names.normalise_dns_name(value.strip())
    if len(domain) > MAX_DOMAIN:
        return Refusal(value, f"longer than {MAX_DOMAIN} characters")
    parts = names.split_endpoint(domain)
    if parts is None:
        return Refusal(value, "not an S3 regional endpoint")
    bucket, region = parts
    why = names.edge_region_reason(region)
    if why is not None:
        return Refusal(value, f"not a valid region: {region!r} ({why})")
    problem = names.bucket_problem(bucket)
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
    name = names.normalise_dns_name(value.strip())
    why = names.dns_name_reason(name)
    return name if why is None else Refusal(value[:300], f"not a DNS name: {why}")
