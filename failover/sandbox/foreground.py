"""`failover sandbox`: the local AWS world in the foreground, for `failover run` elsewhere."""

from __future__ import annotations

import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TextIO

from failover.sandbox.replicas import Replicas
from failover.sandbox.world import Sandbox


def run(config_out: str | None = None, out: TextIO = sys.stdout, replicas: int = 0) -> int:
    """Start the sandbox, print how to use it, and wait for Ctrl-C or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Sandbox() as sb:
            path = Path(config_out) if config_out else Path.cwd() / "failover-sandbox.toml"
            sb.write_config(path.resolve())
            settings = sb.edge_settings()
            env = sb.env()
            print("sandbox running on loopback (Ctrl-C to stop)", file=out)
            print(f"  S3 and Route 53: {sb.endpoint_url}  (moto {sb.moto_url})", file=out)
            print(
                f"  DNS: 127.0.0.1:{sb.dns_port}  record {sb.record}  zone {sb.zone_id}", file=out
            )
            print(f"  buckets: {', '.join(sb.buckets.values())}", file=out)
            print(
                f"  faults: curl -X POST {sb.endpoint_url}/_sandbox/faults/BUCKET "
                '-d \'{"kind": "http_503"}\'  (DELETE to heal, GET to list)',
                file=out,
            )
            print("\nin another terminal:", file=out)
            for k, v in env.items():
                print(f"  export {k}={shlex.quote(v)}", file=out)
            print(f"  export EDGE_ROUTER_SETTINGS={shlex.quote(str(settings))}", file=out)
            print(f"  failover run --config {shlex.quote(str(path.resolve()))}", file=out)
            print(f"\nconfig written to {path.resolve()}", file=out, flush=True)
            world = Replicas(sb, replicas) if replicas else None
            if world is not None:
                _print_replicas(world, out)
            stop.wait()
            if world is not None:
                world.close()
            print("stopping the sandbox", file=out, flush=True)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _print_replicas(world: Replicas, out: TextIO) -> None:
    """How to run each replica: its own config, and its own network path (a fault proxy)."""
    print(f"\ncluster mode: table {world.table}; one terminal per replica:", file=out)
    for i, name in enumerate(world.names):
        env = world.env(i, {})
        exports = " ".join(
            f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.startswith("AWS_")
        )
        print(f"  # {name}: its path {world.paths[i].url}", file=out)
        print(f"  env {exports} failover run --config {world.configs[i]}", file=out)
        print(
            f"  faults on its path only: curl -X POST {world.paths[i].url}/_sandbox/faults/"
            'BUCKET -d \'{"kind": "reset"}\'  (BUCKET "dynamodb": its path to the table)',
            file=out,
        )
    print("", file=out, flush=True)
