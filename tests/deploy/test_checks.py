"""deploy.checks: the shipped templates pass, and each check complains about its fault."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.checks import check_template, load_template

from .tools import DEPLOY, TEMPLATES, run

Mutation = Callable[[dict[str, Any]], None]


def _template(name: str) -> dict[str, Any]:
    path = DEPLOY / "cloudformation" / name
    return load_template(path.read_text(), name)


def _messages(template: dict[str, Any]) -> list[str]:
    return [f"{p.where}: {p.message}" for p in check_template(template, "t")]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_shipped_template_passes_every_check(template: Path) -> None:
    assert _messages(load_template(template.read_text(), template.name)) == []


def _record(t: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = t["Resources"]["WeightedRecord"]["Properties"]
    return props


def _weight_param(t: dict[str, Any]) -> dict[str, Any]:
    param: dict[str, Any] = t["Parameters"]["Weight"]
    return param


ORIGIN_FAULTS: dict[str, tuple[Mutation, str]] = {
    "literal weight over 255": (lambda t: _record(t).update(Weight=256), "Weight 256 is outside"),
    "weight parameter allows 300": (
        lambda t: _weight_param(t).update(MaxValue=300),
        "Weight parameter needs MinValue >= 0 and MaxValue <= 255",
    ),
    "weight parameter without bounds": (
        lambda t: [_weight_param(t).pop(k) for k in ("MinValue", "MaxValue")],
        "Weight parameter needs",
    ),
    "weight parameter allows negative": (
        lambda t: _weight_param(t).update(MinValue=-1),
        "Weight parameter needs",
    ),
    "weight from an unknown expression": (
        lambda t: _record(t).update(Weight={"Fn::GetAtt": ["X", "Y"]}),
        "cannot check 0-255",
    ),
    "weight without set identifier": (
        lambda t: _record(t).pop("SetIdentifier"),
        "Weight without SetIdentifier",
    ),
    "region hard-coded": (
        lambda t: _record(t).update(SetIdentifier="eu-west-1"),
        "hard-coded region eu-west-1",
    ),
}


@pytest.mark.parametrize("fault", sorted(ORIGIN_FAULTS))
def test_origin_template_fault_is_reported(fault: str) -> None:
    mutate, expected = ORIGIN_FAULTS[fault]
    template = copy.deepcopy(_template("origin-bucket.yaml"))
    mutate(template)
    messages = _messages(template)
    assert any(expected in m for m in messages), messages
    assert all(m.startswith(("WeightedRecord", "Resources")) for m in messages), messages


def test_weight_in_a_record_set_group_is_checked_too() -> None:
    template = {
        "Resources": {
            "G": {
                "Type": "AWS::Route53::RecordSetGroup",
                "Properties": {"RecordSets": [{"Name": "a", "Type": "TXT", "Weight": 1}]},
            }
        }
    }
    assert _messages(template) == ["G.RecordSets[0]: Weight without SetIdentifier"]


def _fn(t: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = t["Resources"]["EdgeFunction"]["Properties"]
    return props


def _assoc(t: dict[str, Any]) -> dict[str, Any]:
    config = t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    assoc: dict[str, Any] = config["DefaultCacheBehavior"]["LambdaFunctionAssociations"][0]
    return assoc


def _trust(t: dict[str, Any]) -> dict[str, Any]:
    doc = t["Resources"]["EdgeFunctionRole"]["Properties"]["AssumeRolePolicyDocument"]
    principal: dict[str, Any] = doc["Statement"][0]["Principal"]
    return principal


EDGE_FAULTS: dict[str, tuple[Mutation, str]] = {
    "environment variables": (
        lambda t: _fn(t).update(Environment={"Variables": {"A": "b"}}),
        "EdgeFunction: Environment is not supported",
    ),
    "layers": (lambda t: _fn(t).update(Layers=["arn"]), "EdgeFunction: Layers is not supported"),
    "timeout over 30 s": (lambda t: _fn(t).update(Timeout=31), "Timeout 31 is outside 1-30"),
    "timeout parameter up to 60 s": (
        lambda t: (
            t["Parameters"].update(T={"Type": "Number", "MinValue": 1, "MaxValue": 60}),
            _fn(t).update(Timeout={"Ref": "T"}),
        ),
        "Timeout parameter needs MinValue >= 1 and MaxValue <= 30",
    ),
    "another runtime": (
        lambda t: _fn(t).update(Runtime="python3.12"),
        "Runtime must be python3.13",
    ),
    "arm64": (lambda t: _fn(t).update(Architectures=["arm64"]), "does not run arm64"),
    "role not trusted by edgelambda": (
        lambda t: _trust(t).update(Service="lambda.amazonaws.com"),
        "role must trust edgelambda.amazonaws.com",
    ),
    "association on the function's ARN": (
        lambda t: _assoc(t).update(LambdaFunctionARN={"Fn::GetAtt": ["EdgeFunction", "Arn"]}),
        "LambdaFunctionARN must be a numbered version",
    ),
    "association on Ref to the function": (
        lambda t: _assoc(t).update(LambdaFunctionARN={"Ref": "EdgeFunction"}),
        "LambdaFunctionARN must be a numbered version",
    ),
    "association on $LATEST": (
        lambda t: _assoc(t).update(
            LambdaFunctionARN="arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"
        ),
        "LambdaFunctionARN must be a numbered version",
    ),
}


@pytest.mark.parametrize("fault", sorted(EDGE_FAULTS))
def test_edge_template_fault_is_reported(fault: str) -> None:
    mutate, expected = EDGE_FAULTS[fault]
    template = copy.deepcopy(_template("edge.yaml"))
    mutate(template)
    messages = _messages(template)
    assert any(expected in m for m in messages), messages


def test_a_numbered_version_arn_literal_is_accepted() -> None:
    template = copy.deepcopy(_template("edge.yaml"))
    _assoc(template)["LambdaFunctionARN"] = "arn:aws:lambda:us-east-1:123456789012:function:f:7"
    assert _messages(template) == []


def test_short_form_intrinsics_load_as_long_form() -> None:
    t = load_template(
        "Resources:\n  R:\n    Type: X\n    Properties:\n"
        "      A: !Ref P\n      B: !GetAtt R.Arn\n      C: !Sub '${P}'\n      D: !If [C, 1, 2]\n"
    )
    props = t["Resources"]["R"]["Properties"]
    assert props == {
        "A": {"Ref": "P"},
        "B": {"Fn::GetAtt": ["R", "Arn"]},
        "C": {"Fn::Sub": "${P}"},
        "D": {"Fn::If": ["C", 1, 2]},
    }


def test_command_line_reports_problems_with_file_and_resource(tmp_path: Path) -> None:
    template = copy.deepcopy(_template("edge.yaml"))
    _fn(template)["Timeout"] = 60
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(template))
    result = run(sys.executable, "-m", "deploy.checks", broken)
    assert result.returncode == 1
    assert f"{broken}: EdgeFunction: Timeout 60 is outside 1-30" in result.stdout


def test_command_line_passes_the_shipped_templates() -> None:
    result = run(sys.executable, "-m", "deploy.checks")
    assert result.returncode == 0, result.stdout
    assert "7 templates checked, 0 problems" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [("Resources: [1, 2\n", "not valid YAML"), ("Parameters: {}\n", "no Resources mapping")],
)
def test_command_line_rejects_unreadable_input(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    result = run(sys.executable, "-m", "deploy.checks", bad)
    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert expected in result.stderr


def test_command_line_names_a_missing_file(tmp_path: Path) -> None:
    result = run(sys.executable, "-m", "deploy.checks", tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr


def _rules(t: dict[str, Any]) -> list[Any]:
    config = t["Resources"]["Bucket"]["Properties"]["ReplicationConfiguration"]["Fn::If"][1]
    rules: list[Any] = config["Rules"]
    return rules


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: _rules(t)[2]["Fn::If"][1].update(Priority=1), "Priority 1 already used"),
        (lambda t: _rules(t)[0].pop("Filter"), "no Filter"),
        (lambda t: _rules(t)[1]["Fn::If"][1].pop("Priority"), "no Priority"),
    ],
    ids=["shared priority", "no filter", "no priority"],
)
def test_replication_rules_need_a_filter_and_a_priority_each(
    mutate: Mutation, expected: str
) -> None:
    template = copy.deepcopy(_template("origin-bucket.yaml"))
    mutate(template)
    messages = _messages(template)
    assert any(expected in m and m.startswith("Bucket.Replication") for m in messages), messages
