"""daemon.yaml's task role grants exactly what the daemon's recorded AWS operations need."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from failover.sandbox.kvs_server import KvsServer
from tests.conftest import Zone
from tests.e2e_support import (
    REGIONS,
    drop_canary,
    free_port,
    get,
    make_buckets,
    pool_for,
    wait_for,
    write_config,
)

from . import iam

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Grants no recording can show in use. S3 itself evaluates s3:ListBucket when GetObject
# finds no key (AWS, GetObject: "If you don't have the s3:ListBucket permission, Amazon S3
# returns an HTTP status code 403 Access Denied error"), so a missing overrides object reads
# as 404; no call of the daemon names that action.
GRANTED_AHEAD = {"MissingOverridesReadAsMissing: s3:ListBucket"}
# Cluster mode's DynamoDB grants are checked in test_cluster_role.py (its
# `recorded_cluster_calls` is where a cluster-mode daemon's record goes).


KVS_ARN = "arn:aws:cloudfront::123456789012:key-value-store/3c2b1a09-0000-4000-8000-0000000000aa"


def role_params(zone_id: str, buckets: dict[str, str], **more: str) -> dict[str, Any]:
    return {
        "Image": "failover:test",
        "HostedZoneIds": [zone_id],
        "RecordNames": ["www.example.com"],
        "CanaryObjectArns": [f"arn:aws:s3:::{b}/_failover/*" for b in buckets.values()],
        "VpcId": "vpc-1",
        "Subnets": ["subnet-1"],
        "MetricsCidr": "10.1.2.0/24",
        **more,
    }


def _daemon_with_every_capability(zone: Zone, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A daemon that reads its config and overrides from S3, writes canaries and fails over."""
    buckets = make_buckets(f"iam-{uuid.uuid4().hex[:8]}")
    zone.put(pool_for(buckets), dict.fromkeys(buckets, 100))
    state = f"iam-state-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=state)
    port = free_port()
    local = tmp_path / "failover.toml"
    write_config(local, zone.id, buckets, port, tmp_path)
    text = local.read_text().replace(
        f'overrides = "file://{tmp_path}/overrides.json"',
        f'overrides = "s3://{state}/overrides.json"\ncanary_write_interval = 0.5',
    )
    text = text.replace("ttl = 5\n", f'ttl = 5\ncanary_source = "{REGIONS[0]}"\n', 1)
    # The pool's weights go to the KeyValueStore too (the sandbox's data plane).
    store = KvsServer(KVS_ARN)
    kvs = f'[kvs]\narn = "{KVS_ARN}"\nendpoint_url = "{store.endpoint_url}"\nproxy = "{store.proxy}"\n'
    text = text.replace("[[pools]]\n", kvs + "[[pools]]\n", 1)
    text = text.replace("ttl = 5\n", 'ttl = 5\nsink = "both"\nrouter = "function"\n', 1)
    # The backstop: verdicts published each second into the "Failover" namespace.
    text = text.replace("ttl = 5\n", "ttl = 5\nbackstop = true\n", 1)
    text = text.replace(
        "[[pools]]", '[backstop]\nregion = "us-west-2"\nperiod_seconds = 1\n[[pools]]', 1
    )
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=state, Key="failover.toml", Body=text.encode()
    )
    record = tmp_path / "aws.jsonl"
    env = {**os.environ, "FAILOVER_AWS_AUDIT": str(record)}
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "failover", "run", "--config", f"s3://{state}/failover.toml"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for("/readyz", lambda: get(port, "/readyz")[0] == 200, timeout=30)
        victim = REGIONS[1]
        drop_canary(buckets[victim], victim)
        wait_for("the failover", lambda: zone.weights(pool_for(buckets))[victim] == 0, 30)
        wait_for("a canary write", lambda: "canary_written" in log.read_text(), 30)
        wait_for("the change followed to INSYNC", lambda: "change_in_sync" in log.read_text(), 30)
        wait_for("a store write", lambda: "kvs_weights_applied" in log.read_text(), 30)
        cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
        wait_for(
            "verdicts published",
            lambda: bool(cloudwatch.list_metrics(Namespace="Failover")["Metrics"]),
            30,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        store.close()
    source = buckets[REGIONS[0]]
    params = role_params(
        zone.id,
        buckets,
        CanaryWriteObjectArn=f"arn:aws:s3:::{source}/_failover/canary.json",
        OverridesObjectArn=f"arn:aws:s3:::{state}/overrides.json",
        ConfigObjectArn=f"arn:aws:s3:::{state}/failover.toml",
        KeyValueStoreArns=[KVS_ARN],
        BackstopNamespace="Failover",
    )
    return record, params


def test_the_task_role_grants_every_operation_the_daemon_makes_and_nothing_more(
    zone: Zone, tmp_path: Path
) -> None:
    record, params = _daemon_with_every_capability(zone, tmp_path)
    recorded = iam.needs(record)
    operations = {n.operation for n in recorded}
    assert {
        "route53/ListResourceRecordSets",
        "route53/ChangeResourceRecordSets",
        "route53/GetChange",
        "s3/GetObject",
        "s3/PutObject",
        "cloudfront-keyvaluestore/DescribeKeyValueStore",
        "cloudfront-keyvaluestore/GetKey",
        "cloudfront-keyvaluestore/PutKey",
        "cloudwatch/PutMetricData",
        "cloudwatch/DescribeAlarms",
    } <= operations
    statements = iam.task_role(params)
    assert iam.refused(statements, recorded) == []
    assert set(iam.unused(statements, recorded)) == GRANTED_AHEAD


def test_a_role_that_also_lets_the_daemon_write_overrides_is_flagged(
    zone: Zone, tmp_path: Path
) -> None:
    """The daemon never writes overrides (the CLI does, as the operator): PutObject is excess."""
    record, params = _daemon_with_every_capability(zone, tmp_path)
    statements = iam.task_role(params)
    widened = [
        iam.Statement(s.sid, (*s.actions, "s3:PutObject"), s.resources, s.all_values_in)
        if s.sid == "ReadOverrides"
        else s
        for s in statements
    ]
    assert "ReadOverrides: s3:PutObject" in iam.unused(widened, iam.needs(record))


def test_the_record_changes_the_daemon_makes_fit_the_condition_keys() -> None:
    """CREATE and DELETE of TXT sets of configured names pass; an UPSERT or an A set does not."""
    statements = iam.task_role(role_params("ZONE1", {}, HostedZoneIds=["ZONE1", "ZONE2"]))

    def change(zone: str, action: str, kind: str = "TXT", name: str = "www.example.com.") -> Any:
        params = {"HostedZoneId": f"/hostedzone/{zone}"}
        params["Changes"] = [{"Action": action, "Type": kind, "Name": name}]  # type: ignore[assignment]
        action_, resource, context = iam.TABLE[("route53", "ChangeResourceRecordSets")]
        return iam.Need(
            "route53/ChangeResourceRecordSets", action_, resource(params), context(params)
        )

    ok = [change("ZONE1", "CREATE"), change("ZONE2", "DELETE")]
    assert iam.refused(statements, ok) == []
    bad = [
        change("ZONE1", "UPSERT"),
        change("ZONE1", "CREATE", kind="A"),
        change("ZONE1", "CREATE", name="other.example.com."),
        change("ZONE3", "CREATE"),
    ]
    assert iam.refused(statements, bad) == bad


def test_verdicts_may_be_published_only_into_the_configured_namespace() -> None:
    statements = iam.task_role(role_params("ZONE1", {}, BackstopNamespace="Failover"))
    action, resource, context = iam.TABLE[("cloudwatch", "PutMetricData")]

    def put(namespace: str) -> iam.Need:
        p = {"Namespace": namespace}
        return iam.Need("cloudwatch/PutMetricData", action, resource(p), context(p))

    assert iam.refused(statements, [put("Failover")]) == []
    assert iam.refused(statements, [put("Other")]) == [put("Other")]
    none = iam.task_role(role_params("ZONE1", {}))
    assert iam.refused(none, [put("Failover")]) == [put("Failover")]
