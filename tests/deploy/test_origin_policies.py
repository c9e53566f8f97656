"""What moto cannot deploy, read from the templates: bucket settings, bucket policy, task role."""

from __future__ import annotations

from typing import Any

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
    assert change["Condition"] == {
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": {"Ref": "RecordNames"},
        }
    }
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
    assert s["ReadWriteOverrides"]["_condition"] == "HasOverridesObject"
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
    assert container["Secrets"][0]["Name"] == "FAILOVER_CONFIG"
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
