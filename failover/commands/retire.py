"""The `retire` command: delete the sets of renamed origins once the daemon has taken them to 0."""

from __future__ import annotations

import argparse
import sys
import uuid

import boto3

from failover.aws.route53 import RateLimiter, Route53Store
from failover.commands.shared import EXIT_FAIL, EXIT_OK, EXIT_REFUSED, config_of
from failover.core.strangers import Deletion, deletion
from failover.daemon import route53_client
from failover.errors import ConflictError, FailoverError
from failover.model import Config, Guard, Pool


def _pools(config: Config, name: str | None) -> list[Pool]:
    if name is None:
        return list(config.pools)
    try:
        return [config.pool(name)]
    except KeyError:
        names = ", ".join(p.name for p in config.pools)
        raise FailoverError(f"no pool {name!r} (pools: {names})") from None


def _show(d: Deletion) -> None:
    if not d.delete and not d.waiting and not d.refused:
        print(f"pool {d.pool}: nothing to retire")
    for s in d.delete:
        print(f"pool {d.pool}: delete {s.set_id} (weight 0, {', '.join(s.values)})")
    for s in d.waiting:
        print(
            f"pool {d.pool}: keep {s.set_id} for now: it still carries weight {s.weight}; "
            "the daemon takes it to 0 first (run again once it has)"
        )


def retire_sets(args: argparse.Namespace) -> int:
    """Show the retired sets that can be deleted; with --apply, delete them.

    Every pool is judged before anything is written: one pool refused (no configured
    origin serving) and nothing is deleted anywhere.
    """
    config = config_of(args)
    pools = _pools(config, args.pool)
    store = Route53Store(route53_client(boto3.Session()), RateLimiter(config.daemon.route53_rate))  # type: ignore[arg-type]
    plans: list[tuple[Pool, Deletion]] = []
    for pool in pools:
        record = store.read(pool.zone_id, [pool.record])[pool.record]
        d = deletion(pool, record.sets)
        _show(d)
        plans.append((pool, d))
    refused = [d.refused for _, d in plans if d.refused]
    if refused:
        for why in refused:
            print(f"refused: {why}", file=sys.stderr)
        return EXIT_REFUSED
    todo = [(pool, d) for pool, d in plans if d.delete]
    if not args.apply:
        if todo:
            print("nothing deleted: add --apply to delete them")
        return EXIT_OK
    for pool, d in todo:
        guards = [Guard(pool.name, d.guard)] if d.guard is not None else []
        change_id = f"retire-{uuid.uuid4().hex[:12]}"
        try:
            store.delete(pool.zone_id, d.delete, f"failover {change_id}", guards)
        except ConflictError as e:
            print(
                f"failover: pool {pool.name}: the record changed since it was read ({e}); "
                "nothing of it was deleted: run again",
                file=sys.stderr,
            )
            return EXIT_FAIL
        print(f"pool {pool.name}: deleted {', '.join(s.set_id for s in d.delete)} ({change_id})")
    return EXIT_OK
