"""Pure routing rules: S3 endpoint parsing, bucket and region checks, allow patterns, choice."""

from __future__ import annotations

import json
import random
from pathlib import Path

import botocore
import pytest

from edge_router import names
from edge_router.routing import (
    Endpoint,
    Refusal,
    bucket_problem,
    choose,
    header_patterns,
    parse_endpoint,
    record_name,
    screen,
    valid_region,
)


@pytest.mark.parametrize(
    ("value", "bucket", "region"),
    [
        ("www-eu.s3.eu-west-1.amazonaws.com", "www-eu", "eu-west-1"),
        ("www-eu.s3.dualstack.eu-west-1.amazonaws.com", "www-eu", "eu-west-1"),
        (" WWW-US.S3.US-EAST-1.AMAZONAWS.COM. ", "www-us", "us-east-1"),
        ("new-site.s3.me-central-1.amazonaws.com", "new-site", "me-central-1"),
        ("a1b.s3.ap-southeast-2.amazonaws.com", "a1b", "ap-southeast-2"),
    ],
)
def test_regional_endpoints_are_accepted_and_normalised(
    value: str, bucket: str, region: str
) -> None:
    parsed = parse_endpoint(value)
    assert isinstance(parsed, Endpoint)
    assert (parsed.bucket, parsed.region) == (bucket, region)
    assert parsed.domain == value.strip().rstrip(".").lower()


@pytest.mark.parametrize(
    "value",
    [
        "www.example.com",
        "www-eu.s3.amazonaws.com",  # global endpoint: no region
        "www-eu.s3-eu-west-1.amazonaws.com",  # legacy dash form
        "www-eu.s3-website-eu-west-1.amazonaws.com",  # website endpoint
        "www-eu.s3.eu-west-1.amazonaws.com.evil.example",
        "evil.example/www-eu.s3.eu-west-1.amazonaws.com",
        "www-eu.s3.eu-west-1.amazonaws.com:443",
        "www-eu.s3.accesspoint.eu-west-1.amazonaws.com",
        "www-eu.s3.eu-west-1.amazonaws.com.cn",
        "",
    ],
)
def test_anything_but_an_s3_regional_endpoint_is_refused(value: str) -> None:
    assert isinstance(parse_endpoint(value), Refusal)


@pytest.mark.parametrize(
    "region",
    [
        "eu-west-123",
        "mars-north-1",
        "cn-north-1",
        "moon-base-1",
        "euwest1",
        "eu-west-",
        "dualstack",
        "us-east-0",
        "aws-global",
    ],
)
def test_bad_regions_are_refused(region: str) -> None:
    assert not valid_region(region)
    refused = parse_endpoint(f"www-eu.s3.{region}.amazonaws.com")
    assert isinstance(refused, Refusal)


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("cn-north-1", "aws-cn"),
        ("eusc-de-east-1", "aws-eusc"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
    ],
)
def test_regions_of_partitions_cloudfront_cannot_reach_are_refused_naming_the_partition(
    region: str, partition: str
) -> None:
    """CloudFront and Lambda@Edge run in the aws partition; other partitions' buckets are out."""
    assert not valid_region(region)
    refused = parse_endpoint(f"www-eu.s3.{region}.amazonaws.com")
    assert isinstance(refused, Refusal)
    assert f"not a valid region: {region!r}" in refused.reason
    assert f"{partition} partition" in refused.reason


@pytest.mark.parametrize(
    "bucket",
    [
        "ab",
        "a" * 64,
        "-abc",
        "abc-",
        "a..b",
        "192.168.1.1",
        "xn--abc",
        "sthree-abc",
        "amzn-s3-demo-abc",
        "abc-s3alias",
        "abc--ol-s3",
        "abc.mrap",
        "abc--x-s3",
        "abc--table-s3",
        "with.dots",
        "under_score",
    ],
)
def test_bucket_name_rules_refuse_invalid_names(bucket: str) -> None:
    assert bucket_problem(bucket) is not None
    assert isinstance(parse_endpoint(f"{bucket}.s3.eu-west-1.amazonaws.com"), Refusal)


@pytest.mark.parametrize("bucket", ["abc", "a" * 63, "www-eu-west-1", "0day"])
def test_valid_bucket_names_pass(bucket: str) -> None:
    assert bucket_problem(bucket) is None


def test_screen_keeps_only_allowed_buckets_and_says_why_others_went() -> None:
    good, refused = screen(
        [
            "www-eu.s3.eu-west-1.amazonaws.com",
            "evil.s3.eu-west-1.amazonaws.com",
            "www-eu.example.com",
        ],
        ["www-*"],
    )
    assert [e.bucket for e in good] == ["www-eu"]
    assert [r.reason for r in refused] == [
        "bucket not in allowed_buckets",
        "not an S3 regional endpoint",
    ]


def test_an_empty_allowed_list_allows_no_bucket() -> None:
    good, refused = screen(["www-eu.s3.eu-west-1.amazonaws.com"], [])
    assert good == ()
    assert len(refused) == 1


def test_allow_header_narrows_but_never_widens() -> None:
    endpoints, _ = screen(
        ["www-eu.s3.eu-west-1.amazonaws.com", "www-us.s3.us-east-1.amazonaws.com"], ["www-*"]
    )
    rng = random.Random(0)
    narrowed = choose(endpoints, header_patterns("www-us, other-*"), rng)
    assert isinstance(narrowed, Endpoint)
    assert narrowed.bucket == "www-us"
    # "*" in the header cannot admit what the baked-in list refused.
    outside, _ = screen(["evil.s3.eu-west-1.amazonaws.com"], ["www-*"])
    assert isinstance(choose(outside, header_patterns("*"), rng), Refusal)
    assert isinstance(choose(endpoints, header_patterns("none-*"), rng), Refusal)


def test_a_present_but_empty_allow_header_allows_nothing() -> None:
    endpoints, _ = screen(["www-eu.s3.eu-west-1.amazonaws.com"], ["*"])
    assert header_patterns(" , ") == ()
    assert isinstance(choose(endpoints, header_patterns(" , "), random.Random(0)), Refusal)
    assert header_patterns(None) is None


def test_several_endpoints_are_chosen_at_random_from_the_injected_source() -> None:
    endpoints, _ = screen(
        ["www-a.s3.eu-west-1.amazonaws.com", "www-b.s3.us-east-1.amazonaws.com"], ["*"]
    )
    rng = random.Random(3)
    picks = [choose(endpoints, None, rng) for _ in range(200)]
    counts = {
        b: sum(1 for p in picks if isinstance(p, Endpoint) and p.bucket == b)
        for b in ("www-a", "www-b")
    }
    assert 60 <= counts["www-a"] <= 140
    assert counts["www-a"] + counts["www-b"] == 200
    again = random.Random(3)
    assert picks == [choose(endpoints, None, again) for _ in range(200)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Origin.Example.COM.", "origin.example.com"), ("_txt.example.com", "_txt.example.com")],
)
def test_record_names_are_normalised(value: str, expected: str) -> None:
    assert record_name(value) == expected


@pytest.mark.parametrize("value", ["", "a..b", "a b.com", "-a.com", "a" * 64 + ".com", "x/y"])
def test_header_values_that_are_not_dns_names_are_refused(value: str) -> None:
    assert isinstance(record_name(value), Refusal)


def _botocore_aws_regions() -> list[str]:
    data = json.loads((Path(botocore.__file__).parent / "data" / "partitions.json").read_text())
    (aws,) = [p for p in data["partitions"] if p["id"] == "aws"]
    return sorted(r for r in aws["regions"] if r != "aws-global")


@pytest.mark.parametrize("region", _botocore_aws_regions())
def test_every_aws_region_is_routed_only_if_an_origin_access_identity_reaches_it(
    region: str,
) -> None:
    """Regions launched after December 2022 are refused, naming why; older ones are routed."""
    parsed = parse_endpoint(f"www-x.s3.{region}.amazonaws.com")
    if region in names.OAI_REGIONS:
        assert isinstance(parsed, Endpoint)
        assert parsed.region == region
    else:
        assert isinstance(parsed, Refusal)
        assert "launched after December 2022" in parsed.reason
        assert "origin access control cannot sign a Lambda@Edge origin redirect" in parsed.reason


def test_the_reachable_regions_are_regions_botocore_knows() -> None:
    """A typo in OAI_REGIONS would let nothing through for that Region: each one is real."""
    assert set(names.OAI_REGIONS) <= set(_botocore_aws_regions())
    assert {"ap-southeast-4", "il-central-1", "ca-west-1"}.isdisjoint(names.OAI_REGIONS)
