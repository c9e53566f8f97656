"""The `drain`, `undrain`, `pin` and `unpin` commands: overrides saved for the daemon to apply."""

from __future__ import annotations

import argparse
import getpass
import json
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import structlog

from failover import logs
from failover.cluster.stores import overrides_store
from failover.commands.shared import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNCONFIRMED,
    applied_weights,
    config_of,
)
from failover.core.policy import serving
from failover.errors import FailoverError, Route53Error
from failover.model import Action, Config, OriginKey, Override
from failover.overrides import Overrides, update


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
    store = overrides_store(config)
    new = Override(key, args.action, args.by, time.time(), args.reason)
    applied: dict[str, int] | None = None
    if args.action is Action.DRAIN and not args.force:
        try:
            applied = applied_weights(config)[key.pool]
        except Route53Error as e:
            print(
                f"refused: Route 53 could not be read ({e}), so it could not be checked "
                f"whether draining {key} leaves pool {key.pool} an origin serving. "
                "--force drains without that check: if no other origin serves, the pool "
                "fails open (every primary back at its configured weight, dead or alive)",
                file=sys.stderr,
            )
            return EXIT_REFUSED

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
    print(f"{args.action.value} {key} set in {store.location}")
    want = {"action": new.action.value, "by": new.by, "at": new.at, "reason": new.reason}
    return confirm(config, key, lambda held: held == want, args.wait)


def clear_override(args: argparse.Namespace) -> int:
    config = config_of(args)
    key = _target(config, args)
    store = overrides_store(config)

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
    action = args.action.value
    return confirm(
        config, key, lambda held: held is None or held.get("action") != action, args.wait
    )


def confirm(
    config: Config,
    key: OriginKey,
    shows: Callable[[dict[str, Any] | None], bool],
    wait: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Read the daemon's /status until it reports the override as saved, or say why not.

    0: the daemon reports it (it applies it from this round on). EXIT_UNCONFIRMED:
    saved, but not confirmed, with the reason: no endpoint configured, no daemon
    answering, or one that has not taken it within `wait` seconds (it cannot read
    the store, or reads it late). `wait` 0 skips the check.
    """
    if wait is not None and wait <= 0:
        print("not confirmed with the daemon (--wait 0)")
        return EXIT_OK
    listen = config.daemon.listen
    if not listen:
        return _unconfirmed("daemon.listen is empty: no /status to read")
    url = status_url(listen)
    limit = wait if wait is not None else max(10.0, 3 * config.daemon.interval)
    deadline = clock() + limit
    why = ""
    while True:
        doc, why = _status(url)
        if doc is not None:
            held = _override_of(doc, key)
            if held is not None and shows(held[0]):
                print(f"confirmed: the daemon at {url} reports it")
                return EXIT_OK
            if held is None:
                why = f"the daemon at {url} does not know {key} (another config?)"
            else:
                age = doc.get("overrides_age")
                why = f"the daemon at {url} has not taken it within {limit:g}s" + (
                    " (it has never read the overrides since it started: see overrides_unreadable)"
                    if age is None
                    else f" (its overrides were last read {age:.0f}s ago)"
                )
        if clock() >= deadline:
            return _unconfirmed(why)
        sleep(0.25)


def status_url(listen: str) -> str:
    host, _, port = listen.rpartition(":")
    if host in ("0.0.0.0", "", "[::]"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    return f"http://{host}:{port}/status"


def _status(url: str) -> tuple[dict[str, Any] | None, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - the configured listen
            doc = json.load(r)
    except (OSError, ValueError) as e:
        return None, f"no daemon answers at {url} ({e})"
    if not isinstance(doc, dict):
        return None, f"{url} did not answer a status document"
    return doc, ""


def _override_of(doc: dict[str, Any], key: OriginKey) -> tuple[dict[str, Any] | None] | None:
    """The override /status shows for `key` (in a 1-tuple), or None if it shows no such origin."""
    for p in doc.get("pools") or []:
        if p.get("name") != key.pool:
            continue
        for o in p.get("origins") or []:
            if o.get("id") == key.origin:
                return (o.get("override"),)
    return None


def _unconfirmed(why: str) -> int:
    print(
        f"saved, but not confirmed: {why}; the daemon applies it once it reads the overrides",
        file=sys.stderr,
    )
    return EXIT_UNCONFIRMED


def _event(event: str, key: OriginKey, action: str, by: str, reason: str, where: str) -> None:
    logs.configure("json", "info")
    structlog.get_logger("failover").info(
        event, pool=key.pool, origin=key.origin, action=action, by=by, reason=reason, location=where
    )
