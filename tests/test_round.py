"""Whole rounds against the strict Route 53: failover, recovery, fail-open, freeze, races, drift."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.core.plan import Batch
from failover.errors import Route53Error
from failover.metrics import Metrics
from failover.model import (
    Action,
    Change,
    HealthSettings,
    Origin,
    OriginKey,
    Outcome,
    Override,
    ProbeResult,
    State,
)
from failover.overrides import FileStore
from failover.round import Runner
from failover.stages.emit import emit
from tests.conftest import Zone
from tests.factories import Clock, ScriptedProber, make_config, make_pool

H = HealthSettings(timeout=0.5, fall=3, rise=2, hold_down=10.0, hold_down_max=80.0)
POOL = make_pool(record="www.example.com", health=H)
A, B, C = (o.id for o in POOL.origins)
ALL = {A: 100, B: 100, C: 100}


class World:
    def __init__(self, zone: Zone, tmp: Path, **daemon: object) -> None:
        self.zone = zone
        self.prober = ScriptedProber()
        self.clock = Clock()
        self.registry = CollectorRegistry()
        self.overrides = FileStore(tmp / "overrides.json")
        self.config = make_config(dataclasses.replace(POOL, zone_id=zone.id), **daemon)
        self.runner = self.new_runner()

    def new_runner(self) -> Runner:
        metrics = Metrics(CollectorRegistry())
        return Runner(
            self.config,
            self.prober,
            self.zone.store,
            self.overrides,
            metrics,
            clock=self.clock,
            wall=self.clock,
        )

    def rounds(self, n: int, runner: Runner | None = None) -> None:
        for _ in range(n):
            report = (runner or self.runner).run_round()
            assert report.error == ""
            self.clock.t += 1.0

    def weights(self) -> dict[str, int]:
        return self.zone.weights(POOL)


@pytest.fixture
def world(zone: Zone, tmp_path: Path) -> World:
    zone.put(POOL, ALL)
    return World(zone, tmp_path)


def test_a_steady_healthy_world_writes_nothing(world: World) -> None:
    with capture_logs() as logs:
        world.rounds(10)
    assert world.weights() == ALL
    assert not [e for e in logs if e["event"].startswith("weights_")]


def test_a_failing_region_loses_its_weight_after_fall_probes(world: World) -> None:
    world.rounds(2)
    world.prober.set(Outcome.HTTP_5XX, A)
    world.rounds(2)
    assert world.weights()[A] == 100  # two failures: not yet
    with capture_logs() as logs:
        world.rounds(1)
    assert world.weights() == {A: 0, B: 100, C: 100}
    events = {e["event"]: e for e in logs}
    assert events["origin_marked_down"]["origin"] == A
    planned, applied = events["weights_planned"], events["weights_applied"]
    assert planned["change_id"] == applied["change_id"]
    assert applied["changes"] == [
        {"pool": "www", "origin": A, "from": 100, "to": 0, "reason": "down"}
    ]


def test_a_recovered_region_returns_after_rise_and_hold_down(world: World) -> None:
    world.rounds(2)
    world.prober.set(Outcome.TIMEOUT, A)
    world.rounds(3)  # down at the third failure
    world.prober.set(Outcome.OK, A)
    world.rounds(9)  # rise is reached at once, but the 10 s hold-down holds
    assert world.weights()[A] == 0
    world.rounds(2)
    assert world.weights()[A] == 100


def test_every_region_failing_never_writes_all_zero_and_fails_open(world: World) -> None:
    world.rounds(2)
    world.prober.set(Outcome.HTTP_5XX, A)
    world.rounds(3)
    assert world.weights() == {A: 0, B: 100, C: 100}
    world.prober.set(Outcome.HTTP_5XX)
    with capture_logs() as logs:
        world.rounds(5)
    assert any(w > 0 for w in world.weights().values())
    assert world.weights() == ALL  # fail open: the configured weights, nothing black-holed
    assert "pool_failed_open" in {e["event"] for e in logs}
    snap = world.runner.snapshot()
    assert snap.pools[0].failed_open


def test_a_blind_prober_freezes_writes(world: World) -> None:
    world.rounds(2)
    world.prober.set(Outcome.HTTP_5XX, A)
    world.rounds(3)
    world.prober.set(Outcome.TIMEOUT)  # the daemon's own network is cut
    with capture_logs() as logs:
        world.rounds(6)
    assert world.weights() == {A: 0, B: 100, C: 100}  # what Route 53 had, untouched
    assert "writes_frozen" in {e["event"] for e in logs}
    assert world.runner.snapshot().frozen
    world.prober.set(Outcome.OK)
    with capture_logs() as logs:
        world.rounds(1)
    assert "writes_unfrozen" in {e["event"] for e in logs}


def test_dry_run_decides_and_logs_but_never_writes(zone: Zone, tmp_path: Path) -> None:
    zone.put(POOL, ALL)
    w = World(zone, tmp_path, dry_run=True)
    w.prober.set(Outcome.HTTP_404, A)
    with capture_logs() as logs:
        w.rounds(6)
    assert w.weights() == ALL
    planned = [e for e in logs if e["event"] == "weights_planned"]
    assert planned
    assert all(e["dry_run"] for e in planned)
    assert not [e for e in logs if e["event"] == "weights_applied"]


def test_a_drain_override_takes_effect_within_one_round_and_undrain_restores(world: World) -> None:
    world.rounds(2)
    key = OriginKey("www", B)
    world.overrides.save({key: Override(key, Action.DRAIN, "ops@host", 0.0, "maintenance")})
    world.rounds(1)
    assert world.weights()[B] == 0
    assert world.runner.snapshot().pools[0].origins[1].override is not None
    world.overrides.save({})
    world.rounds(1)
    assert world.weights()[B] == 100


def test_a_missing_configured_set_is_created_once_there_is_evidence(
    zone: Zone, tmp_path: Path
) -> None:
    zone.put(POOL, {A: 100, B: 100})
    w = World(zone, tmp_path)
    w.rounds(1)
    assert C not in w.weights()  # unknown: no evidence yet
    w.rounds(1)
    assert w.weights() == ALL


def test_sets_outside_the_config_are_left_untouched_and_reported(
    zone: Zone, tmp_path: Path
) -> None:
    other = make_pool(record="www.example.com", regions=("sa-east-1",), health=H)
    zone.put(other, {"sa-east-1": 3})
    zone.put(POOL, ALL)
    w = World(zone, tmp_path)
    with capture_logs() as logs:
        w.prober.set(Outcome.HTTP_5XX, A)
        w.rounds(5)
    assert w.weights() == {A: 0, B: 100, C: 100, "sa-east-1": 3}
    found = [e for e in logs if e["event"] == "unknown_records_found"]
    assert found
    assert found[0]["sets"] == ["sa-east-1"]


def test_a_human_edit_is_noticed_on_resync_and_corrected(zone: Zone, tmp_path: Path) -> None:
    zone.put(POOL, ALL)
    w = World(zone, tmp_path, resync=5.0)
    w.rounds(3)
    zone.put(POOL, {B: 42})
    with capture_logs() as logs:
        w.rounds(6)
    assert w.weights() == ALL
    events = [e["event"] for e in logs]
    assert "drift_detected" in events
    assert "drift_corrected" in events


def test_a_conflict_on_one_record_does_not_block_the_others(zone: Zone, tmp_path: Path) -> None:
    """A hand edit between read and write: the other origin fails over in the same round."""
    zone.put(POOL, ALL)
    w = World(zone, tmp_path, resync=3600.0)
    w.rounds(2)
    w.prober.set(Outcome.HTTP_5XX, A, B)
    w.rounds(2)
    zone.put(POOL, {B: 60})  # a human, after the daemon's last read
    with capture_logs() as logs:
        report = w.runner.run_round()
    assert w.weights()[A] == 0  # re-sent in the same round
    assert [c.new.set_id for c in report.conflicts] == [B]
    assert "change_conflict" in {e["event"] for e in logs}
    w.clock.t += 1
    w.rounds(1)
    assert w.weights() == {A: 0, B: 0, C: 100}  # re-decided next round


def test_two_daemons_on_the_same_records_never_lose_an_update(zone: Zone, tmp_path: Path) -> None:
    zone.put(POOL, ALL)
    w = World(zone, tmp_path, resync=3600.0)
    second = w.new_runner()
    for _ in range(2):
        w.runner.run_round()
        second.run_round()
        w.clock.t += 1
    w.prober.set(Outcome.HTTP_5XX, A)
    for _ in range(3):
        w.runner.run_round()
        report = second.run_round()  # read the world before the first one wrote
        w.clock.t += 1
    assert w.weights() == {A: 0, B: 100, C: 100}
    assert report.applied
    assert not report.conflicts
    w.prober.set(Outcome.HTTP_5XX, B)
    for _ in range(3):
        second.run_round()
        w.runner.run_round()
        w.clock.t += 1
    assert w.weights() == {A: 0, B: 0, C: 100}


def test_a_restarted_daemon_changes_nothing_before_it_has_evidence(
    zone: Zone, tmp_path: Path
) -> None:
    zone.put(POOL, {A: 0, B: 100, C: 100})
    w = World(zone, tmp_path)
    with capture_logs() as logs:
        w.rounds(1)
    assert not [e for e in logs if e["event"] == "weights_planned"]
    w.rounds(3)
    assert w.weights()[A] == 0  # healthy again, but held down from the restart
    w.rounds(8)
    assert w.weights()[A] == 100


def test_metrics_show_health_weights_and_probe_outcomes(world: World) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    runner = Runner(
        world.config,
        world.prober,
        world.zone.store,
        world.overrides,
        metrics,
        clock=world.clock,
        wall=world.clock,
    )
    metrics.watch(runner.snapshot)
    get = registry.get_sample_value
    world.rounds(2, runner)
    # Coming up from unknown at start is no transition: a restart must not look like a flap.
    assert get("failover_origin_transitions_total", {"pool": "www", "origin": A, "to": "up"}) == 0
    world.prober.set(Outcome.HTTP_403, A)
    world.rounds(3, runner)
    assert get("failover_origin_healthy", {"pool": "www", "origin": A}) == 0
    assert get("failover_origin_healthy", {"pool": "www", "origin": B}) == 1
    assert get("failover_origin_weight", {"pool": "www", "origin": A, "kind": "applied"}) == 0
    assert get("failover_origin_weight", {"pool": "www", "origin": B, "kind": "desired"}) == 100
    assert get("failover_probe_total", {"pool": "www", "origin": A, "outcome": "http_403"}) == 3
    assert get("failover_origin_transitions_total", {"pool": "www", "origin": A, "to": "down"}) == 1
    assert get("failover_origin_transitions_total", {"pool": "www", "origin": A, "to": "up"}) == 0
    assert get("failover_origin_transitions_total", {"pool": "www", "origin": B, "to": "down"}) == 0
    assert get("failover_writes_frozen") == 0
    assert get("failover_pool_failed_open", {"pool": "www"}) == 0
    assert get("failover_last_apply_timestamp_seconds") == world.clock.t - 1


def test_a_round_that_hits_an_unexpected_error_reports_it_and_never_raises(world: World) -> None:
    class Broken(ScriptedProber):
        def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
            raise RuntimeError("boom")

    world.runner.prober = Broken()
    with capture_logs() as logs:
        report = world.runner.run_round()
    assert "RuntimeError: boom" in report.error
    assert logs[-1]["event"] == "round_failed"


def test_a_pool_failed_open_stays_so_while_writes_are_frozen(world: World) -> None:
    world.prober.set(Outcome.HTTP_5XX)
    world.rounds(3)
    assert world.runner.snapshot().pools[0].failed_open
    world.prober.set(Outcome.TIMEOUT)
    with capture_logs() as logs:
        world.rounds(3)
    assert world.runner.snapshot().pools[0].failed_open
    assert "pool_recovered" not in {e["event"] for e in logs}


def test_a_pool_route53_refuses_to_write_does_not_hold_back_the_others(
    zone: Zone, tmp_path: Path
) -> None:
    """A record outside its zone is refused every time; the zone's other pools still fail over."""
    zone.put(POOL, ALL)
    bad = make_pool(name="bad", record="www.elsewhere.org", health=H, zone_id=zone.id)
    w = World(zone, tmp_path)
    w.config = make_config(dataclasses.replace(POOL, zone_id=zone.id), bad)
    w.runner = w.new_runner()
    w.rounds(2)  # "bad"'s sets are missing: creating them is refused
    w.prober.set(Outcome.HTTP_5XX, A)
    with capture_logs() as logs:
        w.rounds(3)
    assert w.weights()[A] == 0
    assert "route53_write_rejected" in {e["event"] for e in logs}


def test_operator_overrides_are_logged_when_the_daemon_takes_them(world: World) -> None:
    key = OriginKey("www", B)
    world.overrides.save({key: Override(key, Action.PIN, "ops@host", 0.0, "hold")})
    with capture_logs() as logs:
        world.rounds(1)
    applied = [e for e in logs if e["event"] == "override_applied"]
    assert applied[0]["action"] == "pin"
    assert applied[0]["by"] == "ops@host"
    world.overrides.save({})
    with capture_logs() as logs:
        world.rounds(1)
    assert "override_removed" in {e["event"] for e in logs}


def test_a_reload_that_moves_an_origin_to_another_region_gives_the_new_endpoint_no_weight_unprobed(
    world: World,
) -> None:
    """Same bucket name, another Region: another bucket, so health earned before counts for nothing."""
    world.rounds(3)
    moved = dataclasses.replace(POOL.origins[0], region="eu-central-1")
    pool = dataclasses.replace(POOL, zone_id=world.zone.id, origins=(moved, *POOL.origins[1:]))
    world.runner.reconfigure(make_config(pool))
    world.prober.set(Outcome.HTTP_404, A)  # nothing replicated to the new Region yet
    world.rounds(1)
    held = world.zone.store.read(world.zone.id, [POOL.record])[POOL.record].sets[A]
    assert not (held.values == (moved.endpoint,) and held.weight > 0), held


def test_a_reload_that_points_an_origin_at_another_canary_makes_it_earn_its_health_again(
    world: World,
) -> None:
    """Same bucket and Region, another canary object: `rise` answers of the new one, from unknown."""
    world.rounds(3)
    assert world.runner.snapshot().pools[0].origins[0].state is State.UP
    moved = dataclasses.replace(POOL.origins[0], canary="_failover/other-canary.json")
    pool = dataclasses.replace(POOL, zone_id=world.zone.id, origins=(moved, *POOL.origins[1:]))
    world.runner.reconfigure(make_config(pool))
    states = []
    for _ in range(H.rise):
        world.rounds(1)
        states.append(world.runner.snapshot().pools[0].origins[0].state)
    assert states == [State.UNKNOWN] * (H.rise - 1) + [State.UP]
    assert world.weights() == ALL  # nothing to write: it kept its weight while unknown


class CanaryProber(ScriptedProber):
    """Canaries carry ages: the source's is written every round, replicas copy it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.written = clock.t  # when the source last wrote the canary
        self.lag: dict[str, float] = {}  # extra seconds a replica is behind

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        if self.outcomes.get(A, Outcome.OK) is Outcome.OK:
            self.written = self.clock.t  # the source is up: its writer refreshes it
        out = {}
        for o in origins:
            outcome = self.outcomes.get(o.id, Outcome.OK)
            age = self.clock.t - self.written + 2.0 + self.lag.get(o.id, 0.0)
            ok = outcome is Outcome.OK
            out[o.key] = ProbeResult(o.key, outcome, 0.01, 200 if ok else 503, age if ok else None)
        return out


def test_the_canary_source_dying_never_fails_the_pool_open_nor_restores_it(
    zone: Zone, tmp_path: Path
) -> None:
    """With max_age set, the source's outage ages every replica past max_age together:
    they are as fresh as the pool can be, so they keep serving and the dead source stays out."""
    aging = dataclasses.replace(H, max_age=30.0)
    pool = make_pool(record="www.example.com", health=aging, zone_id=zone.id)
    zone.put(pool, ALL)
    w = World(zone, tmp_path)
    w.config = make_config(pool)
    w.prober = CanaryProber(w.clock)
    w.runner = w.new_runner()
    w.rounds(3)
    w.prober.set(Outcome.CONNECTION, A)
    with capture_logs() as logs:
        w.rounds(120)  # four times max_age
    assert w.weights() == {A: 0, B: 100, C: 100}
    assert "pool_failed_open" not in {e["event"] for e in logs}
    assert w.runner.observe.results[OriginKey("www", B)].age > 100  # really old by now


def test_a_replica_whose_replication_stopped_is_taken_out_while_the_source_lives(
    zone: Zone, tmp_path: Path
) -> None:
    pool = make_pool(
        record="www.example.com", health=dataclasses.replace(H, max_age=30.0), zone_id=zone.id
    )
    zone.put(pool, ALL)
    w = World(zone, tmp_path)
    w.config = make_config(pool)
    w.prober = CanaryProber(w.clock)
    w.runner = w.new_runner()
    w.rounds(3)
    w.prober.lag[C] = 31.0
    w.rounds(3)
    assert w.weights() == {A: 100, B: 100, C: 0}


def test_an_origin_whose_set_carries_a_health_check_still_fails_over_and_keeps_it(
    zone: Zone, tmp_path: Path
) -> None:
    """Route 53 refuses a DELETE that leaves out the set's HealthCheckId: it must be repeated."""
    zone.put(POOL, ALL)
    client: Any = zone.client
    check = client.create_health_check(
        CallerReference=f"round-{zone.id}",
        HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "example.org", "Port": 443},
    )["HealthCheck"]["Id"]
    listed = client.list_resource_record_sets(HostedZoneId=zone.id)["ResourceRecordSets"]
    held = next(rr for rr in listed if rr.get("SetIdentifier") == A)
    client.change_resource_record_sets(
        HostedZoneId=zone.id,
        ChangeBatch={
            "Changes": [{"Action": "UPSERT", "ResourceRecordSet": dict(held, HealthCheckId=check)}]
        },
    )
    w = World(zone, tmp_path)
    w.rounds(2)
    w.prober.set(Outcome.HTTP_5XX, A)
    w.rounds(3)
    assert w.weights()[A] == 0
    listed = client.list_resource_record_sets(HostedZoneId=zone.id)["ResourceRecordSets"]
    after = next(rr for rr in listed if rr.get("SetIdentifier") == A)
    assert after.get("HealthCheckId") == check


class ReadsFail:
    """The zone's store, with every read failing while `failing` is set."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.failing = False

    def read(self, zone_id: str, names: Sequence[str]) -> Any:
        if self.failing:
            raise Route53Error("ListResourceRecordSets: ServiceUnavailable after 5 attempt(s)")
        return self.store.read(zone_id, names)

    def change(self, *args: Any, **kwargs: Any) -> str:
        return str(self.store.change(*args, **kwargs))


def test_a_reload_that_renames_the_record_then_a_failed_read_never_writes_the_old_name(
    zone: Zone, tmp_path: Path
) -> None:
    """Sets under the old name are not the running config's: nothing of them is written."""
    zone.put(POOL, ALL)
    w = World(zone, tmp_path)
    store = ReadsFail(zone.store)
    w.runner.store = store  # type: ignore[assignment]
    w.rounds(3)
    renamed = dataclasses.replace(POOL, zone_id=zone.id, record="www2.example.com")
    store.failing = True
    with capture_logs() as logs:
        w.runner.reconfigure(make_config(renamed, interval=1.0))
        w.prober.set(Outcome.HTTP_5XX, A)
        w.rounds(5)
    assert zone.weights(POOL) == ALL  # the old name's sets, untouched
    assert zone.store.read(zone.id, [renamed.record])[renamed.record].sets == {}
    assert not [e for e in logs if e["event"] in ("weights_planned", "weights_applied")]
    assert w.runner.ready is False
    store.failing = False
    w.rounds(2)  # the new name is read: its sets are created, the old name still untouched
    assert zone.weights(POOL) == ALL
    assert set(zone.weights(renamed)) == {A, B, C}


def test_the_writer_never_sends_a_set_the_running_config_does_not_own(
    zone: Zone, tmp_path: Path
) -> None:
    """Whatever a plan held: a change under a name the config no longer gives is dropped."""
    zone.put(POOL, ALL)
    w = World(zone, tmp_path)
    w.rounds(2)
    renamed = dataclasses.replace(POOL, zone_id=zone.id, record="www2.example.com")
    old = w.runner.records["www"].sets[A]
    batch = Batch(zone.id, (Change("www", old, dataclasses.replace(old, weight=0), "down"),))
    w.runner.writer.start(make_config(renamed, interval=1.0), [("c1", batch)])
    outcome = w.runner.writer.collect()
    assert outcome is not None
    assert not outcome.landed
    assert zone.weights(POOL) == ALL
    refused = [e.fields["pools"] for e in outcome.events if e.name == "write_refused_unowned"]
    assert refused == [["www"]]
    emit(outcome.events, w.runner.metrics)
    problems = w.runner.metrics.registry.get_sample_value
    assert (
        problems("failover_record_problems_total", {"pool": "www", "problem": "unowned_refused"})
        == 1
    )


def test_a_ttl_the_daemon_cannot_follow_is_counted_for_a_human_on_every_resync(
    zone: Zone, tmp_path: Path
) -> None:
    """A set that is not the daemon's holds the record's TTL at 300 against 30 configured."""
    zone.put(POOL, ALL, ttl=300)
    legacy = {
        "Name": POOL.record + ".",
        "Type": "TXT",
        "SetIdentifier": "legacy",
        "Weight": 10,
        "TTL": 300,
        "ResourceRecords": [{"Value": '"legacy.example.org"'}],
    }
    zone.client.change_resource_record_sets(  # type: ignore[attr-defined]
        HostedZoneId=zone.id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": legacy}]},
    )
    w = World(zone, tmp_path, resync=5.0)
    get = w.runner.metrics.registry.get_sample_value
    labels = {"pool": "www", "problem": "ttl_mismatch"}
    w.rounds(1)
    assert get("failover_record_problems_total", labels) == 1
    w.rounds(6)  # past one resync
    assert get("failover_record_problems_total", labels) == 2
    assert get("failover_record_problems_total", {**labels, "problem": "unowned_refused"}) == 0
