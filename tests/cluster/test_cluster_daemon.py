"""The daemon in cluster mode, in-process on moto: it takes the lease, shows it, releases it on stop."""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from pathlib import Path

from prometheus_client import CollectorRegistry

from failover.config import load
from failover.daemon import Daemon
from failover.metrics import Metrics
from tests.cluster.tables import create_table, open_table
from tests.conftest import Zone
from tests.e2e_support import cli, free_port, make_buckets, wait_for, write_config


def test_the_daemon_leads_shows_the_cluster_and_releases_the_lease_when_stopped(
    zone: Zone, tmp_path: Path
) -> None:
    buckets = make_buckets(f"cls-{uuid.uuid4().hex[:8]}")
    table = create_table()
    path, port = tmp_path / "c.toml", free_port()
    write_config(path, zone.id, buckets, port, tmp_path)
    with path.open("a") as f:
        f.write(
            f'[cluster]\ntable = "{table}"\nregion = "us-east-1"\nreplicas = 1\nname = "solo"\n'
            "lease_seconds = 5.0\nlease_margin_seconds = 1.0\n"
        )
    config = load(str(path), {})
    registry = CollectorRegistry()
    daemon = Daemon(config, lambda: config, metrics=Metrics(registry))
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        lease = open_table(table)
        wait_for(
            "the lease taken",
            lambda: (got := lease.read_lease()) is not None and got.holder == "solo",
        )

        def status() -> dict[str, object]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as r:
                doc: dict[str, object] = json.load(r)
                return doc

        wait_for(
            "the cluster in /status", lambda: bool((status().get("cluster") or {}).get("leading"))
        )
        cluster = status()["cluster"]
        assert isinstance(cluster, dict)
        assert cluster["leader"] == "solo"
        assert cluster["epoch"] == 1
        assert set(cluster["views"]) == {"solo"}
        assert registry.get_sample_value("failover_cluster_leader") == 1
    finally:
        daemon.stop.set()
        thread.join(timeout=20)
    assert not thread.is_alive()
    released = open_table(table).read_lease()
    assert released is not None
    assert released.holder == ""
    assert released.epoch == 1


def test_a_one_off_check_in_cluster_mode_never_joins_the_cluster(
    zone: Zone, tmp_path: Path
) -> None:
    """`failover check` publishes no view and takes no lease: it only shows local verdicts."""
    buckets = make_buckets(f"chk-{uuid.uuid4().hex[:8]}")
    table = create_table()
    path = tmp_path / "c.toml"
    write_config(path, zone.id, buckets, free_port(), tmp_path)
    with path.open("a") as f:
        f.write(f'[cluster]\ntable = "{table}"\nregion = "us-east-1"\nreplicas = 3\n')
    r = cli("check", "--rounds", "2", "--json", "--config", str(path))
    assert r.returncode == 0, r.stderr
    t = open_table(table)
    assert t.read_lease() is None
    assert t.read_views() == []
