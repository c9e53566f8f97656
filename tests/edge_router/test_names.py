"""The shared AWS name rules: checked against botocore's own data, S3's bucket rules, and both users."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.loaders
import pytest
from botocore.config import Config

from edge_router import names
from edge_router.routing import Endpoint, Refusal, parse_endpoint, record_name
from failover.config import parse
from failover.errors import ConfigError
from failover.model import Origin

# ---- Regions and partitions, against botocore's data (no network, no endpoint override) ---


def _partitions() -> list[dict[str, Any]]:
    """botocore's partitions.json, read from the installed package."""
    data = botocore.loaders.create_loader().load_data("partitions")
    parts: list[dict[str, Any]] = data["partitions"]
    return parts


def _regions(partition_id: str) -> list[str]:
    """Regions of one partition, without pseudo-Regions such as aws-global."""
    part = next(p for p in _partitions() if p["id"] == partition_id)
    pattern = re.compile(part["regionRegex"])
    return sorted(r for r in part["regions"] if pattern.match(r))


AWS_REGIONS = _regions("aws")


@pytest.fixture
def no_endpoint_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """Endpoints come from botocore's own rules, never from a sandbox's override."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")


def test_botocore_knows_the_aws_partition_and_at_least_the_long_standing_regions() -> None:
    """Guards the test below against an empty or unreadable data file."""
    assert {"us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1"} <= set(AWS_REGIONS)
    assert len(AWS_REGIONS) >= 30


@pytest.mark.parametrize("region", AWS_REGIONS)
def test_every_region_of_the_aws_partition_is_accepted(region: str) -> None:
    assert names.partition_of(region) == names.PARTITION
    assert names.region_reason(region) is None
    assert names.region_problem(region) is None


def test_every_partition_botocore_knows_is_known_here_with_its_dns_suffix() -> None:
    ours = {p.id: p.dns_suffix for p in names.OTHER_PARTITIONS} | {"aws": names.DNS_SUFFIX}
    theirs = {p["id"]: p["outputs"]["dnsSuffix"] for p in _partitions()}
    assert ours == theirs


@pytest.mark.parametrize(
    ("partition", "region"),
    [(p["id"], r) for p in _partitions() if p["id"] != "aws" for r in _regions(p["id"])],
)
def test_every_region_of_another_partition_is_refused_naming_its_partition(
    partition: str, region: str
) -> None:
    assert names.partition_of(region) == partition
    problem = names.region_problem(region)
    assert problem is not None
    assert problem.startswith(f'"{region}" is not a usable AWS Region (a Region of the ')
    assert f"the {partition} partition" in problem
    assert "CloudFront and Lambda@Edge run in the aws partition" in problem


def test_the_two_regions_the_config_and_router_used_to_disagree_on_are_refused_by_both() -> None:
    for region, partition in (("cn-north-1", "aws-cn"), ("eusc-de-east-1", "aws-eusc")):
        refused = parse_endpoint(f"www-eu.s3.{region}.amazonaws.com")
        assert isinstance(refused, Refusal)
        assert f"{partition} partition" in refused.reason
        with pytest.raises(ConfigError) as err:
            parse(_config("www-eu", region))
        assert f"{partition} partition" in "\n".join(err.value.problems)


def test_pseudo_regions_are_not_region_names() -> None:
    pseudo = [r for p in _partitions() for r in p["regions"] if r.endswith("-global")]
    assert "aws-global" in pseudo
    for region in pseudo:
        assert names.partition_of(region) is None
        assert names.region_reason(region) == "not an AWS Region name like eu-west-1"


@pytest.mark.parametrize(
    ("region", "reason"),
    [
        ("EU-WEST-1", "Region names are lowercase: eu-west-1"),
        ("eu-wset-1", "not an AWS Region name"),
        ("eu-west-0", "not an AWS Region name"),
        ("eu-west-100", "not an AWS Region name"),
        ("eu-west-1a", "not an AWS Region name"),  # an Availability Zone
        ("CN-NORTH-1", "aws-cn partition"),
        ("", "not an AWS Region name"),
    ],
)
def test_malformed_region_names_say_what_is_wrong(region: str, reason: str) -> None:
    why = names.region_reason(region)
    assert why is not None
    assert reason in why


def _botocore_host(region: str, *, dualstack: bool) -> str:
    """The host botocore itself puts in a virtual-hosted GET of `bucket` in `region`."""
    config = Config(
        s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
        use_dualstack_endpoint=dualstack,
    )
    client = boto3.session.Session().client("s3", region_name=region, config=config)
    url = client.generate_presigned_url("get_object", Params={"Bucket": "www-site", "Key": "k"})
    host = urlsplit(url).hostname
    assert host is not None
    return host


@pytest.mark.usefixtures("no_endpoint_override")
def test_the_endpoint_host_is_the_one_botocore_builds_for_every_aws_region() -> None:
    for region in AWS_REGIONS:
        for dualstack in (False, True):
            host = names.endpoint_host("www-site", region, dualstack=dualstack)
            assert host == _botocore_host(region, dualstack=dualstack), (region, dualstack)
            assert names.split_endpoint(host) == ("www-site", region)


@pytest.mark.usefixtures("no_endpoint_override")
def test_s3_hosts_of_china_and_the_sovereign_cloud_are_not_even_regional_endpoint_shaped() -> None:
    """Their S3 hosts end in their partition's DNS suffix, which the router does not read."""
    for region, suffix in (("cn-north-1", "amazonaws.com.cn"), ("eusc-de-east-1", "amazonaws.eu")):
        host = _botocore_host(region, dualstack=False)
        assert host == f"www-site.s3.{region}.{suffix}"
        assert names.split_endpoint(host) is None
        assert isinstance(parse_endpoint(host), Refusal)


@pytest.mark.parametrize(
    "host",
    [
        "www.s3.amazonaws.com",
        "www.s3-eu-west-1.amazonaws.com",
        "www.s3.accesspoint.eu-west-1.amazonaws.com",
        "www.s3.eu-west-1.amazonaws.com.evil.example",
        "WWW.S3.EU-WEST-1.AMAZONAWS.COM",  # callers lowercase first
    ],
)
def test_only_regional_and_dual_stack_hosts_split(host: str) -> None:
    assert names.split_endpoint(host) is None


# ---- bucket names: each rule of S3's general purpose bucket naming rules ----------------


@pytest.mark.parametrize(
    ("bucket", "reason"),
    [
        ("ab", "3 to 63 characters"),
        ("a" * 64, "3 to 63 characters"),
        ("", "3 to 63 characters"),
        ("Abc", "only lowercase letters"),
        ("a_b", "only lowercase letters"),
        ("a b", "only lowercase letters"),
        ("-abc", "start and end with a letter or digit"),
        ("abc-", "start and end with a letter or digit"),
        (".abc", "start and end with a letter or digit"),
        ("abc.", "start and end with a letter or digit"),
        ("a..b", 'must not contain ".."'),
        ("192.168.5.4", "IP address"),
        ("xn--abc", "prefix xn-- is reserved"),
        ("sthree-abc", "prefix sthree- is reserved"),
        ("sthree-configurator-abc", "prefix sthree- is reserved"),
        ("amzn-s3-demo-abc", "prefix amzn-s3-demo- is reserved"),
        ("abc-s3alias", "suffix -s3alias is reserved"),
        ("abc--ol-s3", "suffix --ol-s3 is reserved"),
        ("abc.mrap", "suffix .mrap is reserved"),
        ("abc--x-s3", "suffix --x-s3 is reserved"),
        ("abc--table-s3", "suffix --table-s3 is reserved"),
    ],
)
def test_each_bucket_naming_rule_refuses_with_its_reason_even_where_dots_are_allowed(
    bucket: str, reason: str
) -> None:
    for allow_dots in (False, True):
        why = names.bucket_reason(bucket, allow_dots=allow_dots)
        assert why is not None
        assert reason in why
    assert names.bucket_problem(bucket) == (
        f"{names.quote(bucket)} is not a valid S3 bucket name ({names.bucket_reason(bucket)})"
    )


@pytest.mark.parametrize(
    "bucket",
    ["abc", "a" * 63, "0day", "www-eu-west-1", "xn-abc", "abc-s3alias-x", "my--bucket", "a-s3"],
)
def test_names_next_to_a_rule_but_within_it_are_accepted(bucket: str) -> None:
    assert names.bucket_reason(bucket) is None


@pytest.mark.parametrize("bucket", ["www.example.com", "a.b", "1.2.3", "10.0.0.1.nip"])
def test_dotted_names_are_refused_for_origins_and_accepted_where_dots_are_allowed(
    bucket: str,
) -> None:
    assert names.bucket_reason(bucket) == (
        "dots break TLS on the virtual-hosted endpoint the edge router uses"
    )
    assert names.bucket_reason(bucket, allow_dots=True) is None


def test_quoted_values_are_bounded_and_carry_no_control_characters() -> None:
    assert names.quote('a"b') == '"a\\"b"'
    assert names.quote("a\nb\\") == '"a\\nb\\\\"'
    long = names.quote("x" * 500)
    assert len(long) == 82
    assert long.endswith('..."')


# ---- the config and the router agree ------------------------------------------------------


def _config(bucket: str, region: str, record: str = "origin.example.com") -> str:
    return (
        "[[pools]]\n"
        'name = "www"\n'
        f'record = "{record}"\n'
        'zone_id = "Z0123456789ABC"\n'
        "[[pools.origins]]\n"
        'id = "one"\n'
        f'bucket = "{bucket}"\n'
        f'region = "{region}"\n'
    )


def _config_origin(bucket: str, region: str) -> Origin | None:
    try:
        return parse(_config(bucket, region)).pools[0].origins[0]
    except ConfigError:
        return None


@pytest.mark.parametrize(
    "region",
    [
        "eu-west-1",
        "us-east-1",
        "ca-west-1",
        "cn-north-1",
        "cn-northwest-1",
        "eusc-de-east-1",
        "us-gov-west-1",
        "us-isob-east-1",
        "eu-isoe-west-1",
        "mars-north-1",
        "eu-west-0",
    ],
)
@pytest.mark.parametrize("bucket", ["www-eu", "www.eu", "ab", "xn--www", "www-eu--x-s3"])
def test_the_router_accepts_exactly_the_origins_the_config_accepts(
    bucket: str, region: str
) -> None:
    """Case aside: DNS answers are case-insensitive, so the router lowercases what it reads."""
    origin = _config_origin(bucket, region)
    routed = parse_endpoint(names.endpoint_host(bucket, region))
    assert (origin is not None) == isinstance(routed, Endpoint)
    if origin is not None:
        assert isinstance(routed, Endpoint)
        assert routed.domain == origin.endpoint


@pytest.mark.parametrize(
    "record",
    [
        "origin.example.com",
        "Origin.Example.COM.",
        "_txt.example.com",
        "a_.example.com",
        "localhost",
        "a..b",
        "-a.com",
        "a" * 64 + ".com",
        "x/y.com",
        ("a." * 127) + "com",
    ],
)
def test_the_router_looks_up_exactly_the_record_names_the_config_accepts(record: str) -> None:
    try:
        pool = parse(_config("www-eu", "eu-west-1", record)).pools[0]
    except ConfigError:
        pool = None
    looked_up = record_name(record)
    assert (pool is not None) == isinstance(looked_up, str)
    if pool is not None:
        assert looked_up == pool.record
