"""`failover demo`: the real daemon and edge router against the sandbox, through outages.

The scenario (`scenario`) injects faults; the timeline (`timeline`) prints only what
was observed afterwards: the daemon's own log events (with their change ids), Route 53's
records read back, DNS answers, and which bucket a stream of requests through the edge
router reached. Each expectation is checked against those observations; the exit status
is 0 only if every one held. This module sets the world up, observes it and runs it.
"""

from __future__ import annotations

import shlex
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from failover.config import load
from failover.sandbox import function_edge, scenario
from failover.sandbox.function_edge import FunctionStream
from failover.sandbox.kvs_server import KvsServer
from failover.sandbox.observe import (
    DaemonProcess,
    DnsSampler,
    EdgeStream,
    Seen,
    child_env,
    http_get,
    tally,
    wait_until,
)
from failover.sandbox.s3proxy import Kind
from failover.sandbox.scenario_backstop import apply_backstop
from failover.sandbox.timeline import SHOWN, Timeline, describe
from failover.sandbox.world import REGIONS, Sandbox, Timings


class ScenarioError(Exception):
    """An expectation failed in a way that makes the rest of the scenario meaningless."""


class Demo:
    """The running world: sandbox, daemon subprocess, edge stream, DNS sampler, timeline."""

    def __init__(
        self,
        timings: Timings,
        fall: int | None,
        out: TextIO,
        *,
        s3_overrides: bool = False,
        standby: tuple[str, ...] = (),
        router: str = "lambda-edge",
        backstop: bool = False,
    ) -> None:
        self.timings = timings
        self.router = router
        self.store: KvsServer | None = None  # the KeyValueStore, for --router function
        self.s3_overrides = s3_overrides
        self.standby = standby
        self.backstop = backstop
        self.exclusion: float | None = None  # backstop: seconds from fault to DNS exclusion
        self.fall = fall or timings.fall
        self.tl = Timeline(out)
        # Waits are sized from the demo's own timings, not the configured fall: a daemon
        # configured never to fail over must make the demo fail, not wait for it.
        self.patience = max(3 * timings.bound(), 8.0)
        self.sandbox = Sandbox(timings=timings, backstop=backstop)
        self.daemon: DaemonProcess | None = None
        self.edge: EdgeStream | FunctionStream | None = None
        self.dns = DnsSampler(self.sandbox)
        self._probe_noted: set[tuple[int, str, str]] = set()

    # -- set-up and tear-down ----------------------------------------------------------
    def start(self) -> None:
        sb = self.sandbox
        self.tl.say(
            f"sandbox up: S3 and Route 53 at {sb.endpoint_url} (strict moto behind a fault "
            f"proxy), DNS at 127.0.0.1:{sb.dns_port}, zone {sb.zone_id}"
        )
        extra: dict[str, object] = {"standby": self.standby} if self.standby else {}
        if self.s3_overrides:
            extra["overrides"] = sb.overrides_url
        if self.router == "function":
            self.store = KvsServer(function_edge.ARN)
            function_edge.seed(self.store)
            store = self.store
            url, proxy = store.endpoint_url, store.proxy
            extra["kvs"] = {"arn": store.store.arn, "endpoint_url": url, "proxy": proxy}
            self.tl.say(
                f"KeyValueStore data plane at {store.proxy} (SigV4A checked), reached by the "
                "daemon's real client through its own proxy setting"
            )
        if self.backstop:
            extra["backstop"] = True
        self.config = sb.write_config(None, fall=self.fall, **extra)
        self.config_value = load(str(self.config), {})  # a bad setting stops here, clearly
        if self.backstop:
            done = apply_backstop(self.config, child_env(sb))
            if not self.tl.expect(done.returncode == 0, "`failover backstop apply` arms every set"):
                raise ScenarioError(f"backstop apply failed: {done.stdout}{done.stderr}")
        self.listen = next(
            line.split('"')[1]
            for line in self.config.read_text().splitlines()
            if line.startswith("listen")
        )
        self.daemon = DaemonProcess(self.config, child_env(sb), on_event=self._on_event)
        self.tl.say(
            f"daemon started: pid {self.daemon.proc.pid}, `python -m failover run --config "
            f"{self.config}`; metrics at http://{self.listen}/metrics"
        )
        # The router re-resolves twice a second, so a returning region soon wins a weighted pick.
        if self.store is not None:
            self.edge = FunctionStream(sb, self.store)
            self.tl.say("viewer requests go through edge_function/router.js under Node")
        else:
            self.edge = EdgeStream(sb, sb.edge_settings(max_ttl=0.5))
        daemon = self.daemon
        ready = (
            wait_until(lambda: not daemon.alive() or self._get("/readyz")[0] == 200, 15.0)
            and daemon.alive()
        )
        if not self.tl.expect(ready, "daemon ready (/readyz answers 200)"):
            raise ScenarioError("the daemon never became ready")

    def close(self) -> None:
        if self.edge is not None:
            self.edge.close()
        if self.daemon is not None:
            code = self.daemon.stop()
            self.tl.expect(code == 0, f"daemon stopped cleanly on SIGTERM (exit {code})")
            if code != 0 and self.daemon.other:
                self.tl.say("daemon output: " + " | ".join(self.daemon.other[-5:]))
            self.daemon.kill()
        if self.store is not None:
            self.store.close()
        self.sandbox.close()

    def _get(self, path: str) -> tuple[int, bytes]:
        try:
            return http_get(f"http://{self.listen}{path}", timeout=1.0)
        except OSError:
            return 0, b""

    def _on_event(self, seen: Seen) -> None:
        if seen.name in SHOWN:
            self.tl.say(describe(seen), seen.at)
        elif seen.name == "probe_failed":
            key = (self.tl.phase, str(seen.event.get("origin")), str(seen.event.get("outcome")))
            if key not in self._probe_noted:
                self._probe_noted.add(key)
                self.tl.say(describe(seen), seen.at)

    # -- observations ------------------------------------------------------------------
    def show_records(self) -> dict[str, int]:
        held = self.sandbox.records()
        self.tl.say("Route 53 holds: " + ", ".join(f"{r}={w}" for r, w in sorted(held.items())))
        return held

    def show_dns(self, n: int = 20) -> dict[str, int]:
        got = dict(self.dns.sample(n))
        self.tl.say(f"DNS ({n} queries): " + ", ".join(f"{k} x{v}" for k, v in sorted(got.items())))
        return got

    def show_edge(self, since: float, last: int = 20) -> None:
        assert self.edge is not None  # noqa: S101 - set in start()
        hits = self.edge.hits(since)[-last:]
        self.tl.say(f"edge router, last {len(hits)} requests: {tally(hits)}")

    def wait_event(
        self, name: str, since: float, where: Callable[[dict[str, Any]], bool], what: str
    ) -> Seen:
        assert self.daemon is not None  # noqa: S101 - set in start()
        daemon = self.daemon
        found: list[Seen] = []

        def check() -> bool:
            hit = daemon.first(name, since, where)
            if hit is not None:
                found.append(hit)
            return hit is not None

        ok = wait_until(check, self.patience)
        if not self.tl.expect(ok, what):
            raise ScenarioError(f"no {name} within {self.patience:.0f}s")
        return found[0]

    def edge_avoids(self, region: str, since: float) -> tuple[bool, float | None]:
        """Wait until 10 requests in a row avoid `region`; then the last one that reached it."""
        assert self.edge is not None  # noqa: S101 - set in start()
        edge = self.edge

        def clean() -> bool:
            hits = edge.hits(since)
            return len(hits) >= 10 and all(h.region != region for h in hits[-10:])

        if not wait_until(clean, self.patience):
            return False, None
        to_dead = [h.at for h in edge.hits(since) if h.region == region]
        return True, max(to_dead) if to_dead else None

    def edge_reaches(self, region: str, since: float) -> bool:
        assert self.edge is not None  # noqa: S101 - set in start()
        edge = self.edge
        return wait_until(
            lambda: any(h.region == region and h.status == "200" for h in edge.hits(since)),
            max(self.patience, 15.0),  # each re-resolution picks it with p = 1/3
        )

    def all_up(self, since: float) -> bool:
        """Every origin marked up again since `since` (after a pool-wide outage)."""
        assert self.daemon is not None  # noqa: S101 - set in start()
        daemon = self.daemon
        return wait_until(
            lambda: (
                {str(s.event.get("origin")) for s in daemon.events(since, "origin_marked_up")}
                >= set(REGIONS)
            ),
            self.patience,
        )


def run(
    *,
    fall: int | None = None,
    interactive: bool = False,
    out: TextIO = sys.stdout,
    timings: Timings | None = None,
    scenario_name: str = "default",
    router: str = "lambda-edge",
) -> int:
    """Run a scripted scenario (or the interactive loop); 0 if every expectation held."""
    play, s3_overrides, standby = scenario.SCENARIOS[scenario_name]
    if router == "function" and (problem := function_edge.node_problem()):
        print(f"failover demo: {problem}", file=sys.stderr)
        return 2

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # unwind through `finally`: the daemon is stopped, not orphaned

    previous = signal.signal(signal.SIGTERM, on_term)
    demo = Demo(
        timings or Timings(),
        fall,
        out,
        s3_overrides=s3_overrides,
        standby=standby,
        backstop=scenario_name in scenario.BACKSTOP,
        router=router,
    )
    try:
        demo.start()
        if interactive:
            return _interactive(demo)
        play(demo)
    except ScenarioError as e:
        demo.tl.say(f"scenario stopped: {e}")
    except KeyboardInterrupt:
        demo.tl.say("interrupted")
        if interactive:
            return 0
        demo.tl.failed.append("interrupted")
    finally:
        demo.close()
        signal.signal(signal.SIGTERM, previous)
    tl = demo.tl
    took = time.time() - tl.started
    if tl.failed:
        print(f"\nFAILED: {len(tl.failed)} expectation(s) did not hold in {took:.1f}s:", file=out)
        for what in tl.failed:
            print(f"  - {what}", file=out)
        return 1
    print(f"\nOK: all {tl.passed} expectations held in {took:.1f}s", file=out)
    return 0


HELP = """commands:
  break REGION KIND   make a bucket misbehave; KIND: {kinds}
  heal [REGION]       heal one region (or everything)
  status              Route 53's records, DNS answers, where recent requests went
  quit"""


def _interactive(demo: Demo) -> int:
    kinds = ", ".join(k.value for k in Kind)
    print(HELP.format(kinds=kinds), file=demo.tl.out)
    since = time.time()
    while True:
        try:
            line = input("failover> ")
        except EOFError:
            return 0
        words = shlex.split(line)
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            if cmd in ("quit", "exit"):
                return 0
            if cmd == "break" and len(args) == 2:
                demo.sandbox.break_bucket(args[0], args[1])
                demo.tl.say(f"injected {args[1]} into {args[0]}")
            elif cmd == "heal" and len(args) <= 1:
                demo.sandbox.heal(args[0] if args else None)
                demo.tl.say(f"healed {args[0] if args else 'everything'}")
            elif cmd == "status":
                demo.show_records()
                demo.show_dns()
                demo.show_edge(since)
                since = time.time()
            else:
                print(HELP.format(kinds=kinds), file=demo.tl.out)
        except ValueError as e:
            print(f"error: {e}", file=demo.tl.out)
