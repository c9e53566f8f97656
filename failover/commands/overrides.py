"""The `drain`, `undrain`, `pin` and `unpin` commands: overrides saved for the daemon to apply."""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
import time

import structlog

from failover import logs
from failover.commands.shared import EXIT_OK, EXIT_REFUSED, applied_weights, config_of
from failover.core.policy import serving
from failover.errors import FailoverError
from failover.model import Action, Config, OriginKey, Override
from failover.overrides import Overrides, open_store, update


def who() -> str:
    """Who runs the command, as user@host, for the override's `by`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _target(config: Config, args: argparse.Namespace) -> OriginKey:
    try:
        pool = config.pool(args.pool)
    except KeyError:
        raise FailoverError(
            f"no pool {args.pool!r} (pools: {', '.join(p.name for p in config.pools)})"
        ) from None
    try:
        pool.origin(args.origin)
    except KeyError:
        ids = ", ".join(o.id for o in pool.origins)
        raise FailoverError(
            f"pool {pool.name} has no origin {args.origin!r} (origins: {ids})"
        ) from None
    return OriginKey(pool.name, args.origin)


def set_override(args: argparse.Namespace) -> int:
    config = config_of(args)
    key = _target(config, args)
    store = open_store(config.daemon.overrides)
    new = Override(key, args.action, args.by, time.time(), args.reason)
    applied: dict[str, int] | None = None
    if args.action is Action.DRAIN and not args.force:
        applied = applied_weights(config)[key.pool]

    def change(current: Overrides) -> Overrides | None:
        proposed = {**current, key: new}
        if applied is not None:
            pool = config.pool(key.pool)
            mine = {k.origin: v for k, v in proposed.items() if k.pool == pool.name}
            if serving(pool, applied, mine) == 0:
                return None  # judged against the overrides as they are now, on every attempt
        return proposed

    if update(store, change) is None:
        print(
            f"refused: draining {key} would leave pool {key.pool} with no serving origin "
            "(the pool would fail open); use --force to drain anyway",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    _event("override_set", key, args.action.value, args.by, args.reason, store.location)
    print(
        f"{args.action.value} {key} set in {store.location}; the daemon applies it within one round"
    )
    return EXIT_OK


def clear_override(args: argparse.Namespace) -> int:
    config = config_of(args)
    key = _target(config, args)
    store = open_store(config.daemon.overrides)

    def change(current: Overrides) -> Overrides | None:
        held = current.get(key)
        if held is None or held.action is not args.action:
            return None
        return {k: v for k, v in current.items() if k != key}

    if update(store, change) is None:
        print(f"{key} has no {args.action.value} override; nothing to do")
        return EXIT_OK
    _event("override_cleared", key, args.action.value, args.by, "", store.location)
    print(f"un{args.action.value} {key} saved in {store.location}")
    return EXIT_OK


def _event(event: str, key: OriginKey, action: str, by: str, reason: str, where: str) -> None:
    logs.configure("json", "info")
    structlog.get_logger("failover").info(
        event, pool=key.pool, origin=key.origin, action=action, by=by, reason=reason, location=where
    )
