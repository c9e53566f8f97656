"""What moto cannot deploy, read from the templates: bucket settings, bucket policy, task role."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.checks import load_template

from .tools import DEPLOY


def _template(name: str) -> dict[str, Any]:
    path = DEPLOY / "cloudformation" / name
    return load_template(path.read_text(), name)


def _statements(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Statements by Sid, unwrapping the Fn::If that makes some optional."""
    found: dict[str, dict[str, Any]] = {}
    for entry in doc["Statement"]:
        stmt = entry
        if "Fn::If" in entry:
            condition, inner, _ = entry["Fn::If"]
            stmt = {**inner, "_condition": condition}
        found[stmt["Sid"]] = stmt
    return found


def test_bucket_is_versioned_sse_s3_and_blocks_public_access() -> None:
    props = _template("origin-bucket.yaml")["Resources"]["Bucket"]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4


def test_bucket_policy_denies_plain_http_and_grants_only_what_each_reader_needs() -> None:
    t = _template("origin-bucket.yaml")
    doc = t["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]
    s = _statements(doc)
    assert s["DenyInsecureTransport"]["Effect"] == "Deny"
    assert s["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert s["CloudFrontReadsThroughOai"]["Principal"] == {
        "CanonicalUser": {"Ref": "OaiCanonicalUserId"}
    }
    assert s["CloudFrontReadsThroughOai"]["Action"] == "s3:GetObject"
    read = s["DaemonReadsCanary"]
    assert (read["Action"], read["Resource"]) == (
        "s3:GetObject",
        {"Fn::Sub": "${Bucket.Arn}/${CanaryKey}"},
    )
    write = s["DaemonWritesCanaryInSource"]
    assert (write["Action"], write["Resource"]) == (
        "s3:PutObject",
        {"Fn::Sub": "${Bucket.Arn}/${CanaryKey}"},
    )
    assert write["_condition"] == "DaemonWritesCanary"
    assert {"Condition": "IsReplicationSource"} in t["Conditions"]["DaemonWritesCanary"]["Fn::And"]


def test_the_record_set_is_conditional_weighted_by_region_and_quoted() -> None:
    t = _template("origin-bucket.yaml")
    record = t["Resources"]["WeightedRecord"]
    assert record["Condition"] == "ManageRecordSet"
    assert record["DeletionPolicy"] == "Retain"
    props = record["Properties"]
    assert props["SetIdentifier"] == {"Ref": "AWS::Region"}
    assert props["ResourceRecords"] == [{"Fn::Sub": '"${Bucket}.s3.${AWS::Region}.amazonaws.com"'}]
    assert (t["Parameters"]["Weight"]["MinValue"], t["Parameters"]["Weight"]["MaxValue"]) == (
        0,
        255,
    )


def test_daemon_task_role_is_least_privilege() -> None:
    t = _template("daemon.yaml")
    policy = t["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    s = _statements(policy)
    change = s["ChangeOwnTxtRecords"]
    assert change["Action"] == "route53:ChangeResourceRecordSets"
    # Record names by StringLike: the configured names, plus the fence record
    # (_failover-epoch.<apex>) in cluster mode only (tests/deploy/test_cluster_role.py).
    assert change["Condition"]["ForAllValues:StringEquals"] == {
        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
        "route53:ChangeResourceRecordSetsActions": ["CREATE", "DELETE"],
    }
    names = change["Condition"]["ForAllValues:StringLike"]
    cluster, single = names["route53:ChangeResourceRecordSetsNormalizedRecordNames"]["Fn::If"][1:]
    assert single == {"Ref": "RecordNames"}
    assert "_failover-epoch.*" in str(cluster)
    assert s["WaitForChanges"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:route53:::change/*"
    }
    assert s["ReadZone"]["Action"] == "route53:ListResourceRecordSets"
    assert s["ReadCanaries"] == {
        "Sid": "ReadCanaries",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": {"Ref": "CanaryObjectArns"},
    }
    assert s["ReadOverrides"]["_condition"] == "HasOverridesObject"
    assert s["ReadOverrides"]["Action"] == "s3:GetObject"  # the CLI writes, as the operator
    actions = {
        a
        for stmt in s.values()
        for a in ([stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"])
    }
    assert not any("*" in a for a in actions)
    listing = [sid for sid, stmt in s.items() if "s3:ListBucket" in str(stmt["Action"])]
    assert listing == ["MissingOverridesReadAsMissing"]  # the canaries' buckets: none


def test_a_missing_overrides_object_reads_as_missing_not_403() -> None:
    """Without s3:ListBucket S3 answers 403 for a missing key, which the daemon cannot trust."""
    t = _template("daemon.yaml")
    policy = t["Resources"]["TaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    stmt = _statements(policy)["MissingOverridesReadAsMissing"]
    assert stmt["_condition"] == "HasOverridesObject"
    assert stmt["Action"] == "s3:ListBucket"
    split = {"Fn::Split": ["/", {"Ref": "OverridesObjectArn"}]}
    assert stmt["Resource"] == {"Fn::Select": [0, split]}  # arn:aws:s3:::BUCKET
    [(operator, keys)] = stmt["Condition"].items()
    assert operator == "StringLikeIfExists"
    assert list(keys) == ["s3:prefix"]  # narrowed to the object's key prefix
    assert {"Fn::Select": [1, split]} in keys["s3:prefix"]


def test_daemon_container_health_config_and_stop() -> None:
    t = _template("daemon.yaml")
    container = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["HealthCheck"]["Command"] == ["CMD", "failover", "healthcheck"]
    secrets = container["Secrets"]["Fn::If"]
    assert secrets[0] == "ConfigInS3"  # an S3 config replaces the SSM secret
    assert secrets[2][0]["Name"] == "FAILOVER_CONFIG"
    assert container["PortMappings"] == [{"ContainerPort": 9464, "Protocol": "tcp"}]
    assert container["StopTimeout"] <= 120
    assert t["Resources"]["LogGroup"]["Properties"]["RetentionInDays"] == {
        "Ref": "LogRetentionDays"
    }
    deployment = t["Resources"]["Service"]["Properties"]["DeploymentConfiguration"]
    assert deployment["MaximumPercent"] == 100  # never two writers during a deployment


def test_edge_function_role_may_only_write_its_logs() -> None:
    t = _template("edge.yaml")
    role = t["Resources"]["EdgeFunctionRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == [
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    ]
    resources = statements[0]["Resource"]
    everywhere = "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:"
    assert {"Fn::Sub": everywhere + "/aws/lambda/us-east-1.${FunctionName}:*"} in resources
    assert "ManagedPolicyArns" not in role


NO_VALUE = object()


def _resolve(node: Any, params: dict[str, Any], conditions: dict[str, Any]) -> Any:
    """Evaluate the intrinsics the origin template uses, as CloudFormation would."""

    def ev(n: Any) -> Any:
        if isinstance(n, list):
            return [v for v in (ev(x) for x in n) if v is not NO_VALUE]
        if not isinstance(n, dict):
            return n
        if len(n) == 1:
            ((fn, arg),) = n.items()
            if fn == "Ref":
                return NO_VALUE if arg == "AWS::NoValue" else params.get(arg, f"<{arg}>")
            if fn == "Condition":
                return ev(conditions[arg])
            if fn == "Fn::Not":
                return not ev(arg[0])
            if fn == "Fn::And":
                return all(ev(a) for a in arg)
            if fn == "Fn::Equals":
                return ev(arg[0]) == ev(arg[1])
            if fn == "Fn::If":
                return ev(arg[1]) if ev(conditions[arg[0]]) else ev(arg[2])
            if fn == "Fn::Join":
                return arg[0].join(ev(arg[1]))
            if fn == "Fn::Split":
                return ev(arg[1]).split(arg[0])
            if fn == "Fn::Select":
                return ev(arg[1])[arg[0]]
            if fn == "Fn::Sub" and isinstance(arg, list):
                text = arg[0]
                for k, v in arg[1].items():
                    text = text.replace("${" + k + "}", ev(v))
                return text
            if fn in ("Fn::Sub", "Fn::GetAtt"):
                return n
        return {k: v for k, v in ((k, ev(v)) for k, v in n.items()) if v is not NO_VALUE}

    return ev(node)


def _replication(destinations: list[str]) -> tuple[Any, Any]:
    t = _template("origin-bucket.yaml")
    params = {"ReplicationDestinationBucketArns": destinations, "ReplicationTimeControl": "true"}
    bucket = t["Resources"]["Bucket"]["Properties"]["ReplicationConfiguration"]
    role = t["Resources"]["ReplicationRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    return _resolve(bucket, params, t["Conditions"]), _resolve(role, params, t["Conditions"])


@pytest.mark.parametrize("count", range(1, 9))
def test_the_source_replicates_to_every_destination_with_a_rule_and_priority_each(
    count: int,
) -> None:
    """Replication does not chain: each other Region needs its own rule from the source."""
    arns = [f"arn:aws:s3:::www-site-region-{i}" for i in range(count)]
    config, role = _replication(arns)
    rules = config["Rules"]
    assert [r["Destination"]["Bucket"] for r in rules] == arns
    assert len({r["Priority"] for r in rules}) == count  # each its own priority
    assert len({r["Id"] for r in rules}) == count
    for r in rules:
        assert r["Filter"] == {"Prefix": ""}  # the V2 schema, which several rules need
        assert r["DeleteMarkerReplication"] == {"Status": "Enabled"}
        assert r["Destination"]["ReplicationTime"]["Status"] == "Enabled"
    replicate = [s for s in role["Statement"] if "s3:ReplicateObject" in s["Action"]]
    assert replicate[0]["Resource"] == [f"{a}/*" for a in arns]


def test_a_bucket_with_no_destination_is_no_replication_source() -> None:
    t = _template("origin-bucket.yaml")
    params = {"ReplicationDestinationBucketArns": [""]}
    assert _resolve(t["Conditions"]["IsReplicationSource"], params, t["Conditions"]) is False
    config = _resolve(
        t["Resources"]["Bucket"]["Properties"]["ReplicationConfiguration"], params, t["Conditions"]
    )
    assert config is NO_VALUE
