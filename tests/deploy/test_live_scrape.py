"""Every metric the alert rules and the dashboard name is in a running daemon's /metrics.

Some appear only once their event has happened (a change applied, an override set):
the test drains an origin to make both happen, after checking that the last-apply
timestamp is absent, not 0, while nothing has been applied. The cluster metrics
(failover_cluster_*) belong to cluster mode: a single daemon must export none of them,
which is what keeps the cluster alerts silent for it; a cluster-mode replica exports
each of them, of the type the rules and panels use it as, with the labels they group by.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.cluster.tables import create_table
from tests.conftest import Zone
from tests.deploy.test_prometheus import (
    CLUSTER_PREFIX,
    DESIGN_METRICS,
    METRIC,
    _alerts,
    _dashboard_exprs,
)
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
    # Backstop series exist only for pools with backstop = true (tests/sandbox/
    # test_backstop_emulation.py scrapes those); this daemon has none, so their families are empty here.
    named = {m for m in named if not m.startswith((CLUSTER_PREFIX, "failover_backstop_"))}
    missing = sorted(named - exposed)
    assert not missing, f"named by rules/dashboard but not exposed: {missing}"


def _types(exposition: str) -> dict[str, str]:
    """Each family's type, from the `# TYPE` lines (the text format names a counter's
    family with its `_total`)."""
    out: dict[str, str] = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            out[family] = kind
    return out


def _value(exposition: str, sample: str) -> float:
    found = re.search(rf"^{re.escape(sample)} (\S+)$", exposition, re.MULTILINE)
    assert found, f"{sample} not exposed"
    return float(found.group(1))


@pytest.mark.slow
def test_a_cluster_replica_exports_every_cluster_metric_the_rules_and_dashboard_use(
    zone: Zone, tmp_path: Path
) -> None:
    buckets = make_buckets(f"scrape-{uuid.uuid4().hex[:8]}")
    zone.put(pool_for(buckets), dict.fromkeys(buckets, 100))
    port, config = free_port(), tmp_path / "failover.toml"
    write_config(config, zone.id, buckets, port, tmp_path)
    with config.open("a") as f:
        f.write(
            f'[cluster]\ntable = "{create_table()}"\nregion = "us-east-1"\nreplicas = 1\n'
            'name = "r1"\nlease_seconds = 4.0\nlease_margin_seconds = 1.0\n'
        )
    proc = start(config, tmp_path / "daemon.log")
    try:
        # Leading, with its own view live: every cluster family has its samples.
        wait_for(
            "the replica leading with a live view",
            lambda: (
                b"\nfailover_cluster_leader 1.0" in (m := get(port, "/metrics")[1])
                and b"\nfailover_cluster_replicas_live 1.0" in m
            ),
            30,
        )
        exposition = get(port, "/metrics")[1].decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    named = {m for a in _alerts() for m in METRIC.findall(a["expr"])}
    named |= {m for e in _dashboard_exprs() for m in METRIC.findall(e)}
    cluster = {m for m in named if m.startswith(CLUSTER_PREFIX)}
    assert cluster, "the rules and dashboard name no cluster metric?"
    types = _types(exposition)
    for m in sorted(cluster):
        assert types.get(m) == DESIGN_METRICS[m], (m, types.get(m))
    exposed = _samples(exposition)
    assert sorted(cluster - exposed) == []
    # The labels the panels group by, bounded by the replicas and the table's operations.
    assert 'failover_cluster_view_age_seconds{replica="r1"}' in exposition
    ops = set(re.findall(r'failover_cluster_table_errors_total\{op="(\w+)"\}', exposition))
    assert ops == {"GetItem", "PutItem", "DeleteItem", "Query"}
    # What the rules compute from them, on a healthy one-replica cluster: all quiet.
    assert _value(exposition, "failover_cluster_leader") == 1  # FailoverNoLeader: < 1
    quorum = _value(exposition, "failover_cluster_quorum")
    assert _value(exposition, "failover_cluster_replicas_live") >= quorum == 1  # QuorumLost
    assert _value(exposition, "failover_cluster_disagreements") == 0  # ReplicaDisagrees: > 0
    assert _value(exposition, "failover_cluster_epoch") == 1
