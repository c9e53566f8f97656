"""The round and the backstop: health checks carried through every write, and given back to a re-created set."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from failover.core import backstop
from failover.core.batch import Batch
from failover.model import BackstopSettings, Change, Reason, WeightedSet
from tests.conftest import Zone
from tests.factories import make_config
from tests.test_round import ALL, POOL, World

A, B, C = (o.id for o in POOL.origins)


def sets(zone: Zone) -> dict[str, dict[str, Any]]:
    client: Any = zone.client
    listed = client.list_resource_record_sets(HostedZoneId=zone.id)["ResourceRecordSets"]
    return {rr["SetIdentifier"]: rr for rr in listed if "SetIdentifier" in rr}


def arm(zone: Zone, set_id: str) -> str:
    client: Any = zone.client
    check = client.create_health_check(
        CallerReference=f"backstop-{zone.id}-{set_id}",
        HealthCheckConfig=backstop.health_check(
            BackstopSettings(region="us-west-2"), POOL.origins[0].key
        ),
    )["HealthCheck"]["Id"]
    held = sets(zone)[set_id]
    client.change_resource_record_sets(
        HostedZoneId=zone.id,
        ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": dict(held, HealthCheckId=check)}]
        },
    )
    return str(check)


def test_a_backstop_set_deleted_by_hand_is_recreated_with_its_health_check(
    zone: Zone, tmp_path: Path
) -> None:
    zone.put(POOL, ALL)
    check = arm(zone, C)
    w = World(zone, tmp_path)
    w.config = make_config(dataclasses.replace(POOL, zone_id=zone.id, backstop=True))
    w.runner = w.new_runner()
    w.rounds(2)
    client: Any = zone.client
    client.change_resource_record_sets(
        HostedZoneId=zone.id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": sets(zone)[C]}]},
    )
    w.runner.reader.forget_schedule(w.config)  # read again now, as a resync would
    w.rounds(3)
    assert w.weights() == ALL
    assert sets(zone)[C].get("HealthCheckId") == check


def test_a_set_of_a_pool_without_the_backstop_is_recreated_as_configured() -> None:
    """Only backstop pools get a remembered check back: elsewhere a check is a person's own."""
    cfg = make_config(POOL)
    o = POOL.origins[0]
    new = WeightedSet(POOL.record, o.id, 100, POOL.ttl, (o.endpoint,))
    batch = Batch("Z1", (Change(POOL.name, None, new, Reason.MISSING),))
    seen = {(POOL.name, o.id): "hc-1"}
    assert backstop.rearm(cfg, batch, seen) == batch
    armed = dataclasses.replace(cfg, pools=(dataclasses.replace(POOL, backstop=True),))
    got = backstop.rearm(armed, batch, seen).changes[0].new
    assert got.extra == (("HealthCheckId", '"hc-1"'),)
