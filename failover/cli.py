"""The `failover` command: run, check, status, drain/pin, retire, validate, canary, healthcheck, demo, sandbox."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from failover import __version__, canary, logs
from failover.cluster.show import lines as show_cluster
from failover.cluster.stores import overrides_store
from failover.commands import sandbox as sandbox_commands
from failover.commands.overrides import clear_override, set_override, who
from failover.commands.retire import retire_sets
from failover.commands.shared import (
    EXIT_CONFIG,
    EXIT_FAIL,
    EXIT_OK,
    config_of,
    read_sets,
)
from failover.config import load, render_problems, warnings
from failover.core.plan import ghosts
from failover.daemon import Daemon, build_runner
from failover.errors import ConfigError, FailoverError
from failover.metrics import Metrics
from failover.model import Action, Config, Override
from failover.status import to_json

WAIT_HELP = (
    "seconds to wait for the daemon's /status to report the change (default: "
    "max(10, 3 x interval); 0: do not ask); exit 4 if it does not"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_CONFIG
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(render_problems(e), file=sys.stderr)
        return EXIT_CONFIG
    except FailoverError as e:
        print(f"failover: {e}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="failover", description=__doc__)
    p.add_argument("--version", action="version", version=f"failover {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        help="TOML config file (default: the TOML text in $FAILOVER_CONFIG)",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="machine-readable output")
    sub = p.add_subparsers(metavar="COMMAND")

    def cmd(name: str, fn: Callable[[argparse.Namespace], int], help_: str, *parents: Any) -> Any:
        sp = sub.add_parser(name, help=help_, description=help_, parents=[common, *parents])
        sp.set_defaults(func=fn)
        return sp

    cmd("run", _run, "run the daemon: probe, decide and write weights until stopped")
    c = cmd(
        "check",
        _check,
        "probe until verdicts are reached; print them and what would change",
        as_json,
    )
    c.add_argument(
        "--rounds",
        type=_positive(int),
        default=0,
        help="rounds to probe (default: max(fall, rise))",
    )
    cmd("status", _status, "what Route 53 holds now, with the running daemon's view", as_json)
    cmd("validate", _validate, "report every problem in the config (exit 2 if any)", as_json)
    for name, action, verb in (
        ("drain", Action.DRAIN, "take an origin out of service (weight 0)"),
        ("pin", Action.PIN, "keep an origin at its configured weight whatever its health"),
    ):
        sp = cmd(name, set_override, verb)
        sp.set_defaults(action=action)
        sp.add_argument("pool")
        sp.add_argument("origin")
        sp.add_argument("--reason", required=True, help="why (shown in status and logs)")
        sp.add_argument("--by", default=who(), help="who (default: user@host)")
        sp.add_argument("--wait", type=float, metavar="SECONDS", help=WAIT_HELP)
        if action is Action.DRAIN:
            sp.add_argument(
                "--force", action="store_true", help="drain even the last serving origin"
            )
    for name in ("undrain", "unpin"):
        sp = cmd(name, clear_override, f"remove a {name[2:]} override")
        sp.set_defaults(action=Action.DRAIN if name == "undrain" else Action.PIN)
        sp.add_argument("pool")
        sp.add_argument("origin")
        sp.add_argument("--by", default=who(), help="who (default: user@host)")
        sp.add_argument("--wait", type=float, metavar="SECONDS", help=WAIT_HELP)
    r = cmd(
        "retire",
        retire_sets,
        "show the sets of previous ids (pools.previous_ids) the daemon has taken to 0; "
        "--apply deletes them",
    )
    r.add_argument("--pool", help="only this pool (default: every pool)")
    r.add_argument("--apply", action="store_true", help="delete them (default: only show)")
    bs = cmd(
        "backstop",
        _backstop,
        "the alarms and Route 53 health checks of pools with backstop = true: "
        "plan shows what is missing, apply makes it (idempotent)",
    )
    bs.add_argument("action", choices=("plan", "apply"))
    cw = sub.add_parser("canary", help="canary object commands")
    csub = cw.add_subparsers(metavar="ACTION")
    w = csub.add_parser(
        "write", help="write a fresh canary to each pool's replication source", parents=[common]
    )
    w.add_argument("--pool", help="only this pool")
    w.set_defaults(func=_canary_write)
    sandbox_commands.add_parsers(sub)
    h = cmd("healthcheck", _healthcheck, "exit 0 if the local daemon's /healthz is good")
    h.add_argument("--url", help="default: http://<daemon.listen>/healthz")
    h.add_argument("--timeout", type=_positive(float), default=2.0, help="seconds (default 2)")
    return p


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
        return value

    return parse


def _reloader(args: argparse.Namespace) -> Callable[[], Config]:
    return lambda: load(args.config, os.environ)


# -- run / check ---------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    config = config_of(args)
    logs.configure(config.daemon.log_format, config.daemon.log_level)
    daemon = Daemon(config, _reloader(args))
    daemon.install_signals()
    return daemon.run()


def _check(args: argparse.Namespace) -> int:
    config = config_of(args)
    logs.configure("console" if not args.json else "json", "warning")
    rounds = args.rounds or max(max(o.health.fall, o.health.rise) for o in config.all_origins())
    parts = build_runner(config, Metrics(), write=False)
    runner, prober = parts.runner, parts.prober
    try:
        report = runner.run_round()
        for _ in range(rounds - 1):
            time.sleep(config.daemon.interval)
            report = runner.run_round()
    finally:
        prober.close()
    if report.error:
        raise FailoverError(f"round failed: {report.error}")
    if not runner.reader.readable:
        raise FailoverError(
            "Route 53 could not be read, so nothing can be compared (see route53_read_failed above)"
        )
    snap = to_json(runner.snapshot())
    planned = [
        {
            "pool": c.pool,
            "origin": c.new.set_id,
            "from": None if c.old is None else c.old.weight,
            "to": c.new.weight,
            "reason": c.reason,
        }
        for c in report.planned
    ]
    if args.json:
        print(json.dumps({"rounds": rounds, "status": snap, "would_change": planned}, indent=2))
        return EXIT_OK
    print(f"probed {rounds} round(s); writes frozen: {snap['frozen']}")
    _print_pools(snap)
    if planned:
        print("would change:")
        for c in planned:
            print(f"  {c['pool']}/{c['origin']}: {c['from']} -> {c['to']} ({c['reason']})")
    else:
        print("would change: nothing")
    return EXIT_OK


def _print_pools(snap: dict[str, Any]) -> None:
    for p in snap["pools"]:
        flag = "  FAILED OPEN" if p.get("failed_open") else ""
        print(f"pool {p['name']}  {p['record']}  zone {p['zone_id']}{flag}")
        for o in p["origins"]:
            ov = o.get("override")
            note = f"  [{ov['action']} by {ov['by']}: {ov['reason']}]" if ov else ""
            print(
                f"  {o['id']:<20} {o['state'] or '-':<8} {o['last_outcome'] or '-'!s:<11}"
                f" configured {o['configured']:>3}  desired {_num(o['desired'])}"
                f"  applied {_num(o['applied'])}  {o['reason']}{note}"
            )
        if p.get("unknown_sets"):
            print(f"  sets not in config (left untouched): {', '.join(p['unknown_sets'])}")
        _print_ghosts(p["name"], p.get("ghost_sets") or [])


def _print_ghosts(pool: str, ids: list[str]) -> None:
    for sid in ids:
        print(
            f"  GHOST {sid}: not in config, but its value is a configured origin's bucket "
            f"(a renamed origin?); add it to pools.previous_ids of {pool} to retire it, "
            f"then `failover retire --pool {pool} --apply` deletes it"
        )


def _num(v: object) -> str:
    return "  -" if v is None else f"{v:>3}"


# -- status --------------------------------------------------------------------------
def _daemon_status(config: Config) -> dict[str, Any] | None:
    if not config.daemon.listen:
        return None
    try:
        with urllib.request.urlopen(_url(config.daemon.listen, "/status"), timeout=2) as r:  # noqa: S310
            doc: dict[str, Any] = json.load(r)
            return doc
    except (OSError, ValueError):
        return None


def _url(listen: str, path: str) -> str:
    host, _, port = listen.rpartition(":")
    if host in ("0.0.0.0", "", "[::]"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    return f"http://{host}:{port}{path}"


def _backstop(args: argparse.Namespace) -> int:
    from failover.commands import backstop  # noqa: PLC0415 - only this command needs CloudWatch

    return backstop.run(args)


def _backstop_note(config: Config, sets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per backstop origin: the health check its set carries, and its alarm's state."""
    from failover.commands import backstop  # noqa: PLC0415

    states = backstop.alarm_states(config, None)
    return {
        str(o.key): {
            "health_check": backstop.check_id(sets[p.name].get(o.id)),
            "alarm": states.get(o.key),
        }
        for p in config.pools
        if p.backstop
        for o in p.origins
    }


def _status(args: argparse.Namespace) -> int:
    config = config_of(args)
    sets = read_sets(config)
    armed = _backstop_note(config, sets)
    applied = {name: {sid: s.weight for sid, s in held.items()} for name, held in sets.items()}
    ghost = {p.name: ghosts(p, sets[p.name]) for p in config.pools}
    overrides = overrides_store(config).load()
    daemon = _daemon_status(config)
    doc = {
        "route53": applied,
        "ghost_sets": {name: ids for name, ids in ghost.items() if ids},
        "overrides": [_override_json(o) for o in overrides.values()],
        "daemon": daemon,
        "backstop": armed,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    for p in config.pools:
        print(f"pool {p.name}  {p.record}  zone {p.zone_id}")
        held = applied[p.name]
        for o in p.origins:
            w = held.get(o.id)
            ov = overrides.get(o.key)
            note = f"  [{ov.action.value} by {ov.by}: {ov.reason}]" if ov else ""
            bs = armed.get(str(o.key))
            if bs is not None:
                note += f"  health check {bs['health_check'] or 'NONE (disarmed)'}"
                note += f"  alarm {bs['alarm'] or '?'}"
            print(f"  {o.id:<20} configured {o.weight:>3}  in Route 53 {_num(w)}{note}")
        for sid in sorted(set(held) - {o.id for o in p.origins}):
            print(f"  {sid:<20} (not in config, left untouched)  in Route 53 {_num(held[sid])}")
        _print_ghosts(p.name, ghost[p.name])
    if daemon is None:
        print(
            "daemon: not reachable"
            + (f" at {config.daemon.listen}" if config.daemon.listen else "")
        )
    else:
        print(
            f"daemon: ready={daemon['ready']} frozen={daemon['frozen']} dry_run={daemon['dry_run']}"
        )
        _print_pools(daemon)
        if daemon.get("cluster"):
            print("\n".join(show_cluster(daemon["cluster"])))
    return EXIT_OK


def _override_json(o: Override) -> dict[str, Any]:
    return {
        "pool": o.key.pool,
        "origin": o.key.origin,
        "action": o.action.value,
        "by": o.by,
        "at": o.at,
        "reason": o.reason,
    }


# -- misc ----------------------------------------------------------------------------
def _validate(args: argparse.Namespace) -> int:
    try:
        config = config_of(args)
    except ConfigError as e:
        if args.json:
            print(json.dumps({"ok": False, "problems": e.problems}, indent=2))
        else:
            print(render_problems(e), file=sys.stderr)
        return EXIT_CONFIG
    origins = len(config.all_origins())
    warned = warnings(config)
    if args.json:
        doc = {"ok": True, "pools": len(config.pools), "origins": origins, "warnings": warned}
        print(json.dumps(doc))
        return EXIT_OK
    for w in warned:
        print(f"warning: {w}", file=sys.stderr)
    print(f"config OK: {len(config.pools)} pool(s), {origins} origin(s)")

    return EXIT_OK


def _canary_write(args: argparse.Namespace) -> int:
    config = config_of(args)
    if args.pool is not None:
        try:
            config.pool(args.pool)
        except KeyError:
            names = ", ".join(p.name for p in config.pools)
            raise FailoverError(f"no pool {args.pool!r} (pools: {names})") from None
    written = canary.write(config, time.time(), pool=args.pool)
    if not written:
        raise FailoverError("no pool names a canary_source to write to")
    for o in written:
        print(f"wrote s3://{o.bucket}/{o.canary} ({o.pool}/{o.id})")
    return EXIT_OK


def _healthcheck(args: argparse.Namespace) -> int:
    url = args.url
    if url is None:
        config = config_of(args)
        if not config.daemon.listen:
            raise FailoverError("daemon.listen is empty: there is no endpoint to check")
        url = _url(config.daemon.listen, "/healthz")
    if not url.startswith(("http://", "https://")):
        print(f"unhealthy: {url!r} is not an http:// URL", file=sys.stderr)
        return EXIT_FAIL
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as r:  # noqa: S310
            ok = r.status == 200
    except urllib.error.HTTPError as e:
        print(f"unhealthy: HTTP {e.code}", file=sys.stderr)
        return EXIT_FAIL
    except (OSError, ValueError) as e:
        print(f"unhealthy: {e}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK if ok else EXIT_FAIL
