"""Every metric the alert rules and the dashboard name is in a running daemon's /metrics.

Some appear only once their event has happened (a change applied, an override set):
the test drains an origin to make both happen, after checking that the last-apply
timestamp is absent, not 0, while nothing has been applied. The cluster metrics
(failover_cluster_*) belong to cluster mode: a single daemon must export none of them,
which is what keeps the cluster alerts silent for it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import Zone
from tests.deploy.test_prometheus import CLUSTER_PREFIX, METRIC, _alerts, _dashboard_exprs
from tests.e2e_support import (
    cli,
    free_port,
    get,
    make_buckets,
    pool_for,
    start,
    wait_for,
    write_config,
)


def _samples(exposition: str) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in exposition.splitlines()
        if line.startswith("failover_")
    }


@pytest.mark.slow
def test_rules_and_dashboard_metrics_appear_in_a_live_scrape(zone: Zone, tmp_path: Path) -> None:
    buckets = make_buckets(f"scrape-{uuid.uuid4().hex[:8]}")
    pool = pool_for(buckets)
    zone.put(pool, dict.fromkeys(buckets, 100))
    port = free_port()
    config = tmp_path / "failover.toml"
    write_config(config, zone.id, buckets, port, tmp_path)
    proc = start(config, tmp_path / "daemon.log")
    try:
        # Origins leave "unknown" after `rise` rounds: then every family has samples.
        wait_for("a verdict", lambda: b"failover_origin_healthy{" in get(port, "/metrics")[1])
        steady = _samples(get(port, "/metrics")[1].decode())
        assert "failover_last_round_timestamp_seconds" in steady
        assert "failover_origin_transitions_total" in steady
        assert "failover_last_apply_timestamp_seconds" not in steady  # nothing applied yet
        drain = cli("drain", "www", "eu-west-1", "--reason", "scrape", "--config", str(config))
        assert drain.returncode == 0, drain.stderr
        wait_for(
            "the drain applied",
            lambda: b"\nfailover_last_apply_timestamp_seconds " in get(port, "/metrics")[1],
        )
        exposition = get(port, "/metrics")[1].decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    exposed = _samples(exposition)
    named = {m for a in _alerts() for m in METRIC.findall(a["expr"])}
    named |= {m for e in _dashboard_exprs() for m in METRIC.findall(e)}
    assert named, "the rules and dashboard name no metric?"
    assert {m for m in exposed if m.startswith(CLUSTER_PREFIX)} == set()
    named = {m for m in named if not m.startswith(CLUSTER_PREFIX)}
    missing = sorted(named - exposed)
    assert not missing, f"named by rules/dashboard but not exposed: {missing}"
