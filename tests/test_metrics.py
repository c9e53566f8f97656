"""Metrics keep their names, labels and types whichever way they are counted."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from failover.metrics import Metrics
from failover.model import OriginKey, Outcome, ProbeResult


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
