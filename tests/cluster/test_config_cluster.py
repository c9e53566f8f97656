"""`[cluster]` in the config: off by default, on with a table and replicas, every mistake named."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from failover import config
from failover import config_schema as schema
from failover.cluster.stores import replica_name
from failover.errors import ConfigError
from failover.model import ClusterSettings
from tests.test_config import base, toml_text


def with_cluster(**cluster: Any) -> str:
    doc = base()
    doc["cluster"] = cluster
    return toml_text(doc)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        config.parse(text)
    return list(e.value.problems)


def test_without_cluster_the_daemon_runs_alone() -> None:
    assert config.parse(toml_text(base())).cluster is None


def test_a_table_and_replicas_turn_cluster_mode_on_with_a_majority_quorum() -> None:
    c = config.parse(with_cluster(table="failover-cluster", replicas=3, region="us-east-1")).cluster
    assert c == ClusterSettings("failover-cluster", 3, region="us-east-1")
    assert c is not None
    assert c.needed == 2
    assert (c.lease_seconds, c.lease_margin_seconds) == (30.0, 5.0)


def test_the_table_and_the_replicas_are_required() -> None:
    assert problems(with_cluster(replicas=3)) == ["cluster.table: missing (required)"]
    assert problems(with_cluster(table="t-1")) == ["cluster.replicas: missing (required)"]


def test_every_mistake_is_named_where_it_is() -> None:
    found = problems(
        with_cluster(
            table="a b", replicas=3, quorum=4, lease_seconds=5, lease_margin_seconds=5, x=1
        )
    )
    assert any(p.startswith("cluster.table:") for p in found)
    assert any(p.startswith("cluster.x: unknown key") for p in found)
    found = problems(with_cluster(table="t-1", replicas=3, quorum=4))
    assert found == ["cluster.quorum: 4 is more than cluster.replicas (3)"]
    found = problems(with_cluster(table="t-1", replicas=3, lease_seconds=5, lease_margin_seconds=5))
    assert found[0].startswith("cluster.lease_margin_seconds: 5 must be shorter")
    found = problems(with_cluster(table="t-1", replicas=3, lease_seconds=6, lease_margin_seconds=3))
    assert found[0].startswith("cluster.lease_seconds: 6 less the margin must be more than two")


def test_a_quorum_below_a_majority_is_allowed_but_warned_of() -> None:
    c = config.parse(with_cluster(table="t-1", replicas=3, quorum=1))
    assert c.cluster is not None
    assert c.cluster.needed == 1
    [warning] = [w for w in config.warnings(c) if w.startswith("cluster.")]
    assert "not a majority" in warning


def test_the_schema_names_exactly_the_cluster_settings() -> None:
    assert set(schema.CLUSTER) == {f.name for f in dataclasses.fields(ClusterSettings)}


def test_the_replica_name_is_configured_else_from_the_environment_else_the_host() -> None:
    s = ClusterSettings("t-1", 3)
    assert replica_name(dataclasses.replace(s, name="eu-west-1"), {}) == "eu-west-1"
    assert replica_name(s, {"FAILOVER_REPLICA_NAME": "us-east-2"}) == "us-east-2"
    assert replica_name(s, {})  # the host name
    with pytest.raises(ConfigError, match="cannot name a replica"):
        replica_name(s, {"FAILOVER_REPLICA_NAME": "a#b"})
