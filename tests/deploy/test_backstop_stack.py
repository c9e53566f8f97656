"""backstop.yaml: in the metrics Region only, and the same alarm and health check `failover backstop` makes."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.checks import load_template, rule_failures
from failover.core import backstop
from failover.model import BackstopSettings, OriginKey

from .tools import DEPLOY

PARAMS = {"Pool": "www", "OriginIds": ["eu-west-1", "us-east-1"]}


def template() -> dict[str, Any]:
    path = DEPLOY / "cloudformation" / "backstop.yaml"
    return load_template(path.read_text(), "backstop.yaml")


def loop() -> tuple[str, dict[str, Any]]:
    ((key, value),) = template()["Resources"].items()
    assert key.startswith("Fn::ForEach::")
    name, collection, body = value
    assert collection == {"Ref": "OriginIds"}
    return name, body


def test_the_backstop_stack_refuses_us_east_1_where_route53s_control_plane_lives() -> None:
    assert rule_failures(template(), PARAMS, "us-east-1") == [
        "Deploy the backstop stack in the config's [backstop] region, not us-east-1."
    ]
    assert rule_failures(template(), PARAMS, "us-west-2") == []


@pytest.mark.parametrize("region", sorted(backstop.CLOUDWATCH_REGIONS - {"us-east-1"})[:5])
def test_the_backstop_stack_takes_other_route53_cloudwatch_regions(region: str) -> None:
    assert rule_failures(template(), PARAMS, region) == []


def test_the_template_makes_the_alarm_and_health_check_the_command_makes() -> None:
    """Same name, metric, statistic, threshold and no-data pair as core/backstop.py."""
    name, body = loop()
    alarm = body[f"Alarm&{{{name}}}"]["Properties"]
    want = backstop.alarm(BackstopSettings(region="us-west-2"), OriginKey("www", "eu"))
    assert alarm["AlarmName"] == {"Fn::Sub": "${Namespace}-${Pool}-${OriginId}-down"}
    assert want["AlarmName"] == "Failover-www-eu-down"
    for field in ("MetricName", "Statistic", "ComparisonOperator", "TreatMissingData"):
        assert alarm[field] == want[field], field
    assert [d["Name"] for d in alarm["Dimensions"]] == [d["Name"] for d in want["Dimensions"]]
    defaults = {k: v.get("Default") for k, v in template()["Parameters"].items()}
    assert defaults["Namespace"] == BackstopSettings().namespace
    assert defaults["PeriodSeconds"] == BackstopSettings().period_seconds
    assert defaults["QuorumFraction"] == BackstopSettings().quorum_fraction
    check = body[f"HealthCheck&{{{name}}}"]["Properties"]["HealthCheckConfig"]
    assert check["Type"] == "CLOUDWATCH_METRIC"
    assert check["InsufficientDataHealthStatus"] == backstop.INSUFFICIENT_DATA_HEALTH_STATUS
