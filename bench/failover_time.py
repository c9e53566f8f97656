"""Measure failover and recovery times of the real daemon on the sandbox, per fault kind.

For each fault kind, a fresh `failover run` subprocess on the sandbox; each trial breaks one
region (rotating) and measures, from the moment the fault starts:
  fault -> origin marked down (the daemon's log event)
  fault -> Route 53 changed   (the weights_applied event: Route 53 accepted the change)
  fault -> DNS clean          (10 answers in a row from the sandbox DNS avoid the bucket)
and the same after healing (marked up, Route 53 back, DNS names the bucket again).
Printed beside the bound fall x interval + timeout + 1 s and beside Route 53 health checks
at their fastest. Run from the repository root: `python bench/failover_time.py` (< 3 min).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from failover.sandbox.observe import DaemonProcess, DnsSampler, http_get  # noqa: E402
from failover.sandbox.sandbox_config import free_port  # noqa: E402
from failover.sandbox.world import REGIONS, Sandbox, Timings  # noqa: E402

KINDS = ("http_503", "http_403", "reset", "hang", "drip", "stale", "truncated")
R53_INTERVAL, R53_THRESHOLD_MIN, R53_THRESHOLD_DEFAULT = 10.0, 1, 3
PATIENCE = 20.0


def poll(check: Callable[[], bool], timeout: float = PATIENCE) -> float | None:
    """Wall time at which `check` first held, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(0.02)
    return None


@dataclass
class Figures:
    down: list[float] = field(default_factory=list)
    r53_down: list[float] = field(default_factory=list)
    dns_down: list[float] = field(default_factory=list)
    up: list[float] = field(default_factory=list)
    r53_up: list[float] = field(default_factory=list)
    dns_up: list[float] = field(default_factory=list)
    missed: int = 0


def trial(
    sb: Sandbox, daemon: DaemonProcess, dns: DnsSampler, region: str, kind: str, f: Figures
) -> None:
    mine = lambda e: e.get("origin") == region  # noqa: E731
    t0 = time.time()
    sb.break_bucket(region, kind)
    down = poll(lambda: daemon.first("origin_marked_down", t0, mine) is not None)
    applied = poll(
        lambda: (
            daemon.first(
                "weights_applied",
                t0,
                lambda e: any(c["origin"] == region and c["to"] == 0 for c in e["changes"]),
            )
            is not None
        )
    )
    clean = poll(lambda: region not in dns.sample(10))
    if down is None or applied is None or clean is None:
        f.missed += 1
        sb.heal(region)
        return
    marked = daemon.first("origin_marked_down", t0, mine)
    change = daemon.first(
        "weights_applied",
        t0,
        lambda e: any(c["origin"] == region and c["to"] == 0 for c in e["changes"]),
    )
    assert marked is not None
    assert change is not None
    f.down.append(marked.at - t0)
    f.r53_down.append(change.at - t0)
    f.dns_down.append(clean - t0)
    t1 = time.time()
    sb.heal(region)
    poll(lambda: daemon.first("origin_marked_up", t1, mine) is not None)
    back = poll(
        lambda: (
            daemon.first(
                "weights_applied",
                t1,
                lambda e: any(c["origin"] == region and c["to"] == 100 for c in e["changes"]),
            )
            is not None
        )
    )
    named = poll(lambda: region in dns.sample(10))
    up = daemon.first("origin_marked_up", t1, mine)
    change_up = daemon.first(
        "weights_applied",
        t1,
        lambda e: any(c["origin"] == region and c["to"] == 100 for c in e["changes"]),
    )
    if up is None or back is None or named is None or change_up is None:
        f.missed += 1
        return
    f.up.append(up.at - t1)
    f.r53_up.append(change_up.at - t1)
    f.dns_up.append(named - t1)


def ready(port: int) -> bool:
    try:
        return http_get(f"http://127.0.0.1:{port}/readyz", timeout=0.5)[0] == 200
    except OSError:
        return False


def run_kind(
    sb: Sandbox, dns: DnsSampler, kind: str, trials: int, timings: Timings
) -> Figures | None:
    """A fresh daemon, then `trials` trials of one fault kind on rotating regions."""
    port = free_port()
    # No damping between trials: every trial starts from the same hold-down.
    config = sb.write_config(listen=f"127.0.0.1:{port}", hold_down_max=timings.hold_down)
    daemon = DaemonProcess(config, sb.child_env(os.environ))
    try:
        if poll(lambda: daemon.alive() and ready(port)) is None:
            print(f"{kind}: daemon never ready: {daemon.other[-3:]}", file=sys.stderr)
            return None
        poll(lambda: len(daemon.events(0, "origin_marked_up")) >= len(REGIONS))
        f = Figures()
        for i in range(trials):
            trial(sb, daemon, dns, REGIONS[i % len(REGIONS)], kind, f)
        return f
    finally:
        daemon.stop()
        daemon.kill()
        sb.heal()


def cell(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{statistics.median(xs):5.2f} / {max(xs):5.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="trials per fault kind")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds")
    args = parser.parse_args()
    timings = Timings()
    kinds = [k for k in args.kinds.split(",") if k]
    results: dict[str, Figures | None] = {}
    started = time.monotonic()
    with Sandbox(timings=timings) as sb:
        dns = DnsSampler(sb)
        for kind in kinds:
            f = results[kind] = run_kind(sb, dns, kind, args.trials, timings)
            if f is None:
                return 1
            sb.heal()
    took = time.monotonic() - started
    bound = timings.bound()
    print(
        f"\nfailover time on the sandbox: interval {timings.interval}s, timeout {timings.timeout}s, "
        f"fall {timings.fall}, rise {timings.rise}, hold_down {timings.hold_down}s, TTL {timings.ttl}s; "
        f"{args.trials} trials per kind; seconds, median / max\n"
    )
    head = (
        "fault",
        "marked down",
        "Route 53 0",
        "DNS clean",
        "marked up",
        "Route 53 back",
        "DNS back",
    )
    print(f"{head[0]:<10} " + " ".join(f"{h:>14}" for h in head[1:]))
    done = {k: f for k, f in results.items() if f is not None}
    for kind, f in done.items():
        row = (f.down, f.r53_down, f.dns_down, f.up, f.r53_up, f.dns_up)
        miss = f"  ({f.missed} missed)" if f.missed else ""
        print(f"{kind:<10} " + " ".join(f"{cell(xs):>14}" for xs in row) + miss)
    worst = max((x for f in done.values() for x in f.r53_down), default=float("nan"))
    print(
        f"\nbound fall x interval + timeout + 1 s = {bound:.2f}s; worst fault -> Route 53 change "
        f"{worst:.2f}s; DNS adds at most the TTL ({timings.ttl}s)."
    )
    fastest = R53_INTERVAL * R53_THRESHOLD_MIN
    default = R53_INTERVAL * R53_THRESHOLD_DEFAULT
    print(
        f"Route 53 health checks at their fastest: {R53_INTERVAL:.0f}s interval x failure threshold "
        f"{R53_THRESHOLD_MIN} = {fastest:.0f}s ({R53_INTERVAL:.0f}s x {R53_THRESHOLD_DEFAULT} (default) "
        f"= {default:.0f}s) before the record is withdrawn, plus the TTL; they cannot sign a request "
        "to a private bucket."
    )
    print(f"benchmark took {took:.0f}s")
    failed = sum(f.missed for f in done.values())
    over = [k for k, f in done.items() if any(x > bound for x in f.r53_down)]
    if failed or over:
        print(f"MISSED: {failed} trial(s); over the bound: {', '.join(over) or 'none'}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
