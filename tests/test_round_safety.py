"""Whole rounds against the strict Route 53 at the edges of the safety promises."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import boto3
import botocore.config

from failover.aws.route53 import RateLimiter, Route53Store
from failover.model import Action, OriginKey, Outcome, Override
from tests.conftest import Zone
from tests.e2e_support import free_port
from tests.factories import make_config, make_pool
from tests.test_round import ALL, POOL, A, B, C, H, World


def test_a_hand_edit_after_the_last_read_never_lets_a_failover_write_an_all_zero_record(
    zone: Zone, tmp_path: Path
) -> None:
    """The gate judges the record as last read; the write must not trust that copy blindly."""
    zone.put(POOL, ALL)
    w = World(zone, tmp_path, resync=3600.0)
    w.rounds(2)
    zone.put(POOL, {B: 0, C: 0})  # a human, after the daemon's last read
    w.prober.set(Outcome.HTTP_5XX, A)
    w.rounds(3)  # A goes down: the daemon swaps A 100 -> 0
    assert any(weight > 0 for weight in w.weights().values()), w.weights()


def test_a_record_with_a_foreign_set_and_a_drifted_ttl_still_fails_over(
    zone: Zone, tmp_path: Path
) -> None:
    """Route 53 wants one TTL per weighted group; the set left untouched keeps the old one."""
    foreign = make_pool(record=POOL.record, regions=("sa-east-1",), health=H)
    zone.put(foreign, {"sa-east-1": 0}, ttl=60)
    zone.put(POOL, ALL, ttl=60)  # the pool is configured with ttl 30
    w = World(zone, tmp_path)
    w.rounds(2)
    w.prober.set(Outcome.HTTP_5XX, A)
    w.rounds(3)
    assert w.weights()[A] == 0


def test_a_record_route53_keeps_rejecting_does_not_block_another_pools_failover_in_the_zone(
    zone: Zone, tmp_path: Path
) -> None:
    """One pool's unwritable change must not take the rest of the zone's batch down with it."""
    api = make_pool(
        name="api", record="api.example.com", health=H, zone_id=zone.id, bucket_prefix="api"
    )
    foreign = make_pool(record=api.record, regions=("sa-east-1",), health=H)
    zone.put(foreign, {"sa-east-1": 0}, ttl=60)
    zone.put(api, {o.id: 100 for o in api.origins}, ttl=60)  # api is configured with ttl 30
    zone.put(POOL, ALL)
    w = World(zone, tmp_path)
    w.config = make_config(dataclasses.replace(POOL, zone_id=zone.id), api, interval=1.0)
    w.runner = w.new_runner()
    w.rounds(2)
    w.prober.set(Outcome.HTTP_5XX, A)  # www's A, a pool whose record is fine
    w.rounds(3)
    assert w.weights()[A] == 0


def test_a_reload_that_repoints_an_origin_writes_nothing_for_it_before_the_new_bucket_answers(
    zone: Zone, tmp_path: Path
) -> None:
    """Health earned by the old bucket is no evidence for the new one."""
    zone.put(POOL, ALL)
    w = World(zone, tmp_path)
    w.rounds(3)
    moved = dataclasses.replace(POOL.origins[0], bucket="www-moved-eu-west-1")
    pool = dataclasses.replace(POOL, zone_id=zone.id, origins=(moved, *POOL.origins[1:]))
    w.runner.reconfigure(make_config(pool))
    w.prober.set(Outcome.HTTP_404, A)  # the new bucket has no canary
    w.rounds(1)
    held = w.zone.store.read(zone.id, [POOL.record])[POOL.record].sets[A]
    assert not (held.values == (moved.endpoint,) and held.weight > 0), held


def test_a_restart_while_route53_is_unreadable_still_holds_down_an_origin_route53_held_at_zero(
    zone: Zone, tmp_path: Path
) -> None:
    """The restart memory (hold-down, slow start) comes from Route 53: wait for it."""
    zone.put(POOL, {A: 0, B: 100, C: 100})
    w = World(zone, tmp_path)
    dead = boto3.Session().client(
        "route53",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )
    w.runner.store = Route53Store(dead, RateLimiter(1000.0), attempts=1, sleep=lambda s: None)
    w.rounds(3)  # Route 53 unreadable; A answers its probes
    w.runner.store = zone.store  # Route 53 is back
    w.rounds(2)
    assert w.weights()[A] == 0  # the 10 s hold-down from the restart has not run out


def test_a_damaged_overrides_file_at_start_does_not_undo_an_operators_drain(
    zone: Zone, tmp_path: Path
) -> None:
    """Unreadable overrides are an error, never an empty set (overrides.decode says so)."""
    zone.put(POOL, ALL)
    w = World(zone, tmp_path)
    key = OriginKey("www", B)
    w.overrides.save({key: Override(key, Action.DRAIN, "ops@host", 0.0, "maintenance")})
    w.rounds(3)
    assert w.weights()[B] == 0
    w.overrides.path.write_text('{"version": 1, "overrides": [')  # damaged by a bad edit
    restarted = w.new_runner()
    w.rounds(20, restarted)  # healthy all along, well past rise and the 10 s hold-down
    assert w.weights()[B] == 0
