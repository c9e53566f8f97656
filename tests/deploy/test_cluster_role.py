"""daemon.yaml's task role grants what a cluster-mode daemon really calls, and nothing broader.

The record comes from a real `failover run` in cluster mode on moto (its table in
us-east-2): it takes the lease, publishes and reads views, fails over through the
fence record, takes a drain from the table and releases the lease on SIGTERM.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from failover.aws import audit
from tests.cluster.tables import create_table
from tests.conftest import Zone
from tests.e2e_support import (
    REGIONS,
    cli,
    drop_canary,
    events,
    free_port,
    make_buckets,
    pool_for,
    wait_for,
    write_config,
)

from . import iam

TABLE = "failover-cluster"
# What failover/cluster/table.py calls, on the table ARN only. No UpdateItem, no
# DescribeTable: the code makes neither call, so the role grants neither.
TABLE_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
}
PARTITIONS = ("lease", "view", "overrides")  # the items' pk values (CONTRACTS.md)
TABLE_REGION = "us-east-2"
REPLICA = "us-east-2"  # as the stack names it: FAILOVER_REPLICA_NAME = the Region
FENCE = "_failover-epoch.example.com"  # the `zone` fixture's apex


def cluster_params(**more: Any) -> dict[str, Any]:
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


def _create_table(name: str) -> None:
    create_table(TABLE_REGION, name)
    db = boto3.client("dynamodb", region_name=TABLE_REGION)
    # This replica's view from a previous life, when a Region was down: two shards. The
    # restarted replica publishes one and must delete the other (DeleteItem).
    for shard in (0, 1):
        db.put_item(
            TableName=name,
            Item={
                "pk": {"S": "view"},
                "sk": {"S": f"{REPLICA}#{shard}"},
                "replica": {"S": REPLICA},
                "shard": {"N": str(shard)},
                "shards": {"N": "2"},
                "seq": {"N": "41"},
                "blind": {"BOOL": False},
                "schema": {"N": "1"},
                "body": {"S": "{}"},
            },
        )


def _lease(table: str) -> dict[str, Any]:
    got = boto3.client("dynamodb", region_name=TABLE_REGION).get_item(
        TableName=table, Key={"pk": {"S": "lease"}, "sk": {"S": "lease"}}, ConsistentRead=True
    )
    item: dict[str, Any] = got.get("Item", {})
    return item


def recorded_cluster_daemon(zone: Zone, tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """Run a cluster-mode daemon under FAILOVER_AWS_AUDIT; its record, table and buckets."""
    buckets = make_buckets(f"role-{uuid.uuid4().hex[:8]}")
    pool = pool_for(buckets)
    zone.put(pool, dict.fromkeys(buckets, 100))
    table = f"failover-{uuid.uuid4().hex[:8]}"
    _create_table(table)
    config, port = tmp_path / "failover.toml", free_port()
    write_config(config, zone.id, buckets, port, tmp_path)
    with config.open("a") as f:
        f.write(
            f'[cluster]\ntable = "{table}"\nregion = "{TABLE_REGION}"\nreplicas = 1\n'
            "lease_seconds = 4.0\nlease_margin_seconds = 1.0\n"
        )
    record, log = tmp_path / "aws.jsonl", tmp_path / "daemon.log"
    env = {**os.environ, "FAILOVER_AWS_AUDIT": str(record), "FAILOVER_REPLICA_NAME": REPLICA}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "failover", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for(
            "the lease taken",
            lambda: "leadership_taken" in {e.get("event") for e in events(log)},
            30,
        )
        victim, drained = REGIONS[1], REGIONS[2]
        drop_canary(buckets[victim], victim)
        wait_for("the fenced failover", lambda: zone.weights(pool)[victim] == 0, 30)
        drain = cli("drain", "www", drained, "--reason", "role", "--wait", "0", "--force",
                    "--config", str(config))  # fmt: skip
        assert drain.returncode == 0, drain.stderr
        wait_for("the drain from the table", lambda: zone.weights(pool)[drained] == 0, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert "lease_released" in {e.get("event") for e in events(log)}
    assert _lease(table)["holder"] == {"S": ""}
    return record, table, buckets


# ---- what the role must do with them ---------------------------------------------------


@pytest.mark.e2e
@pytest.mark.slow
def test_the_role_allows_every_call_of_a_cluster_daemon_and_grants_no_unused_table_action(
    zone: Zone, tmp_path: Path
) -> None:
    """Lease, views, overrides and the fence record: each call allowed, in either placement."""
    record, table, buckets = recorded_cluster_daemon(zone, tmp_path)
    recorded = iam.needs(record)
    assert {n.action for n in recorded if n.action.startswith("dynamodb:")} == TABLE_ACTIONS
    changed = [dict(n.context) for n in recorded if n.action == "route53:ChangeResourceRecordSets"]
    fenced = [
        c for c in changed if FENCE in c["route53:ChangeResourceRecordSetsNormalizedRecordNames"]
    ]
    assert fenced, "no batch carried the fence"
    assert len(fenced) == len(changed), "every cluster batch carries the fence"
    # Re-asserted (DELETE + CREATE of one epoch) or bumped; the very first fence of a zone
    # has nothing to delete: CREATE alone.
    assert all(
        "CREATE" in (a := set(c["route53:ChangeResourceRecordSetsActions"]))
        and a <= {"DELETE", "CREATE"}
        for c in fenced
    )
    common = {
        "HostedZoneIds": [zone.id],
        "CanaryObjectArns": [f"arn:aws:s3:::{b}/_failover/*" for b in buckets.values()],
        "ClusterTableName": table,
    }
    for stack_region, more in (
        (TABLE_REGION, {}),  # the table in the stack's Region
        ("ap-southeast-2", {"ClusterTableRegion": TABLE_REGION}),  # a table replica elsewhere
    ):
        statements = iam.task_role(cluster_params(**common, **more), region=stack_region)
        assert iam.refused(statements, recorded) == [], stack_region
        unused = iam.unused(statements, recorded)
        assert [u for u in unused if u.startswith(("ClusterTable", "ChangeOwn"))] == []


def test_cluster_batches_may_carry_the_fence_and_single_daemon_batches_may_not() -> None:
    """The fence of a configured zone passes in cluster mode only; other names never do."""

    def change(zone: str, *names: str) -> iam.Need:
        params: dict[str, Any] = {"HostedZoneId": f"/hostedzone/{zone}"}
        params["Changes"] = [
            {"Action": a, "Type": "TXT", "Name": n} for n in names for a in ("DELETE", "CREATE")
        ]
        action, resource, context = iam.TABLE[("route53", "ChangeResourceRecordSets")]
        return iam.Need(
            "route53/ChangeResourceRecordSets", action, resource(params), context(params)
        )

    batch = change("ZONE1", "www.example.com.", f"{FENCE}.")
    cluster = iam.task_role(cluster_params(), region="us-east-1")
    single = cluster_params()
    del single["ClusterTableName"]
    assert iam.refused(cluster, [batch]) == []
    assert iam.refused(iam.task_role(single), [batch]) == [batch]
    bad = [
        change("ZONE2", "www.example.com.", f"{FENCE}."),  # a zone not configured
        change("ZONE1", "www.example.com.", "other.example.com."),
        change("ZONE1", "www.example.com.", "x_failover-epoch.example.com."),
    ]
    assert iam.refused(cluster, bad) == bad


def _dynamodb_statements(statements: list[iam.Statement]) -> list[iam.Statement]:
    return [s for s in statements if any(a.startswith("dynamodb:") for a in s.actions)]


def test_dynamodb_is_granted_exactly_the_four_actions_the_code_calls_on_the_table_arn_alone() -> (
    None
):
    """Statement by statement: no wildcard, no second ARN, no index, items by partition key,
    and neither UpdateItem nor DescribeTable, which the code never calls."""
    statements = _dynamodb_statements(iam.task_role(cluster_params(), region="eu-west-2"))
    arn = f"arn:aws:dynamodb:eu-west-2:{iam.ACCOUNT}:table/{TABLE}"
    assert {a for s in statements for a in s.actions} == TABLE_ACTIONS
    for s in statements:
        assert s.resources == (arn,), s
        assert all("*" not in a for a in s.actions), s
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
