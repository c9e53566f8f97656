"""Route 53's history on the sandbox and the audits made of it: each must be able to fail."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest

from failover.model import quote_txt
from failover.sandbox import ledger
from failover.sandbox.observe import wait_until
from failover.sandbox.route53_strict import Applied
from failover.sandbox.s3proxy import ROUTE53_CHANGE
from failover.sandbox.world import CREDENTIALS, RECORD, Sandbox

FENCE = "_failover-epoch.example.com."
NAME = RECORD + "."


def wset(origin: str, weight: int) -> dict[str, Any]:
    return {
        "Name": NAME,
        "Type": "TXT",
        "SetIdentifier": origin,
        "Weight": weight,
        "TTL": 1,
        "ResourceRecords": [{"Value": quote_txt(origin)}],
    }


def fence(epoch: int) -> dict[str, Any]:
    return {
        "Name": FENCE,
        "Type": "TXT",
        "TTL": 60,
        "ResourceRecords": [{"Value": quote_txt(str(epoch))}],
    }


def batch(
    at: float, comment: str, changes: list[tuple[str, dict[str, Any]]], before: dict[Any, Any]
) -> Applied:
    return Applied(at, "Z", comment, tuple(changes), before)


def key(rrset: dict[str, Any]) -> tuple[str, str, str]:
    return (rrset["Name"], "TXT", rrset.get("SetIdentifier", ""))


def swap(at: float, epoch: int, origin: str, old: int, new: int, held: int | None) -> Applied:
    """A leader's batch: one set swapped by DELETE + CREATE, the fence carried to `epoch`."""
    changes = [("DELETE", wset(origin, old)), ("CREATE", wset(origin, new))]
    if held is not None:
        changes.append(("DELETE", fence(held)))
    changes.append(("CREATE", fence(epoch)))
    before = {key(wset(origin, old)): wset(origin, old), (FENCE, "TXT", ""): None}
    if held is not None:
        before[(FENCE, "TXT", "")] = fence(held)
    return batch(at, f"failover c{at:g} epoch {epoch}", changes, before)


def test_fenced_batches_in_epoch_order_pass_every_audit() -> None:
    run = [swap(1, 1, "eu", 100, 0, None), swap(2, 2, "eu", 0, 100, 1)]
    assert ledger.audit_epochs(run, "example.com") == []
    assert ledger.audit_writes(run) == []
    assert [(m.origin, m.old, m.new) for m in ledger.moves(run, RECORD)] == [
        ("eu", 100, 0),
        ("eu", 0, 100),
    ]


def test_a_batch_of_an_older_epoch_after_a_newer_one_is_a_stale_write() -> None:
    run = [swap(1, 2, "eu", 100, 0, 1), swap(2, 1, "eu", 0, 100, 2)]
    found = ledger.audit_epochs(run, "example.com")
    assert any("landed over the fence 2" in p for p in found)
    assert any("landed after a batch of epoch 2" in p for p in found)


def test_a_batch_that_does_not_carry_the_fence_is_reported() -> None:
    bare = batch(
        1,
        "failover c1 epoch 3",
        [("DELETE", wset("eu", 100)), ("CREATE", wset("eu", 0))],
        {key(wset("eu", 100)): wset("eu", 100)},
    )
    assert ledger.audit_epochs([bare], "example.com") == [
        "c1 (epoch 3) did not carry the fence to its epoch: it created []"
    ]
    no_epoch = batch(1, "failover c2", [("CREATE", wset("eu", 0))], {key(wset("eu", 0)): None})
    assert ledger.audit_epochs([no_epoch], "example.com") != []


def test_an_upsert_or_a_create_over_a_set_is_a_blind_write() -> None:
    upsert = batch(
        1, "failover c1 epoch 1", [("UPSERT", wset("eu", 0))], {key(wset("eu", 0)): wset("eu", 100)}
    )
    over = batch(
        2, "failover c2 epoch 1", [("CREATE", wset("eu", 0))], {key(wset("eu", 0)): wset("eu", 100)}
    )
    found = ledger.audit_writes([upsert, over])
    assert len(found) == 2
    assert "UPSERT" in found[0]
    assert "without deleting it" in found[1]


def test_two_turns_within_one_episode_are_a_flip_flop_and_one_is_not() -> None:
    def m(at: float, old: int, new: int) -> ledger.Move:
        return ledger.Move(at, "eu", old, new, None)

    down_up = [m(1, 100, 0), m(2, 0, 100)]
    assert ledger.flip_flops(down_up, [0.0]) == []
    flapping = [*down_up, m(3, 100, 0)]
    assert ledger.flip_flops(flapping, [0.0]) == ["episode 1: eu changed direction 2 times (- + -)"]
    assert ledger.flip_flops(flapping, [0.0, 2.5]) == []  # a new fault, a new episode


def test_the_journal_keeps_each_accepted_batch_with_its_comment_and_a_held_batch_waits() -> None:
    """A `route53-change` hang holds change batches on the wire while reads go through."""
    with Sandbox() as sb:
        assert ledger.history(sb.zone_id) == []  # the set-up batch: the zone was not watched
        ledger.watch(sb.zone_id)
        journal_and_hold(sb)


def journal_and_hold(sb: Sandbox) -> None:
    cfg = botocore.config.Config(retries={"total_max_attempts": 1}, read_timeout=20)
    r53 = boto3.client(
        "route53",
        endpoint_url=sb.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=cfg,
    )
    proxy = sb.proxy
    assert proxy is not None
    region = next(iter(sb.buckets))
    value = [{"Value": quote_txt(sb.endpoint(region))}]
    held = {
        "Action": "DELETE",
        "ResourceRecordSet": {**wset(region, 100), "ResourceRecords": value},
    }
    create = {
        "Action": "CREATE",
        "ResourceRecordSet": {**wset(region, 7), "ResourceRecords": value},
    }
    before = len(ledger.history(sb.zone_id))
    proxy.break_target(ROUTE53_CHANGE, "hang")
    sent = proxy.requests(ROUTE53_CHANGE)
    tag = secrets.token_hex(4)
    done: list[object] = []
    t = threading.Thread(
        target=lambda: done.append(
            r53.change_resource_record_sets(
                HostedZoneId=sb.zone_id,
                ChangeBatch={"Comment": f"failover {tag} epoch 1", "Changes": [held, create]},
            )
        )
    )
    t.start()
    try:
        assert wait_until(lambda: proxy.requests(ROUTE53_CHANGE) > sent, 5)
        assert sb.records()[region] == 100  # reads answer; the batch waits on the wire
        r53.list_resource_record_sets(HostedZoneId=sb.zone_id)
        assert done == []
        assert len(ledger.history(sb.zone_id)) == before
    finally:
        proxy.heal(ROUTE53_CHANGE)
        t.join(10)
    assert done
    assert sb.records()[region] == 7
    with pytest.raises(botocore.exceptions.ClientError):  # the same DELETE no longer matches
        r53.change_resource_record_sets(
            HostedZoneId=sb.zone_id,
            ChangeBatch={"Comment": "refused", "Changes": [held, create]},
        )
    after = ledger.history(sb.zone_id)[before:]
    assert [a.comment for a in after] == [f"failover {tag} epoch 1"]
    assert [(m.origin, m.old, m.new) for m in ledger.moves(after, RECORD)] == [(region, 100, 7)]
    r53.close()
