"""daemon.yaml's task role grants cluster mode's table calls on the one table's items, and nothing broader."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from failover.aws import audit

from . import iam

TABLE = "failover-cluster"
# CONTRACTS.md, cluster mode: the actions the daemon uses, on the table ARN only.
CONTRACT_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:DescribeTable",
}
PARTITIONS = ("lease", "view", "overrides")  # the items' pk values (CONTRACTS.md)


def cluster_params(**more: str) -> dict[str, Any]:
    return {
        "Image": "failover:test",
        "HostedZoneIds": ["ZONE1"],
        "RecordNames": ["www.example.com"],
        "CanaryObjectArns": ["arn:aws:s3:::www-eu-west-1/_failover/*"],
        "VpcId": "vpc-1",
        "Subnets": ["subnet-1"],
        "MetricsCidr": "10.1.2.0/24",
        "ClusterTableName": TABLE,
        **more,
    }


def _dynamodb_statements(statements: list[iam.Statement]) -> list[iam.Statement]:
    return [s for s in statements if any(a.startswith("dynamodb:") for a in s.actions)]


# ---- the seam --------------------------------------------------------------------------
# Until the cluster code is on this branch, its table calls are stood for by the contract's
# six operations, one call each, made through a boto3 session watched by the same recorder
# a daemon uses under FAILOVER_AWS_AUDIT, against moto. At merge, replace this function's
# body with a cluster-mode daemon run (test_task_role.py's end-to-end daemon plus a
# [cluster] table) and return its record: every assertion below stays as it is.
def recorded_cluster_calls(
    tmp_path: Path, region: str, table: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A record of lease, view and overrides reads and writes on `table` in `region`."""
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    record = tmp_path / "aws.jsonl"
    out = record.open("a", encoding="utf-8")
    monkeypatch.setattr(audit, "_out", out)
    session = boto3.Session(region_name=region)
    audit.watch(session)
    db = session.client("dynamodb")
    lease = {"pk": {"S": "lease"}, "sk": {"S": "lease"}}
    db.describe_table(TableName=table)
    db.put_item(
        TableName=table,
        Item={
            **lease,
            "holder": {"S": region},
            "epoch": {"N": "1"},
            "renewal": {"N": "0"},
            "schema": {"N": "1"},
        },
        ConditionExpression="attribute_not_exists(pk)",
    )
    db.update_item(
        TableName=table,
        Key=lease,
        UpdateExpression="SET renewal = renewal + :one",
        ConditionExpression="holder = :me AND epoch = :epoch",
        ExpressionAttributeValues={":one": {"N": "1"}, ":me": {"S": region}, ":epoch": {"N": "1"}},
    )
    db.get_item(TableName=table, Key=lease, ConsistentRead=True)
    db.put_item(
        TableName=table,
        Item={
            "pk": {"S": "view"},
            "sk": {"S": f"{region}#0"},
            "seq": {"N": "7"},
            "blind": {"BOOL": False},
            "shards": {"N": "1"},
            "schema": {"N": "1"},
        },
    )
    db.query(
        TableName=table,
        KeyConditionExpression="#pk = :view",
        ExpressionAttributeNames={"#pk": "pk"},
        ExpressionAttributeValues={":view": {"S": "view"}},
        ConsistentRead=True,
    )
    db.put_item(
        TableName=table,
        Item={
            "pk": {"S": "overrides"},
            "sk": {"S": "current"},
            "body": {"S": "{}"},
            "version": {"N": "1"},
            "schema": {"N": "1"},
        },
        ConditionExpression="attribute_not_exists(pk)",
    )
    db.delete_item(
        TableName=table,
        Key=lease,
        ConditionExpression="holder = :me",
        ExpressionAttributeValues={":me": {"S": region}},
    )
    out.close()
    return record


# ---- what the role must do with them ---------------------------------------------------


@pytest.mark.parametrize(
    ("region", "more"),
    [("us-east-2", {}), ("ap-southeast-2", {"ClusterTableRegion": "us-east-2"})],
    ids=["table in the stack's region", "table replica in another region"],
)
def test_the_role_allows_every_recorded_table_call_and_grants_no_unused_table_action(
    endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    region: str,
    more: dict[str, str],
) -> None:
    table_region = more.get("ClusterTableRegion", region)
    table = f"failover-{uuid.uuid4().hex[:8]}"
    record = recorded_cluster_calls(tmp_path, table_region, table, monkeypatch)
    recorded = iam.needs(record)
    assert {n.action for n in recorded} == CONTRACT_ACTIONS
    statements = iam.task_role(cluster_params(ClusterTableName=table, **more), region=region)
    assert iam.refused(statements, recorded) == []
    assert [u for u in iam.unused(statements, recorded) if u.startswith("ClusterTable")] == []


def test_dynamodb_is_granted_exactly_the_contract_s_actions_on_the_table_arn_alone() -> None:
    """Statement by statement: no wildcard, no second ARN, no index, items by partition key."""
    statements = _dynamodb_statements(iam.task_role(cluster_params(), region="eu-west-2"))
    arn = f"arn:aws:dynamodb:eu-west-2:{iam.ACCOUNT}:table/{TABLE}"
    assert {a for s in statements for a in s.actions} == CONTRACT_ACTIONS
    for s in statements:
        assert s.resources == (arn,), s
        assert all("*" not in a for a in s.actions), s
        item_actions = set(s.actions) - {"dynamodb:DescribeTable"}
        if item_actions:
            assert s.all_values_in == (("dynamodb:LeadingKeys", PARTITIONS),), s


def test_a_single_daemon_stack_grants_no_dynamodb_access() -> None:
    params = cluster_params()
    del params["ClusterTableName"]
    assert _dynamodb_statements(iam.task_role(params)) == []


def _need(action: str, resource: str, pk: str | None = "view") -> iam.Need:
    context = () if pk is None else (("dynamodb:LeadingKeys", (pk,)),)
    return iam.Need(action, action, resource, context)


def test_table_calls_beyond_the_table_or_its_three_partitions_are_refused() -> None:
    statements = iam.task_role(cluster_params(), region="us-east-1")
    arn = f"arn:aws:dynamodb:us-east-1:{iam.ACCOUNT}:table/{TABLE}"
    assert iam.refused(statements, [_need("dynamodb:GetItem", arn)]) == []
    bad = [
        _need("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:{iam.ACCOUNT}:table/other"),
        _need("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-2:{iam.ACCOUNT}:table/{TABLE}"),
        _need("dynamodb:GetItem", f"arn:aws:dynamodb:us-east-1:210987654321:table/{TABLE}"),
        _need("dynamodb:Query", f"{arn}/index/by-holder"),
        _need("dynamodb:PutItem", arn, pk="config"),
        _need("dynamodb:Scan", arn, pk=None),
        _need("dynamodb:BatchWriteItem", arn),
        _need("dynamodb:DeleteTable", arn, pk=None),
    ]
    assert iam.refused(statements, bad) == bad


def test_a_query_whose_partition_cannot_be_read_is_refused_not_waved_through() -> None:
    params = {"Region": "us-east-1", "TableName": TABLE, "KeyConditionExpression": "<cond>"}
    action, resource, context = iam.TABLE[("dynamodb", "Query")]
    need = iam.Need("dynamodb/Query", action, resource(params), context(params))
    statements = iam.task_role(cluster_params(), region="us-east-1")
    assert iam.refused(statements, [need]) == [need]


def test_the_recorder_keeps_no_item_body_only_its_key() -> None:
    """A view may hold thousands of origins: the record keeps pk and sk, never the verdicts."""
    out = io.StringIO()
    try:
        audit._out = out
        audit.record(
            "dynamodb",
            "PutItem",
            {
                "TableName": TABLE,
                "Region": "eu-west-1",
                "Item": {"pk": {"S": "view"}, "sk": {"S": "a#0"}, "down": {"L": []}},
            },
        )
    finally:
        audit._out = None
    assert '"down"' not in out.getvalue()
    assert '"sk": {"S": "a#0"}' in out.getvalue()
