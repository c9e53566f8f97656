"""Benchmark the edge router against resolving on every call, on one local DNS responder.

Run from the repository root: `python bench/edge_router.py` (about 15-30 s, bounded).
"""

from __future__ import annotations

import copy
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_router.handler import Router  # noqa: E402
from edge_router.resolver import dns_query  # noqa: E402
from edge_router.settings import Settings  # noqa: E402
from failover.sandbox.dns import DnsResponder, Fault, StaticZone, WeightedAnswer  # noqa: E402

NAME = "origin.example.com"
EU = "www-eu-west-1.s3.eu-west-1.amazonaws.com"
TTL = 60
WARM_CALLS = 5000
BASELINE_CALLS = 2000

# Prices (us-east-1 list prices): Lambda@Edge requests and duration, Route 53 queries.
REQUEST_PRICE = 0.60 / 1e6
GB_SECOND_PRICE = 0.00005001
MEMORY_GB = 128 / 1024
QUERY_PRICE = 0.40 / 1e6
BLOG_COST = 1.31


class Clock:
    """A clock the benchmark moves, so simulated hours take no wall time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def event() -> dict[str, Any]:
    s3 = {
        "authMethod": "origin-access-identity",
        "customHeaders": {"x-dns-origin": [{"key": "X-DNS-ORIGIN", "value": NAME}]},
        "domainName": "www-primary.s3.eu-central-1.amazonaws.com",
        "path": "",
        "region": "eu-central-1",
    }
    headers = {
        "host": [{"key": "Host", "value": s3["domainName"]}],
        "via": [{"key": "Via", "value": "2.0 example.cloudfront.net (CloudFront)"}],
    }
    request = {"clientIp": "203.0.113.178", "headers": headers, "method": "GET", "uri": "/"}
    request["origin"] = {"s3": s3}
    return {"Records": [{"cf": {"config": {"eventType": "origin-request"}, "request": request}}]}


def timed(
    route: Callable[[dict[str, Any]], object], calls: int, each: Callable[[], None]
) -> list[float]:
    """Seconds per call of `route` on a fresh request, `each` run between calls (untimed)."""
    template = event()["Records"][0]["cf"]["request"]
    out: list[float] = []
    for _ in range(calls):
        request = copy.deepcopy(template)
        started = time.perf_counter()
        route(request)
        out.append(time.perf_counter() - started)
        each()
    return out


def served(router: Router, calls: int, each: Callable[[], None]) -> int:
    """How many of `calls` requests were sent to a bucket from the record."""
    count = 0
    for _ in range(calls):
        request = copy.deepcopy(event()["Records"][0]["cf"]["request"])
        router.route(request)
        count += request["origin"]["s3"]["domainName"] == EU
        each()
    return count


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def settings(port: int, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "nameservers": (("127.0.0.1", port),),
        "timeout": 0.2,
        "min_ttl": 1.0,
        "max_ttl": 300.0,
        "stale": 3600.0,
        "retry": 5.0,
        "allowed_buckets": ("www-*",),
    }
    base.update(overrides)
    return Settings(**base)


def router(config: Settings, clock: Callable[[], float] = time.monotonic) -> Router:
    return Router(config, query=dns_query(config), clock=clock, log=lambda *a, **k: None)


def subprocess_figures(port: int, tmp: Path) -> tuple[float, float, float, int]:
    """From the built zip, unpacked as Lambda does and run with no site-packages: cold import
    time (median of 7, bare interpreter subtracted), traced peak and RSS after 1,000 calls."""
    from edge_router.build import contents, write_zip

    task = tmp / "task"
    files = contents()
    write_zip(tmp / "fn.zip", files)
    with zipfile.ZipFile(tmp / "fn.zip") as archive:
        archive.extractall(task)
    (task / "edge_router" / "settings.json").write_text(
        json.dumps({"nameservers": [f"127.0.0.1:{port}"], "allowed_buckets": ["www-*"]})
    )
    env = {k: v for k, v in os.environ.items() if k != "EDGE_ROUTER_SETTINGS"}
    prefix = "import sys; sys.path.insert(0, '.')\n"

    def run(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-I", "-S", "-c", prefix + code],
            cwd=task,
            env=env,
            check=True,
            timeout=30,
            capture_output=True,
            text=True,
        )

    def wall(code: str) -> float:
        started = time.perf_counter()
        run(code)
        return time.perf_counter() - started

    bare = statistics.median(wall("pass") for _ in range(7))
    loaded = statistics.median(wall("import edge_router.handler") for _ in range(7))
    code = (
        "import tracemalloc; tracemalloc.start()\n"
        "import copy, json, resource\n"
        "from edge_router.handler import handler\n"
        f"event = json.loads({json.dumps(json.dumps(event()))})\n"
        "for _ in range(1000): handler(copy.deepcopy(event), None)\n"
        "peak = tracemalloc.get_traced_memory()[1]\n"
        "print(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    traced, rss = run(code).stdout.splitlines()[-1].split()
    return loaded - bare, int(traced) / 2**20, int(rss) / 1024, len(files)


def cost_per_million(seconds: float, queries_per_request: float) -> float:
    billed = max(1, math.ceil(seconds * 1000)) / 1000  # billed per 1 ms, at least 1 ms
    per_request = (
        REQUEST_PRICE + billed * MEMORY_GB * GB_SECOND_PRICE + queries_per_request * QUERY_PRICE
    )
    return per_request * 1e6


def main() -> int:
    started = time.perf_counter()
    zone = StaticZone({NAME: [WeightedAnswer.of(100, TTL, EU)]})
    with DnsResponder(zone) as dns, tempfile.TemporaryDirectory() as tmp:
        # Warm: cached answers against resolving on every call (TTL clamp 0 = the blog's way).
        cached = router(settings(dns.port))
        cached.route(event()["Records"][0]["cf"]["request"])
        warm = timed(cached.route, WARM_CALLS, lambda: None)
        # The blog's way: no cache, no stale answer, no retry limit.
        every = router(settings(dns.port, min_ttl=0.0, max_ttl=0.0, stale=0.0, retry=0.0))
        before = dns.queries()
        uncached = timed(every.route, BASELINE_CALLS, lambda: None)
        uncached_queries = dns.queries() - before

        # Queries per 10,000 invocations: one burst, and spread over a simulated hour.
        before = dns.queries()
        fresh = router(settings(dns.port))
        timed(fresh.route, 10_000, lambda: None)
        burst_queries = dns.queries() - before
        clock = Clock()
        spread = router(settings(dns.port), clock)
        before = dns.queries()

        def tick() -> None:
            clock.now += 3600 / 10_000

        timed(spread.route, 10_000, tick)
        hour_queries = dns.queries() - before

        # DNS down (queries dropped: every lookup waits out its timeout) for 100 simulated s.
        down_clock = Clock()
        down = router(settings(dns.port, min_ttl=5.0, max_ttl=5.0), down_clock)
        down.route(event()["Records"][0]["cf"]["request"])
        dns.set_fault(Fault.TIMEOUT)

        def step() -> None:
            down_clock.now += 0.05

        outage = timed(down.route, 2000, step)
        down_served = served(down, 200, step)
        blog_outage = timed(every.route, 10, lambda: None)
        blog_served = served(every, 10, lambda: None)
        dns.set_fault(None)

        import_s, traced_mb, rss_mb, files = subprocess_figures(dns.port, Path(tmp))

    # The DNS server stopped mid-run (port closed): lookups fail at once, stale is served.
    stopped_clock = Clock()
    spare = DnsResponder(zone)
    stopped = router(settings(spare.port, min_ttl=5.0, max_ttl=5.0), stopped_clock)
    stopped.route(event()["Records"][0]["cf"]["request"])
    spare.close()

    def later() -> None:
        stopped_clock.now += 0.05

    after_stop = timed(stopped.route, 2000, later)
    stopped_served = served(stopped, 200, later)

    ms = 1000.0
    ratio = statistics.median(uncached) / statistics.median(warm)
    per_request_queries = hour_queries / 10_000
    ours = cost_per_million(pct(warm, 0.99), per_request_queries)
    blog = cost_per_million(pct(uncached, 0.99), 1.0)
    p50 = statistics.median

    def p99(samples: list[float]) -> float:
        return pct(samples, 0.99)

    lines = [
        (
            f"warm handler, cached answer:     p50 {p50(warm) * ms:.4f} ms"
            f"  p99 {p99(warm) * ms:.4f} ms  ({WARM_CALLS} calls)"
        ),
        (
            f"warm handler, resolve each call: p50 {p50(uncached) * ms:.4f} ms"
            f"  p99 {p99(uncached) * ms:.4f} ms"
            f"  ({BASELINE_CALLS} calls, {uncached_queries} queries)"
        ),
        f"speed-up at p50:                 {ratio:.0f}x",
        (
            f"DNS queries per 10,000 invocations: {burst_queries} in one burst;"
            f" {hour_queries} spread over an hour (TTL {TTL} s); resolve each call: 10000"
        ),
        (
            "DNS down (queries dropped; timeout 0.2 s, retry 5 s, 2,000 calls over 100 s):"
            f" p50 {p50(outage) * ms:.4f} ms  p99 {p99(outage) * ms:.4f} ms"
            f"  max {max(outage) * ms:.1f} ms; {sum(t > 0.1 for t in outage)} calls waited on"
            f" the timeout; {down_served}/200 served the last good answer;"
            f" resolve each call: p50 {p50(blog_outage) * ms:.1f} ms, then fails"
            f" ({blog_served}/{len(blog_outage)} served)"
        ),
        (
            "DNS server stopped (port closed; 2,000 calls over 100 s):"
            f" p50 {p50(after_stop) * ms:.4f} ms  p99 {p99(after_stop) * ms:.4f} ms"
            f"  max {max(after_stop) * ms:.2f} ms, {stopped_served}/200 served the last good answer"
        ),
        (
            f"cold start: import edge_router.handler from the zip ({files} files):"
            f" {import_s * ms:.0f} ms over a bare interpreter"
        ),
        f"memory after 1,000 invocations: traced peak {traced_mb:.1f} MB, RSS {rss_mb:.1f} MB",
        (
            f"cost per million origin requests: ${ours:.4f} (requests $0.60 + 1 ms billed at"
            f" 128 MB + {per_request_queries * 1e6:.0f} Route 53 queries);"
            f" resolve each call: ${blog:.4f}; blog's estimate: up to ${BLOG_COST}"
        ),
        f"ran in {time.perf_counter() - started:.1f} s on Python {sys.version.split()[0]}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
