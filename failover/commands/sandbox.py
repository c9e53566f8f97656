"""`failover demo` and `failover sandbox`: the local AWS, loaded only when asked for."""

from __future__ import annotations

import argparse
import importlib
import sys

from failover.commands.shared import EXIT_CONFIG
from failover.errors import FailoverError

# `failover demo` and `failover sandbox` need it; the daemon's own install leaves it out.
SANDBOX_EXTRA = "failover[sandbox]"
# The demo's scripted scenarios (failover.sandbox.scenario.SCENARIOS, named here so
# that parsing the command line never loads moto).
DEMO_SCENARIOS = ("default", "overrides-hang", "standby", "backstop")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `demo` and `sandbox` subcommands."""
    d = sub.add_parser(
        "demo",
        help="run the daemon and the edge router through outages on a local sandbox",
        description="run the daemon and the edge router through outages on a local sandbox",
    )
    d.add_argument("--fall", type=int, help="override health.fall (a huge value must fail)")
    d.add_argument("--interactive", action="store_true", help="break and heal regions by hand")
    d.add_argument(
        "--scenario",
        choices=DEMO_SCENARIOS,
        default="default",
        help="which scripted scenario (default: default; overrides-hang: the overrides "
        "bucket hangs while a region fails; standby: a primary fails over to its standby and back; "
        "backstop: Route 53's API refuses writes while a region fails, health checks act)",
    )
    d.add_argument(
        "--router",
        choices=("lambda-edge", "function"),
        default="lambda-edge",
        help="what routes the viewer requests: the Lambda@Edge router (DNS) or the CloudFront "
        "Function reading the KeyValueStore the daemon writes (needs Node.js)",
    )
    d.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="run N daemons in cluster mode (a scenario of its own)",
    )
    d.set_defaults(func=demo)
    sb = sub.add_parser(
        "sandbox",
        help="run the local AWS sandbox in the foreground for `failover run` to talk to",
        description="run the local AWS sandbox in the foreground for `failover run` to talk to",
    )
    sb.add_argument("--config-out", metavar="PATH", help="where to write the config")
    sb.add_argument(
        "--replicas", type=int, default=0, help="a table and a network path each for N replicas"
    )
    sb.set_defaults(func=sandbox)


def _sandbox_missing(command: str) -> str | None:
    """Why `failover <command>` cannot run here, or None: moto's server comes with an extra."""
    try:
        importlib.import_module("moto.server")
    except ImportError as e:
        return (
            f"failover {command} needs the sandbox extra (moto's server, the local AWS), "
            f"which is not installed here ({e}).\n"
            f"Install it with: pip install '{SANDBOX_EXTRA}'"
            " (from a checkout of the repository: pip install -e '.[sandbox]')"
        )
    return None


def demo(args: argparse.Namespace) -> int:
    if args.fall is not None and args.fall < 1:
        raise FailoverError(f"--fall must be at least 1, got {args.fall}")
    if missing := _sandbox_missing("demo"):
        print(missing, file=sys.stderr)
        return EXIT_CONFIG
    if args.replicas:
        from failover.sandbox import cluster_demo  # noqa: PLC0415 - moto: only for the sandbox

        return cluster_demo.run(replicas=_replicas(args.replicas))
    from failover.sandbox import demo  # noqa: PLC0415 - moto loads only for the sandbox

    return demo.run(
        fall=args.fall,
        interactive=args.interactive,
        scenario_name=args.scenario,
        router=args.router,
    )


def sandbox(args: argparse.Namespace) -> int:
    if missing := _sandbox_missing("sandbox"):
        print(missing, file=sys.stderr)
        return EXIT_CONFIG
    from failover.sandbox import foreground  # noqa: PLC0415 - moto loads only for the sandbox

    return foreground.run(args.config_out, replicas=_replicas(args.replicas))


def _replicas(n: int) -> int:
    if not 0 <= n <= 9:
        raise FailoverError(f"--replicas must be between 1 and 9, got {n}")
    return n
