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
            "route53:ChangeResourceRecordSetsActions": ["CREATE", "DELETE"],
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
    assert s["ReadOverrides"]["_condition"] == "HasOverridesObject"
    assert s["ReadOverrides"]["Action"] == "s3:GetObject"  # the CLI writes, as the operator
    actions = {
        a
        for stmt in s.values()
        for a in ([stmt["Action"]] if isinstance(stmt["Action"], str) else stmt["Action"])
    }
    assert not any("*" in a for a in actions)
    assert "s3:ListBucket" not in actions  # a missing canary must read as 403


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
