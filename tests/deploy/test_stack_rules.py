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
