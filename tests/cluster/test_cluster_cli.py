"""The CLI in cluster mode, in subprocesses on moto: drains go to the table, validate names mistakes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from failover.cluster.overrides import TableOverrides
from failover.model import OriginKey
from tests.cluster.tables import create_table, open_table
from tests.conftest import Zone
from tests.e2e_support import cli, free_port, write_config
from tests.factories import make_pool

pytestmark = pytest.mark.e2e


def cluster_config(tmp_path: Path, zone_id: str, table: str, extra: str = "") -> Path:
    path = tmp_path / "c.toml"
    buckets = {r: f"cli-{uuid.uuid4().hex[:6]}-{r}" for r in ("eu-west-1", "us-east-1")}
    write_config(path, zone_id, buckets, free_port(), tmp_path)
    with path.open("a") as f:
        f.write(f'[cluster]\ntable = "{table}"\nregion = "us-east-1"\nreplicas = 3\n{extra}')
    return path


def test_a_drain_in_cluster_mode_is_written_to_the_table_and_status_reads_it(
    zone: Zone, tmp_path: Path
) -> None:
    zone.put(
        make_pool(record="www.example.com", regions=("eu-west-1", "us-east-1")),
        {"eu-west-1": 100, "us-east-1": 100},
    )
    table = create_table()
    config = cluster_config(tmp_path, zone.id, table)
    r = cli("drain", "www", "eu-west-1", "--reason", "maintenance", "--wait", "0", "--force",
            "--config", str(config))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"dynamodb://{table}/overrides" in r.stdout
    assert not (tmp_path / "overrides.json").exists()
    held = TableOverrides(open_table(table)).load()
    assert set(held) == {OriginKey("www", "eu-west-1")}
    status = cli("status", "--config", str(config), "--json")
    assert status.returncode == 0, status.stderr
    assert [o["origin"] for o in json.loads(status.stdout)["overrides"]] == ["eu-west-1"]


def test_validate_names_every_cluster_mistake_and_exits_non_zero(tmp_path: Path) -> None:
    config = cluster_config(tmp_path, "Z0123456789AB", "t", "quorum = 5\nlease_seconds = 2.0\n")
    r = cli("validate", "--config", str(config))
    assert r.returncode != 0
    assert "cluster.table" in r.stderr
    assert "cluster.quorum: 5 is more than cluster.replicas (3)" in r.stderr
    assert "cluster.lease_margin_seconds: 5 must be shorter than cluster.lease_seconds" in r.stderr
