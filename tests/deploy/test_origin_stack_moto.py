"""origin-bucket.yaml deployed by moto's CloudFormation in three regions, then read back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from failover import cli
from failover.model import HealthSettings, Origin

from .tools import DEPLOY

TEMPLATE = (DEPLOY / "cloudformation" / "origin-bucket.yaml").read_text()
RECORD = "origin.example.com"
OAI_CANONICAL_USER = "5" * 64
# region -> (weight, this stack manages the record)
REGIONS = {
    "us-east-1": ("100", True),
    "eu-west-1": ("50", True),
    "ap-southeast-2": ("0", True),
    "sa-east-1": ("100", False),
}

pytestmark = [
    pytest.mark.slow,  # moto runs each stack through its CloudFormation
    # moto's CloudFormation has no AWS::S3::BucketPolicy; the policy is checked
    # statically instead (test_origin_policies.py).
    pytest.mark.filterwarnings("ignore:Tried to parse AWS.{2}S3.{2}BucketPolicy:UserWarning"),
]


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Deploy the stack in every region of REGIONS; yield the hosted zone id."""
    for var in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_ROUTE_53",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        r53 = boto3.client("route53", region_name="us-east-1")
        zone = r53.create_hosted_zone(Name="example.com", CallerReference="deploy-test")
        zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
        for region, (weight, manage) in REGIONS.items():
            params = {
                "BucketPrefix": "www-site",
                "OaiCanonicalUserId": OAI_CANONICAL_USER,
                "HostedZoneId": zone_id,
                "RecordName": RECORD,
                "Weight": weight,
                "RecordTtl": "30",
                "ManageRecord": "true" if manage else "false",
            }
            cfn = boto3.client("cloudformation", region_name=region)
            cfn.create_stack(
                StackName="failover-origin",
                TemplateBody=TEMPLATE,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                Capabilities=["CAPABILITY_IAM"],
            )
            stack = cfn.describe_stacks(StackName="failover-origin")["Stacks"][0]
            assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        yield zone_id


def _txt_sets(zone_id: str) -> dict[str, dict[str, Any]]:
    r53 = boto3.client("route53", region_name="us-east-1")
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {
        s["SetIdentifier"]: dict(s)
        for s in sets
        if s["Type"] == "TXT" and s["Name"].rstrip(".") == RECORD
    }


def test_each_region_gets_its_bucket_named_by_the_stack_output(deployed: str) -> None:
    for region in REGIONS:
        cfn = boto3.client("cloudformation", region_name=region)
        outputs = cfn.describe_stacks(StackName="failover-origin")["Stacks"][0]["Outputs"]
        values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        assert values["BucketName"] == f"www-site-{region}"
        s3 = boto3.client("s3", region_name=region)
        location = s3.get_bucket_location(Bucket=values["BucketName"])["LocationConstraint"]
        assert (location or "us-east-1") == region


def test_buckets_are_encrypted_with_sse_s3(deployed: str) -> None:
    """moto applies encryption from the template (versioning and the public access
    block it ignores; test_origin_policies.py checks those in the template)."""
    for region in REGIONS:
        s3 = boto3.client("s3", region_name=region)
        config = s3.get_bucket_encryption(Bucket=f"www-site-{region}")
        rules = config["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_weighted_txt_sets_carry_region_weight_ttl_and_the_regional_endpoint(deployed: str) -> None:
    sets = _txt_sets(deployed)
    managed = {r for r, (_, manage) in REGIONS.items() if manage}
    assert set(sets) == managed  # sa-east-1 left its set to the daemon
    for region in managed:
        weight = int(REGIONS[region][0])
        record = sets[region]
        assert record["Weight"] == weight
        assert record["TTL"] == 30
        endpoint = Origin(
            pool="www",
            id=region,
            bucket=f"www-site-{region}",
            region=region,
            weight=weight,
            canary="_failover/canary.json",
            health=HealthSettings(),
        ).endpoint
        assert record["ResourceRecords"] == [{"Value": f'"{endpoint}"'}]


def test_a_second_pool_reuses_the_template_in_the_same_regions(deployed: str) -> None:
    """Stacks are independent: another prefix and record coexist with the first."""
    cfn = boto3.client("cloudformation", region_name="eu-west-1")
    params = {
        "BucketPrefix": "assets",
        "OaiCanonicalUserId": OAI_CANONICAL_USER,
        "HostedZoneId": deployed,
        "RecordName": "assets-origin.example.com",
        "Weight": "7",
        "RecordTtl": "60",
    }
    cfn.create_stack(
        StackName="assets-origin",
        TemplateBody=TEMPLATE,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    r53 = boto3.client("route53", region_name="us-east-1")
    sets = r53.list_resource_record_sets(HostedZoneId=deployed)["ResourceRecordSets"]
    assets = [s for s in sets if s["Name"].rstrip(".") == "assets-origin.example.com"]
    assert [(s["SetIdentifier"], s["Weight"], s["TTL"]) for s in assets] == [("eu-west-1", 7, 60)]
    assert len(_txt_sets(deployed)) == 3


def test_the_daemon_s_status_reads_the_records_the_stacks_created(
    deployed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`failover status` on a config naming the stacks' buckets finds their weighted sets."""
    origins = "".join(
        f'[[pools.origins]]\nid = "{r}"\nbucket = "www-site-{r}"\nregion = "{r}"\n'
        f"weight = {max(int(REGIONS[r][0]), 1)}\n"
        for r in REGIONS
    )
    config = tmp_path / "failover.toml"
    config.write_text(
        f'[daemon]\nlisten = ""\noverrides = "file://{tmp_path}/overrides.json"\n'
        f'[[pools]]\nname = "www"\nrecord = "{RECORD}"\nzone_id = "{deployed}"\nttl = 30\n'
        + origins
    )
    assert cli.main(["status", "--config", str(config), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    managed = {r: int(w) for r, (w, manage) in REGIONS.items() if manage}
    assert doc["route53"] == {"www": managed}  # sa-east-1's set is the daemon's to create
    assert doc["daemon"] is None
