"""What Route 53 holds that the config does not expect: handled, reported, never trampled."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from structlog.testing import capture_logs

from tests.conftest import Zone
from tests.sim.worlds import POOL, A, B, C, Clock, ScriptedProber, runner

ALL = {A: 100, B: 100, C: 100}


def sets(zone: Zone) -> dict[str, tuple[int, int]]:
    rec = zone.store.read(zone.id, [POOL.record])[POOL.record]
    return {k: (s.weight, s.ttl) for k, s in rec.sets.items()}


def put_raw(zone: Zone, rrsets: list[dict[str, object]]) -> None:
    zone.client.change_resource_record_sets(  # type: ignore[attr-defined]
        HostedZoneId=zone.id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": r} for r in rrsets]},
    )


def test_a_ttl_that_differs_from_the_config_is_corrected_on_every_set_at_once(
    zone: Zone, tmp_path: Path
) -> None:
    zone.put(POOL, ALL, ttl=60)
    prober, clock = ScriptedProber(), Clock()
    r = runner(zone, tmp_path, prober, clock)
    with capture_logs() as logs:
        for _ in range(3):
            assert r.run_round().error == ""
            clock.t += 1
    assert sets(zone) == {A: (100, 30), B: (100, 30), C: (100, 30)}
    applied = [e for e in logs if e["event"] == "weights_applied"]
    assert {c["reason"] for e in applied for c in e["changes"]} == {"ttl_drift"}


def test_a_missing_set_and_a_non_weighted_record_under_the_name_are_handled(
    zone: Zone, tmp_path: Path
) -> None:
    zone.put(POOL, {A: 100, B: 100})
    put_raw(
        zone,
        [
            {
                "Name": POOL.record + ".",
                "Type": "A",
                "TTL": 300,
                "ResourceRecords": [{"Value": "192.0.2.7"}],
            }
        ],
    )
    prober, clock = ScriptedProber(), Clock()
    r = runner(zone, tmp_path, prober, clock)
    with capture_logs() as logs:
        for _ in range(3):
            assert r.run_round().error == ""
            clock.t += 1
    assert sets(zone) == {A: (100, 30), B: (100, 30), C: (100, 30)}
    found = [e for e in logs if e["event"] == "unknown_records_found"]
    assert found
    assert found[0]["other"] == ["A"]
    rec = zone.store.read(zone.id, [POOL.record])[POOL.record]
    assert rec.other == ("A",)  # still there, untouched
    created = [c for e in logs if e["event"] == "weights_applied" for c in e["changes"]]
    assert created == [{"pool": "www", "origin": C, "from": None, "to": 100, "reason": "missing"}]


def test_a_set_under_another_value_is_corrected_and_a_record_in_another_zone_ignored(
    zone: Zone, tmp_path: Path
) -> None:
    pool = dataclasses.replace(POOL, zone_id=zone.id)
    zone.put(POOL, ALL)
    put_raw(
        zone,
        [
            {
                "Name": POOL.record + ".",
                "Type": "TXT",
                "SetIdentifier": B,
                "Weight": 100,
                "TTL": 30,
                "ResourceRecords": [{"Value": '"attacker-bucket.s3.eu-west-1.amazonaws.com"'}],
            }
        ],
    )
    prober, clock = ScriptedProber(), Clock()
    r = runner(zone, tmp_path, prober, clock)
    with capture_logs() as logs:
        for _ in range(3):
            assert r.run_round().error == ""
            clock.t += 1
    rec = zone.store.read(zone.id, [pool.record])[pool.record]
    assert rec.sets[B].values == (pool.origin(B).endpoint,)
    reasons = {c["reason"] for e in logs if e["event"] == "weights_applied" for c in e["changes"]}
    assert reasons == {"value_drift"}
