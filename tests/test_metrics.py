"""Metrics keep their names, labels and types whichever way they are counted."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from failover.metrics import Metrics
from failover.model import OriginKey, Outcome, ProbeResult, State
from failover.overrides import FileStore
from failover.round import Runner
from tests.factories import ScriptedProber, make_config, make_pool


def _families(metrics: Metrics) -> dict[str, object]:
    text = generate_latest(metrics.registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_probe_counts_are_exposed_per_pool_origin_and_outcome_as_a_counter() -> None:
    metrics = Metrics(CollectorRegistry())
    for outcome in (Outcome.OK, Outcome.OK, Outcome.TIMEOUT):
        metrics.observe_probe("eu-west-1", ProbeResult(OriginKey("www", "eu"), outcome, 0.01))
    get = metrics.registry.get_sample_value
    assert get("failover_probe_total", {"pool": "www", "origin": "eu", "outcome": "ok"}) == 2
    assert get("failover_probe_total", {"pool": "www", "origin": "eu", "outcome": "timeout"}) == 1
    family = _families(metrics)["failover_probe"]
    assert family.type == "counter"  # type: ignore[attr-defined]
    labels = {tuple(sorted(s.labels)) for s in family.samples}  # type: ignore[attr-defined]
    assert labels == {("origin", "outcome", "pool")}


def test_probe_durations_stay_one_histogram_per_region() -> None:
    metrics = Metrics(CollectorRegistry())
    for i in range(50):
        key = OriginKey(f"site-{i}", "eu")
        metrics.observe_probe("eu-west-1", ProbeResult(key, Outcome.OK, 0.02))
    family = _families(metrics)["failover_probe_duration_seconds"]
    regions = {s.labels.get("region") for s in family.samples}  # type: ignore[attr-defined]
    assert regions == {"eu-west-1"}
    count = metrics.registry.get_sample_value(
        "failover_probe_duration_seconds_count", {"region": "eu-west-1"}
    )
    assert count == 50


def test_a_second_probe_counter_under_the_same_name_is_refused() -> None:
    """The collector declares its name, so the registry still catches a duplicate."""
    metrics = Metrics(CollectorRegistry())
    with pytest.raises(ValueError, match="failover_probe"):
        Counter("failover_probe", "again", ["pool"], registry=metrics.registry)


def test_scraping_while_probes_are_counted_neither_fails_nor_loses_counts() -> None:
    metrics = Metrics(CollectorRegistry())
    done = threading.Event()
    errors: list[BaseException] = []

    def scrape() -> None:
        while not done.is_set():
            try:
                generate_latest(metrics.registry)
            except BaseException as e:  # noqa: BLE001 - the test reports any failure
                errors.append(e)
                return

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for i in range(20_000):
            key = OriginKey(f"site-{i % 2000}", "eu")
            metrics.observe_probe("eu-west-1", ProbeResult(key, Outcome.OK, 0.01))
    finally:
        done.set()
        scraper.join(timeout=10)
    assert errors == []
    total = sum(
        s.value
        for s in _families(metrics)["failover_probe"].samples  # type: ignore[attr-defined]
        if s.name == "failover_probe_total"
    )
    assert total == 20_000


def _transitions(metrics: Metrics) -> dict[tuple[str, str, str], float]:
    family = _families(metrics)["failover_origin_transitions"]
    return {
        (s.labels["pool"], s.labels["origin"], s.labels["to"]): s.value
        for s in family.samples  # type: ignore[attr-defined]
        if s.name == "failover_origin_transitions_total"
    }


def test_tracked_origins_export_both_transition_series_from_zero() -> None:
    """Before any change, so that `increase()` sees an origin's first transition."""
    metrics = Metrics(CollectorRegistry())
    metrics.track(make_pool(regions=("eu", "us")).origins)
    assert _transitions(metrics) == {
        ("www", "eu", "up"): 0,
        ("www", "eu", "down"): 0,
        ("www", "us", "up"): 0,
        ("www", "us", "down"): 0,
    }
    assert _families(metrics)["failover_origin_transitions"].type == "counter"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("was", "to", "counted"),
    [
        (State.UP, State.DOWN, "down"),
        (State.DOWN, State.UP, "up"),
        (State.UNKNOWN, State.UP, None),
        (State.UNKNOWN, State.DOWN, None),
        (State.UP, State.UP, None),
    ],
)
def test_only_a_change_between_up_and_down_is_a_transition(
    was: State, to: State, counted: str | None
) -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.track(make_pool(regions=("eu",)).origins)
    metrics.transition("www", "eu", was, to)
    expected = {("www", "eu", "up"): 0.0, ("www", "eu", "down"): 0.0}
    if counted is not None:
        expected["www", "eu", counted] = 1.0
    assert _transitions(metrics) == expected


def test_a_restart_counts_nothing_until_an_origin_really_changes() -> None:
    """A new process sees unknown → up for every origin: all series stay at 0."""
    metrics = Metrics(CollectorRegistry())
    origins = make_pool(regions=("eu", "us")).origins
    metrics.track(origins)
    for o in origins:
        metrics.transition(o.pool, o.id, State.UNKNOWN, State.UP)
    assert set(_transitions(metrics).values()) == {0.0}


def test_tracking_a_new_config_keeps_counts_drops_removed_origins_and_adds_new_ones() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.track(make_pool(regions=("eu", "us")).origins)
    metrics.transition("www", "eu", State.UP, State.DOWN)
    metrics.track(make_pool(regions=("eu", "ap")).origins)
    assert _transitions(metrics) == {
        ("www", "eu", "up"): 0,
        ("www", "eu", "down"): 1,
        ("www", "ap", "up"): 0,
        ("www", "ap", "down"): 0,
    }


def test_a_reload_of_the_runner_tracks_the_new_origins(tmp_path: Path) -> None:
    """The runner tracks its origins when built and again on each reconfigure."""
    metrics = Metrics(CollectorRegistry())
    config = make_config(make_pool(regions=("eu", "us")))
    runner = Runner(config, ScriptedProber(), object(), FileStore(tmp_path / "o.json"), metrics)  # type: ignore[arg-type]
    assert {k[1] for k in _transitions(metrics)} == {"eu", "us"}
    runner.reconfigure(make_config(make_pool(regions=("us", "ap"))))
    assert {k[1] for k in _transitions(metrics)} == {"us", "ap"}


def test_pool_and_region_series_exist_from_the_start_and_leave_with_their_pool() -> None:
    metrics = Metrics(CollectorRegistry())
    get = metrics.registry.get_sample_value
    metrics.track((*make_pool("www").origins, *make_pool("img", regions=("eu-west-1",)).origins))
    assert get("failover_writes_refused_total", {"pool": "img"}) == 0
    assert get("failover_probe_duration_seconds_count", {"region": "us-east-1"}) == 0
    metrics.track(make_pool("img", regions=("eu-west-1",)).origins)
    assert get("failover_writes_refused_total", {"pool": "www"}) is None
    assert get("failover_probe_duration_seconds_count", {"region": "us-east-1"}) is None
    assert get("failover_probe_duration_seconds_count", {"region": "eu-west-1"}) == 0


def test_route53_request_and_write_failure_series_start_at_zero() -> None:
    metrics = Metrics(CollectorRegistry())
    get = metrics.registry.get_sample_value
    for operation in ("ListResourceRecordSets", "ChangeResourceRecordSets"):
        for outcome in ("ok", "throttled", "busy", "rejected", "server_error", "error"):
            labels = {"operation": operation, "outcome": outcome}
            assert get("failover_route53_requests_total", labels) == 0
    for reason in ("conflict", "rejected", "route53"):
        assert get("failover_write_failures_total", {"reason": reason}) == 0


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("failover_last_apply_timestamp_seconds", Metrics.applied),
        ("failover_last_round_timestamp_seconds", Metrics.round_completed),
    ],
)
def test_a_timestamp_is_absent_until_set_never_zero(
    name: str, record: Callable[[Metrics, float], None]
) -> None:
    metrics = Metrics(CollectorRegistry())
    assert name not in generate_latest(metrics.registry).decode()
    record(metrics, 1_700_000_000.5)
    assert metrics.registry.get_sample_value(name) == 1_700_000_000.5
    family = _families(metrics)[name]
    assert family.type == "gauge"  # type: ignore[attr-defined]


def test_a_second_timestamp_under_the_same_name_is_refused() -> None:
    metrics = Metrics(CollectorRegistry())
    with pytest.raises(ValueError, match="failover_last_apply_timestamp_seconds"):
        Gauge("failover_last_apply_timestamp_seconds", "again", registry=metrics.registry)


def test_transitions_of_ten_thousand_origins_are_plain_samples_without_created_series() -> None:
    """A labelled Counter would add a `_created` series and a child object per label set."""
    metrics = Metrics(CollectorRegistry())
    origins = [o for i in range(5_000) for o in make_pool(f"s{i}", regions=("eu", "us")).origins]
    metrics.track(origins)
    for o in origins[::100]:
        metrics.transition(o.pool, o.id, State.UP, State.DOWN)
    text = generate_latest(metrics.registry).decode()
    lines = [ln for ln in text.splitlines() if ln.startswith("failover_origin_transitions")]
    assert len(lines) == 20_000
    assert sum(float(ln.rsplit(" ", 1)[1]) for ln in lines) == 100
    assert "failover_origin_transitions_created" not in text
