"""What the subcommands share: exit codes, the config they name, and Route 53's weights now."""

from __future__ import annotations

import argparse
import os

import boto3

from failover.aws.route53 import RateLimiter, Route53Store
from failover.config import load
from failover.daemon import route53_client
from failover.model import Config, WeightedSet

EXIT_OK, EXIT_FAIL, EXIT_CONFIG, EXIT_REFUSED = 0, 1, 2, 3
EXIT_UNCONFIRMED = 4  # an override was saved, but the daemon was not seen to take it


def config_of(args: argparse.Namespace) -> Config:
    """The config named by --config, else the TOML text in $FAILOVER_CONFIG."""
    return load(args.config, os.environ)


def applied_weights(config: Config) -> dict[str, dict[str, int]]:
    """Each pool's weights as Route 53 holds them now, by set identifier."""
    return {
        name: {sid: s.weight for sid, s in sets.items()} for name, sets in read_sets(config).items()
    }


def read_sets(config: Config) -> dict[str, dict[str, WeightedSet]]:
    """Each pool's weighted sets as Route 53 holds them now, by set identifier."""
    store = Route53Store(route53_client(boto3.Session()), RateLimiter(config.daemon.route53_rate))  # type: ignore[arg-type]
    zones: dict[str, list[str]] = {}
    for p in config.pools:
        zones.setdefault(p.zone_id, []).append(p.record)
    records = {z: store.read(z, names) for z, names in zones.items()}
    return {p.name: dict(records[p.zone_id][p.record].sets) for p in config.pools}
