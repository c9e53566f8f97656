"""The templates' Rules refuse, before anything is made, stacks that would deploy but not work."""

from __future__ import annotations

import re
from typing import Any

import pytest

from deploy.checks import check_template, load_template, rule_failures
from edge_router import names, settings

from .tools import DEPLOY


def _template(name: str) -> dict[str, Any]:
    return load_template((DEPLOY / "cloudformation" / name).read_text(), name)


ORIGIN_PARAMS = {"BucketPrefix": "www", "OaiCanonicalUserId": "a" * 64, "ManageRecord": "false"}


@pytest.mark.parametrize("region", ["ap-southeast-4", "il-central-1", "ca-west-1", "mx-central-1"])
def test_the_origin_stack_refuses_a_region_the_lambda_edge_router_cannot_reach(
    region: str,
) -> None:
    failures = rule_failures(_template("origin-bucket.yaml"), ORIGIN_PARAMS, region)
    assert len(failures) == 1
    assert "Regions launched after December 2022" in failures[0]


@pytest.mark.parametrize("region", ["ap-southeast-4", "eu-west-1"])
def test_the_origin_stack_takes_any_region_for_another_router(region: str) -> None:
    params = {**ORIGIN_PARAMS, "Router": "none"}
    assert rule_failures(_template("origin-bucket.yaml"), params, region) == []


def test_the_origin_stack_takes_every_region_the_router_reaches() -> None:
    template = _template("origin-bucket.yaml")
    for region in sorted(names.OAI_REGIONS):
        assert rule_failures(template, ORIGIN_PARAMS, region) == [], region


def test_the_origin_stack_lists_exactly_the_routers_regions() -> None:
    """One list, two copies: the template's rule and edge_router.names.OAI_REGIONS agree."""
    rule = _template("origin-bucket.yaml")["Rules"]["LambdaEdgeRouterReachesRegion"]
    listed, _ = rule["Assertions"][0]["Assert"]["Fn::Contains"]
    assert sorted(listed) == sorted(names.OAI_REGIONS)


def test_the_origin_stack_expires_replaced_canary_versions() -> None:
    """Versioning keeps every overwritten canary; a lifecycle rule expires noncurrent ones."""
    bucket = _template("origin-bucket.yaml")["Resources"]["Bucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = bucket["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if r["Status"] == "Enabled" and "NoncurrentVersionExpiration" in r]
    assert expiring, rules
    assert "Prefix" not in expiring[0]  # the whole bucket
    assert "Filter" not in expiring[0]


EDGE_PARAMS = {
    "ArtifactBucket": "artifacts",
    "ArtifactKey": "router-0123456789abcdef.zip",
    "DnsOriginRecord": "origin.example.com",
    "DefaultOriginBucket": "www-eu-west-1",
    "DefaultOriginRegion": "eu-west-1",
}


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-2", "us-west-2"])
def test_the_edge_stack_refuses_any_region_but_us_east_1(region: str) -> None:
    failures = rule_failures(_template("edge.yaml"), EDGE_PARAMS, region)
    assert failures == [
        "Deploy the edge stack in us-east-1; Lambda@Edge functions live only there."
    ]
    assert rule_failures(_template("edge.yaml"), EDGE_PARAMS, "us-east-1") == []


def test_the_checks_flag_an_edge_stack_without_its_region_rule() -> None:
    template = _template("edge.yaml")
    del template["Rules"]["EdgeStackInUsEast1"]
    assert [p.message for p in check_template(template, "edge.yaml")] == [
        (
            "the stack deploys in eu-west-1; Lambda@Edge needs us-east-1 (add a rule asserting "
            "AWS::Region)"
        )
    ]


def test_the_checks_flag_a_dns_timeout_close_to_the_function_timeout(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """settings.json's timeout of 2 s against a 5 s function: DNS could eat the function."""
    settings = tmp_path / "settings.json"
    settings.write_text('{"timeout": 2.0}')
    monkeypatch.setenv("EDGE_ROUTER_SETTINGS", str(settings))
    problems = check_template(_template("edge.yaml"), "edge.yaml")
    assert [(p.where, p.message.split(":")[0]) for p in problems] == [
        (
            "EdgeFunction",
            (
                "the router's DNS timeout (2 s, settings.json) must be at most 0.33 of the "
                "function's Timeout (5 s)"
            ),
        )
    ]


def test_the_shipped_dns_timeout_is_well_under_the_function_timeout() -> None:
    template = _template("edge.yaml")
    timeout = template["Resources"]["EdgeFunction"]["Properties"]["Timeout"]

    assert settings.load().timeout * 3 <= timeout


FARGATE = {
    256: (512, 1024, 2048),
    512: (1024, 2048, 3072, 4096),
    1024: (2048, 3072, 4096, 5120, 6144, 7168, 8192),
}


def test_the_daemon_stack_accepts_exactly_fargates_cpu_memory_pairs() -> None:
    template = _template("daemon.yaml")
    cpus = [int(v) for v in template["Parameters"]["Cpu"]["AllowedValues"]]
    memories = [int(v) for v in template["Parameters"]["Memory"]["AllowedValues"]]
    for cpu in cpus:
        for memory in memories:
            params = {"Cpu": str(cpu), "Memory": str(memory)}
            failed = rule_failures(template, params, "eu-west-1")
            assert (failed == []) == (memory in FARGATE[cpu]), (cpu, memory, failed)


def test_the_metrics_port_is_not_open_to_a_private_range_by_default() -> None:
    """/metrics and /status: no default CIDR, and nothing wider than a /24 is accepted."""
    param = _template("daemon.yaml")["Parameters"]["MetricsCidr"]
    assert "Default" not in param
    pattern = re.compile(param["AllowedPattern"])
    assert not pattern.fullmatch("10.0.0.0/8")
    assert not pattern.fullmatch("172.16.0.0/12")
    assert not pattern.fullmatch("10.1.0.0/16")
    assert pattern.fullmatch("10.1.2.0/24")
    assert pattern.fullmatch("10.1.2.7/32")


# AWS::DynamoDB::GlobalTable GlobalTableWitness: "The witness must be in a different Region
# than the replicas and within the same Region set: US Region set: US East (N. Virginia),
# US East (Ohio), US West (Oregon); EU Region set: Europe (Ireland), Europe (London), Europe
# (Paris), Europe (Frankfurt); AP Region set: Asia Pacific (Tokyo), Asia Pacific (Seoul),
# Asia Pacific (Osaka)".
MRSC_REGION_SETS = {
    "US": ("us-east-1", "us-east-2", "us-west-2"),
    "EU": ("eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"),
    "AP": ("ap-northeast-1", "ap-northeast-2", "ap-northeast-3"),
}


def _mrsc(region: str, second: str, third: str) -> list[str]:
    params = {"SecondRegion": second, "ThirdRegion": third}
    return rule_failures(_template("cluster-global-table.yaml"), params, region)


def test_the_global_table_takes_any_three_regions_of_one_region_set() -> None:
    for regions in MRSC_REGION_SETS.values():
        for first in regions:
            for second in regions:
                for third in regions:
                    if len({first, second, third}) == 3:
                        assert _mrsc(first, second, third) == [], (first, second, third)


@pytest.mark.parametrize(
    ("region", "second", "third"),
    [
        ("us-east-1", "us-east-2", "eu-west-1"),
        ("eu-west-1", "eu-west-2", "us-west-2"),
        ("ap-northeast-1", "ap-northeast-2", "us-east-1"),
        ("eu-central-1", "us-east-1", "ap-northeast-1"),
    ],
)
def test_the_global_table_refuses_regions_of_two_region_sets(
    region: str, second: str, third: str
) -> None:
    (failure,) = _mrsc(region, second, third)
    assert failure.startswith("MRSC global tables cannot span Region sets")


@pytest.mark.parametrize(
    ("region", "second", "third"),
    [("us-east-1", "us-east-1", "us-west-2"), ("us-east-1", "us-west-2", "us-west-2")],
)
def test_the_global_table_refuses_a_region_named_twice(
    region: str, second: str, third: str
) -> None:
    assert _mrsc(region, second, third) == [
        "The stack's Region, SecondRegion and ThirdRegion must be three different Regions."
    ]


def test_the_global_table_is_strongly_consistent_with_no_ttl_stream_or_index() -> None:
    """MRSC supports no TTL and no LSI, and a lease needs STRONG (conditions on the latest)."""
    props = _template("cluster-global-table.yaml")["Resources"]["Table"]["Properties"]
    assert props["MultiRegionConsistency"] == "STRONG"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert not {"TimeToLiveSpecification", "LocalSecondaryIndexes", "StreamSpecification"} & set(
        props
    )
    assert [a["AttributeName"] for a in props["KeySchema"]] == ["pk", "sk"]
    offered = _template("cluster-global-table.yaml")["Parameters"]["SecondRegion"]
    assert sorted(offered["AllowedValues"]) == sorted(
        r for regions in MRSC_REGION_SETS.values() for r in regions
    )


def test_the_trial_table_has_the_same_keys_recovery_and_deletion_protection_by_default() -> None:
    template = _template("cluster-table.yaml")
    props = template["Resources"]["Table"]["Properties"]
    assert [a["AttributeName"] for a in props["KeySchema"]] == ["pk", "sk"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert template["Parameters"]["DeletionProtection"]["Default"] == "true"
    assert "TimeToLiveSpecification" not in props
    assert "Losing this Region stops every write" in " ".join(template["Description"].split())
