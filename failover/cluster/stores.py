"""Where overrides live: the table in cluster mode, else the `[daemon] overrides` URL."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

import boto3

from failover.cluster import table as tables
from failover.cluster.overrides import TableOverrides
from failover.errors import ConfigError
from failover.model import ClusterSettings, Config
from failover.overrides import VersionedStore, open_store

NAME_VAR = "FAILOVER_REPLICA_NAME"


def overrides_store(config: Config, session: boto3.Session | None = None) -> VersionedStore:
    """The overrides every replica reads and every operator writes, with conditions."""
    if config.cluster is None:
        return open_store(config.daemon.overrides, session)
    c = config.cluster
    return TableOverrides(tables.Table(tables.client(c.region, session), c.table))


def replica_name(settings: ClusterSettings, environ: Mapping[str, str] = os.environ) -> str:
    """This replica's name, stable across restarts: configured, else FAILOVER_REPLICA_NAME,
    else the host name (never a task id: the stacks set the variable to the Region)."""
    name = settings.name or environ.get(NAME_VAR, "") or socket.gethostname()
    if not name or "#" in name or len(name) > 128:
        raise ConfigError([f"cluster.name: {name!r} cannot name a replica (set {NAME_VAR})"])
    return name
