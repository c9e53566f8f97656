"""`failover demo`: the real daemon and edge router against the sandbox, through outages.

The scenario injects faults; the timeline prints only what was observed afterwards: the
daemon's own log events (with their change ids), Route 53's records read back, DNS
answers, and which bucket a stream of requests through the edge router reached. Each
expectation is checked against those observations; the exit status is 0 only if every
one held.
"""

from __future__ import annotations

import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, TextIO

from failover.config import load
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
from failover.sandbox.world import REGIONS, Sandbox, Timings

# One region down, each with a different fault: (region, kind, what it models).
SINGLE_FAULTS: tuple[tuple[str, str, str], ...] = (
    ("eu-west-1", "http_503", "S3 answers 503 Slow Down"),
    ("us-east-1", "reset", "connections reset"),
    ("ap-southeast-2", "hang", "requests hang (probe times out)"),
    ("eu-west-1", "stale", "replication stopped: the canary is 3 h old"),
)
SHOWN = frozenset(
    (
        "daemon_started",
        "origin_marked_down",
        "origin_marked_up",
        "weights_applied",
        "pool_failed_open",
        "pool_recovered",
        "writes_frozen",
        "writes_unfrozen",
        "change_conflict",
        "route53_write_failed",
        "writes_refused",
        "daemon_stopped",
    )
)


class ScenarioError(Exception):
    """An expectation failed in a way that makes the rest of the scenario meaningless."""


@dataclass
class Timeline:
    """Prints observations as they happen, with the seconds since the demo started."""

    out: TextIO = sys.stdout
    started: float = field(default_factory=time.time)
    failed: list[str] = field(default_factory=list)
    passed: int = 0
    phase: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, text: str, at: float | None = None) -> None:
        t = (at if at is not None else time.time()) - self.started
        with self._lock:
            print(f"{t:7.2f}s  {text}", file=self.out, flush=True)

    def head(self, text: str) -> None:
        self.phase += 1
        with self._lock:
            print(f"\n== {text} ==", file=self.out, flush=True)

    def expect(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        self.say(f"{'PASS' if ok else 'FAIL'}  {what}")
        return ok


def describe(seen: Seen) -> str:
    """One daemon event in a line: its name and the facts that matter."""
    e = seen.event
    name = seen.name
    if name == "weights_applied":
        changes = ", ".join(
            f"{c['origin']} {c['from']}->{c['to']} ({c['reason']})" for c in e.get("changes", [])
        )
        return f"daemon: weights_applied change_id={e.get('change_id')} [{changes}]"
    facts = [
        f"{k}={e[k]}"
        for k in ("origin", "outcome", "detail", "pool", "reason", "signal")
        if e.get(k) not in (None, "")
    ]
    return f"daemon: {name} " + " ".join(facts)


class Demo:
    """The running world: sandbox, daemon subprocess, edge stream, DNS sampler, timeline."""

    def __init__(self, timings: Timings, fall: int | None, out: TextIO) -> None:
        self.timings = timings
        self.fall = fall or timings.fall
        self.tl = Timeline(out)
        # Waits are sized from the demo's own timings, not the configured fall: a daemon
        # configured never to fail over must make the demo fail, not wait for it.
        self.patience = max(3 * timings.bound(), 8.0)
        self.sandbox = Sandbox(timings=timings)
        self.daemon: DaemonProcess | None = None
        self.edge: EdgeStream | None = None
        self.dns = DnsSampler(self.sandbox)
        self._probe_noted: set[tuple[int, str, str]] = set()

    # -- set-up and tear-down ----------------------------------------------------------
    def start(self) -> None:
        sb = self.sandbox
        self.tl.say(
            f"sandbox up: S3 and Route 53 at {sb.endpoint_url} (strict moto behind a fault "
            f"proxy), DNS at 127.0.0.1:{sb.dns_port}, zone {sb.zone_id}"
        )
        self.config = sb.write_config(fall=self.fall)
        load(str(self.config), {})  # a bad setting (e.g. --fall) stops here, clearly
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

    # -- the scenario ------------------------------------------------------------------
    def steady(self) -> None:
        self.tl.head("steady state: three healthy regions, weight 100 each")
        since = time.time()
        assert self.edge is not None  # noqa: S101 - set in start()
        edge = self.edge
        wait_until(
            lambda: {h.region for h in edge.hits(since)} >= set(REGIONS), max(self.patience, 15.0)
        )
        held = self.show_records()
        self.tl.expect(held == dict.fromkeys(REGIONS, 100), "Route 53 holds 100 for every region")
        self.show_dns()
        self.show_edge(since)
        reached = {h.region for h in edge.hits(since) if h.status == "200"}
        self.tl.expect(reached == set(REGIONS), "requests reach all three buckets (HTTP 200)")
        assert self.daemon is not None  # noqa: S101 - set in start()
        self.tl.expect(
            not self.daemon.events(0.0, "weights_applied"), "a steady start writes nothing"
        )

    def one_down(self, region: str, kind: str, what: str) -> None:
        bound = self.timings.bound()
        self.tl.head(f"{region} down: {what} ({kind})")
        t0 = time.time()
        self.sandbox.break_bucket(region, kind)
        self.tl.say(f"injected {kind} into {self.sandbox.buckets[region]}", t0)
        mine: Callable[[dict[str, Any]], bool] = lambda e: e.get("origin") == region  # noqa: E731
        self.wait_event("origin_marked_down", t0, mine, f"{region} marked down")
        applied = self.wait_event(
            "weights_applied",
            t0,
            lambda e: any(c["origin"] == region and c["to"] == 0 for c in e.get("changes", [])),
            f"Route 53 change takes {region} to weight 0",
        )
        took = applied.at - t0
        self.tl.expect(
            took <= bound,
            f"failover time {took:.2f}s <= bound fall x interval + timeout + 1 s = {bound:.2f}s",
        )
        held = self.show_records()
        self.tl.expect(held.get(region) == 0, f"Route 53 holds 0 for {region}")
        dns_clean = wait_until(lambda: region not in self.dns.sample(10), self.patience)
        self.tl.expect(dns_clean, f"DNS answers stop naming {region}")
        self.show_dns()
        avoided, last = self.edge_avoids(region, t0)
        self.tl.expect(avoided, f"edge router stops sending requests to {region}")
        edge_bound = bound + self.timings.ttl
        if last is None:
            self.tl.say(
                f"no request went to {region} after the fault (the router's answer named another)"
            )
        else:
            self.tl.say(
                f"last request to {region} {last - t0:.2f}s after the fault "
                f"(bound + TTL = {edge_bound:.2f}s)"
            )
            self.tl.expect(last - t0 <= edge_bound, f"edge failover within {edge_bound:.2f}s")
        self.show_edge(t0, 10)
        t1 = time.time()
        self.sandbox.heal(region)
        self.tl.say(f"healed {region}", t1)
        self.wait_event("origin_marked_up", t1, mine, f"{region} marked up again")
        self.wait_event(
            "weights_applied",
            t1,
            lambda e: any(c["origin"] == region and c["to"] == 100 for c in e.get("changes", [])),
            f"Route 53 change brings {region} back to 100",
        )
        self.show_records()
        self.tl.expect(self.edge_reaches(region, t1), f"requests reach {region} again")
        self.show_edge(t1, 10)

    def every_region_down(self) -> None:
        self.tl.head("every region answers 503: fail open, nothing black-holed")
        t0 = time.time()
        self.sandbox.break_all(Kind.HTTP_503)
        self.tl.say("injected http_503 into all three buckets", t0)
        self.wait_event("pool_failed_open", t0, lambda e: True, "pool fails open")
        # Let a few more rounds pass, then check nothing was written in between.
        wait_until(lambda: False, 3 * self.timings.interval)
        held = self.show_records()
        self.tl.expect(
            held == dict.fromkeys(REGIONS, 100),
            "configured weights kept (never all zero: Route 53 would spread over the dead)",
        )
        dns = self.show_dns()
        self.tl.expect(set(dns) <= set(REGIONS) and bool(dns), "DNS still names the buckets")
        assert self.edge is not None  # noqa: S101 - set in start()
        hits = self.edge.hits(t0)
        self.show_edge(t0)
        self.tl.expect(
            bool(hits) and all(h.region in REGIONS for h in hits),
            "every request is still routed to a configured bucket (none left without an origin)",
        )
        t1 = time.time()
        self.sandbox.heal()
        self.tl.say("healed every region", t1)
        self.tl.expect(self.all_up(t1), "every region marked up again")

    def network_cut(self) -> None:
        self.tl.head("the daemon's own network is cut: every probe times out or is reset")
        # Start from a settled record: a write decided before the cut may still be landing.
        configured = dict.fromkeys(REGIONS, 100)
        wait_until(lambda: self.sandbox.records() == configured, self.patience)
        before = self.sandbox.records()
        t0 = time.time()
        self.sandbox.break_all(Kind.HANG)
        self.tl.say("injected hang into all three buckets (no HTTP answer from anywhere)", t0)
        frozen = self.wait_event("writes_frozen", t0, lambda e: True, "writes frozen")
        wait_until(lambda: False, (self.timings.fall + 2) * self.timings.interval)
        assert self.daemon is not None  # noqa: S101 - set in start()
        written = self.daemon.events(frozen.at, "weights_applied")
        self.tl.expect(not written, "no Route 53 write while frozen")
        self.tl.expect(self.show_records() == before, "Route 53 untouched")
        t1 = time.time()
        self.sandbox.heal()
        self.tl.say("network restored", t1)
        self.wait_event("writes_unfrozen", t1, lambda e: True, "writes unfrozen")
        assert self.daemon is not None  # noqa: S101 - set in start()
        # A round in which nothing answered says nothing about any origin: the blind
        # spell must not have taken a region out, then or now.
        wait_until(lambda: False, (self.timings.rise + 1) * self.timings.interval)
        downs = self.daemon.events(t0, "origin_marked_down")
        self.tl.expect(not downs, "no region marked down by the blind spell")
        self.tl.expect(
            self.show_records() == dict.fromkeys(REGIONS, 100), "every region still at 100"
        )

    def recovered(self) -> None:
        self.tl.head("recovered")
        since = time.time()
        held = self.show_records()
        self.tl.expect(held == dict.fromkeys(REGIONS, 100), "Route 53 holds 100 for every region")
        self.show_dns()
        assert self.edge is not None  # noqa: S101 - set in start()
        edge = self.edge
        ok = wait_until(
            lambda: {h.region for h in edge.hits(since) if h.status == "200"} >= set(REGIONS),
            max(self.patience, 15.0),
        )
        self.show_edge(since)
        self.tl.expect(ok, "requests reach all three buckets again")
        code, body = self._get("/metrics")
        lines = [
            line
            for line in body.decode().splitlines()
            if line.startswith("failover_origin_transitions_total")
        ]
        self.tl.expect(
            code == 200 and bool(lines), f"metrics served at http://{self.listen}/metrics"
        )
        for line in lines:
            self.tl.say(f"  {line}")


def run(
    *,
    fall: int | None = None,
    interactive: bool = False,
    out: TextIO = sys.stdout,
    timings: Timings | None = None,
) -> int:
    """Run the scripted demo (or the interactive loop); 0 if every expectation held."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # unwind through `finally`: the daemon is stopped, not orphaned

    previous = signal.signal(signal.SIGTERM, on_term)
    demo = Demo(timings or Timings(), fall, out)
    try:
        demo.start()
        if interactive:
            return _interactive(demo)
        demo.steady()
        for region, kind, what in SINGLE_FAULTS:
            demo.one_down(region, kind, what)
        demo.every_region_down()
        demo.network_cut()
        demo.recovered()
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
