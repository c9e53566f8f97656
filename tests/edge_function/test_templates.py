"""The templates around the CloudFront Functions router: the distribution, origin buckets, daemon role."""

from __future__ import annotations

import re
from typing import Any

import pytest

from deploy import function_code
from deploy.checks import load_template, rule_failures
from edge_router import names
from tests.deploy import iam
from tests.deploy.tools import DEPLOY

ROUTER = function_code.ROUTER.read_text()


def _template(name: str) -> dict[str, Any]:
    return load_template((DEPLOY / "cloudformation" / name).read_text(), name)


def _unwrap(entry: Any) -> Any:
    """The resource an `!If [cond, x, !Ref AWS::NoValue]` slot holds, or the entry itself."""
    return entry["Fn::If"][1] if isinstance(entry, dict) and "Fn::If" in entry else entry


def test_the_template_carries_router_js_with_only_the_pool_line_changed() -> None:
    text = function_code.TEMPLATE.read_text()
    assert function_code.carried(text) == function_code.expected(ROUTER)
    assert function_code.main(["--check"]) == 0
    lines = list(zip(ROUTER.splitlines(), function_code.carried(text).splitlines(), strict=True))
    changed = [(a, b) for a, b in lines if a != b]
    assert changed == [('const POOL = "www";', 'const POOL = "${Pool}";')]


def test_a_router_edit_not_copied_into_the_template_is_caught_and_the_copy_step_fixes_it() -> None:
    text = function_code.TEMPLATE.read_text()
    edited = ROUTER.replace("const MAX_ORIGINS = 25;", "const MAX_ORIGINS = 24;")
    assert function_code.carried(text) != function_code.expected(edited)
    rewritten = function_code.rewrite(text, edited)
    assert function_code.carried(rewritten) == function_code.expected(edited)
    assert function_code.rewrite(text, ROUTER) == text  # the copy step changes nothing else


@pytest.mark.parametrize(
    ("router", "why"),
    [
        (ROUTER.replace('const POOL = "www";', ""), "exactly one line"),
        (ROUTER + "\nvar s = `${POOL}`;\n", "Fn::Sub would expand it"),
    ],
)
def test_a_router_the_template_cannot_carry_is_refused(router: str, why: str) -> None:
    with pytest.raises(function_code.CodeError, match=re.escape(why)):
        function_code.expected(router)


def test_the_function_runs_on_viewer_request_in_js_2_with_the_store_associated() -> None:
    res = _template("edge-function.yaml")["Resources"]
    config = res["RouterFunction"]["Properties"]["FunctionConfig"]
    assert config["Runtime"] == "cloudfront-js-2.0"
    assert config["KeyValueStoreAssociations"] == [
        {"KeyValueStoreARN": {"Fn::GetAtt": ["WeightsStore", "Arn"]}}
    ]
    behaviour = res["Distribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["FunctionAssociations"] == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {"Fn::GetAtt": ["RouterFunction", "FunctionMetadata.FunctionARN"]},
        }
    ]
    assert "LambdaFunctionAssociations" not in behaviour


def test_every_origin_reads_through_origin_access_control_and_none_through_an_oai() -> None:
    config = _template("edge-function.yaml")["Resources"]["Distribution"]["Properties"]
    origins = [_unwrap(o) for o in config["DistributionConfig"]["Origins"]]
    assert len(origins) == 8
    for origin in origins:
        assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["OriginAccessControl", "Id"]}
        assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = _template("edge-function.yaml")["Resources"]["OriginAccessControl"]["Properties"]
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"


def test_the_default_target_is_a_group_of_the_first_two_origins_failing_over_like_the_function() -> (
    None
):
    config = _template("edge-function.yaml")["Resources"]["Distribution"]["Properties"][
        "DistributionConfig"
    ]
    (group,) = config["OriginGroups"]["Items"]
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"]
    members = [m["OriginId"] for m in group["Members"]["Items"]]
    assert members == [{"Fn::Select": [i, {"Ref": "OriginIds"}]} for i in (0, 1)]
    codes = group["FailoverCriteria"]["StatusCodes"]["Items"]
    match = re.search(r"^const FAILOVER_CODES = \[([\d, ]+)\];$", ROUTER, re.M)
    assert match is not None
    assert codes == [int(c) for c in match[1].split(",")]


# ---- the origin stack --------------------------------------------------------------------

ORIGIN = {"BucketPrefix": "www", "ManageRecord": "false"}


@pytest.mark.parametrize("region", ["ap-southeast-4", "il-central-1", "ca-west-1", "mx-central-1"])
def test_the_function_router_takes_buckets_in_regions_launched_after_december_2022(
    region: str,
) -> None:
    assert region not in names.OAI_REGIONS
    params = {**ORIGIN, "Router": "cloudfront-function"}
    assert rule_failures(_template("origin-bucket.yaml"), params, region) == []


def test_the_lambda_edge_router_still_needs_its_oai_and_an_old_region() -> None:
    failures = rule_failures(_template("origin-bucket.yaml"), ORIGIN, "eu-west-1")
    assert len(failures) == 1
    assert "needs OaiCanonicalUserId" in failures[0]
    both = rule_failures(_template("origin-bucket.yaml"), ORIGIN, "ap-southeast-4")
    assert len(both) == 2


def test_cloudfront_reads_the_bucket_only_for_the_distribution_named() -> None:
    doc = _template("origin-bucket.yaml")["Resources"]["BucketPolicy"]["Properties"]
    statements = {_unwrap(s)["Sid"]: (s, _unwrap(s)) for s in doc["PolicyDocument"]["Statement"]}
    wrapped, oac = statements["CloudFrontReadsThroughOac"]
    assert wrapped["Fn::If"][0] == "HasDistribution"
    assert oac["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert oac["Action"] == "s3:GetObject"
    assert oac["Condition"] == {"StringEquals": {"AWS:SourceArn": {"Ref": "DistributionArn"}}}
    assert statements["CloudFrontReadsThroughOai"][0]["Fn::If"][0] == "HasOai"


def test_the_distribution_arn_the_stack_outputs_is_one_the_origin_stack_accepts() -> None:
    pattern = _template("origin-bucket.yaml")["Parameters"]["DistributionArn"]["AllowedPattern"]
    output = _template("edge-function.yaml")["Outputs"]["DistributionArn"]["Value"]["Fn::Sub"]
    rendered = output.replace("${AWS::Partition}", "aws").replace(
        "${AWS::AccountId}", "123456789012"
    )
    assert re.fullmatch(pattern, rendered.replace("${Distribution}", "E2QWRUHAPOMQZL"))
    assert re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, "arn:aws:cloudfront::123456789012:distribution/*")


# ---- the daemon's role -------------------------------------------------------------------

STORE = "arn:aws:cloudfront::123456789012:key-value-store/3c6e5a2a-8d55-4d3f-9d1b-2c3b7a1e0f11"
OTHER = "arn:aws:cloudfront::123456789012:key-value-store/00000000-0000-0000-0000-000000000000"


def _need(operation: str, store: str) -> iam.Need:
    action, resource, context = iam.TABLE[("cloudfront-keyvaluestore", operation)]
    params = {"KvsARN": store}
    return iam.Need(
        f"cloudfront-keyvaluestore/{operation}", action, resource(params), context(params)
    )


def test_the_daemon_role_lets_it_compare_and_swap_a_pools_key_in_its_store_only() -> None:
    from tests.deploy.test_task_role import role_params

    statements = iam.task_role(role_params("ZONE1", {}, KeyValueStoreArns=[STORE]))
    wanted = [_need(op, STORE) for op in ("DescribeKeyValueStore", "GetKey", "PutKey")]
    assert iam.refused(statements, wanted) == []
    refused = [
        _need("PutKey", OTHER),
        _need("ListKeys", STORE),
        _need("UpdateKeys", STORE),
    ]
    assert iam.refused(statements, refused) == refused


def test_without_a_store_the_daemon_role_grants_no_store_action() -> None:
    from tests.deploy.test_task_role import role_params

    statements = iam.task_role(role_params("ZONE1", {}))
    assert not [a for s in statements for a in s.actions if a.startswith("cloudfront")]
