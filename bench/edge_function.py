"""Benchmark the CloudFront Functions router against the Lambda@Edge router and the blog's function.

Run from the repository root: `python bench/edge_function.py` (about 10-20 s; needs node and
`npm ci` in edge_function/). Two parts:

1. Time per request, relative only. router.js (the shipped file) and the blog's function run
   under Node, the Lambda@Edge router (edge_router/) under CPython, all on this machine and in
   this run. Node is not CloudFront's runtime and this machine is not an edge server, so only
   the ratios mean anything; CloudFront's compute utilisation has to be read from the
   function's test API in an AWS account (docs/edge-function.md).
2. The routers' own cost per million viewer requests at 0%, 50%, 90% and 99% cache hits,
   from AWS's list prices below. The CloudFront request and data transfer fees, the same
   whichever router runs, are left out.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_router.handler import Router  # noqa: E402
from edge_router.resolver import dns_query  # noqa: E402
from edge_router.settings import Settings  # noqa: E402
from failover.sandbox.dns import DnsResponder, StaticZone, WeightedAnswer  # noqa: E402

NAME = "origin.example.com"
EU = "www-eu-west-1.s3.eu-west-1.amazonaws.com"
CALLS = 20_000
LAMBDA_CALLS = 5_000
HIT_RATIOS = (0.0, 0.5, 0.9, 0.99)

# List prices (USD, us-east-1 / global), as AWS's pricing pages gave them in 2025; read again
# for this script on 2026-11-30 from stored copies of those pages.
# - CloudFront Functions: "$0.10 per 1 million invocations" (CloudFront pricing), every viewer
#   request of the behaviour, hit or miss.
# - CloudFront KeyValueStore: $0.03 per 1 million reads from functions (CloudFront pricing);
#   the stored copies available here did not show that row: unconfirmed. Writes (the daemon's
#   PutKey, a few per failover) are priced per API call and are left out.
# - Lambda@Edge: "$0.60 per 1M requests" and "$0.00005001 for every GB-second", billed per
#   1 ms (Lambda pricing), on origin requests only: cache misses.
# - Route 53: $0.40 per million standard queries.
FUNCTION_PRICE = 0.10 / 1e6
KVS_READ_PRICE = 0.03 / 1e6
EDGE_REQUEST_PRICE = 0.60 / 1e6
GB_SECOND_PRICE = 0.00005001
EDGE_MEMORY_GB = 128 / 1024
QUERY_PRICE = 0.40 / 1e6
# The blog post's own figure per million origin requests: "$0.91 (request + compute costs)"
# for up to 50 ms at 128 MB, plus "$0.40" of Route 53 queries at TTL 0: "$1.31".
BLOG_PER_MILLION_MISSES = 1.31
# The Lambda@Edge router answers from its cache (bench/edge_router.py: about 0.05 ms a call,
# billed as the 1 ms minimum) and queries Route 53 about once per TTL per warm instance;
# per request that is taken as nil here.
EDGE_BILLED_SECONDS = 0.001


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def node_figures(dns_port: int) -> dict[str, Any]:
    """router.js and the blog's function timed under Node (nanoseconds per call)."""
    result = subprocess.run(
        [
            "node",
            "--import",
            "./edge_function/test/register.mjs",
            "bench/edge_function_time.mjs",
            str(CALLS),
            str(dns_port),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"node failed ({result.returncode}): {result.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def lambda_edge_seconds(port: int) -> list[float]:
    """Seconds per call of the Lambda@Edge router, warm, answering from its cache."""
    config = Settings(
        nameservers=(("127.0.0.1", port),),
        timeout=0.2,
        min_ttl=1.0,
        max_ttl=300.0,
        stale=3600.0,
        retry=5.0,
        allowed_buckets=("www-*",),
    )
    router = Router(config, query=dns_query(config), clock=time.monotonic, log=lambda *a, **k: None)
    s3 = {
        "authMethod": "origin-access-identity",
        "customHeaders": {"x-dns-origin": [{"key": "X-DNS-ORIGIN", "value": NAME}]},
        "domainName": "www-primary.s3.eu-central-1.amazonaws.com",
        "path": "",
        "region": "eu-central-1",
    }

    def request() -> dict[str, Any]:
        return {"headers": {}, "method": "GET", "uri": "/", "origin": {"s3": dict(s3)}}

    for _ in range(2000):
        router.route(request())
    out: list[float] = []
    for _ in range(LAMBDA_CALLS):
        r = request()
        started = time.perf_counter()
        router.route(r)
        out.append(time.perf_counter() - started)
    return out


def cost_per_million(hit: float) -> dict[str, float]:
    """Each router's own cost per million viewer requests at cache-hit ratio `hit`."""
    miss = 1.0 - hit
    edge = EDGE_REQUEST_PRICE + EDGE_BILLED_SECONDS * EDGE_MEMORY_GB * GB_SECOND_PRICE
    return {
        "function": (FUNCTION_PRICE + KVS_READ_PRICE) * 1e6,
        "lambda_edge": edge * miss * 1e6,
        "blog": BLOG_PER_MILLION_MISSES * miss,
    }


def main() -> int:
    started = time.perf_counter()
    zone = StaticZone({NAME: [WeightedAnswer.of(100, 60, EU)]})
    with DnsResponder(zone) as dns:
        node = node_figures(dns.port)
        edge_s = lambda_edge_seconds(dns.port)

    us = 1e-3  # ns -> µs
    p50 = statistics.median
    three, many, missing, blog = (node[k] for k in ("three", "twentyfive", "missing", "blog"))
    # router.js's timings include the shim's own small bookkeeping (recording each origin
    # call), which CloudFront does not do.
    edge_us = [s * 1e6 for s in edge_s]
    lines = [
        f"time per request (relative only; Node {node['node']}, CPython {sys.version.split()[0]}):",
        (
            f"  router.js, 3-origin pool:   p50 {p50(three) * us:.2f} µs  p99"
            f" {pct(three, 0.99) * us:.2f} µs  ({CALLS} calls)"
        ),
        (
            f"  router.js, 25-origin pool:  p50 {p50(many) * us:.2f} µs  p99"
            f" {pct(many, 0.99) * us:.2f} µs"
        ),
        (
            f"  router.js, no key:          p50 {p50(missing) * us:.2f} µs  p99"
            f" {pct(missing, 0.99) * us:.2f} µs"
        ),
        (
            f"  empty async handler (floor): p50 {p50(node['empty']) * us:.2f} µs  p99"
            f" {pct(node['empty'], 0.99) * us:.2f} µs"
        ),
        (
            f"  Lambda@Edge router, cached: p50 {p50(edge_us):.2f} µs  p99"
            f" {pct(edge_us, 0.99):.2f} µs  ({LAMBDA_CALLS} calls)"
        ),
        (
            f"  blog's function, DNS each:  p50 {p50(blog) * us:.2f} µs  p99"
            f" {pct(blog, 0.99) * us:.2f} µs  ({len(blog)} calls, loopback DNS)"
        ),
        (
            f"  ratios at p50: Lambda@Edge router / router.js {p50(edge_us) / (p50(three) * us):.1f}x;"
            f" blog's function / router.js {p50(blog) / p50(three):.0f}x;"
            f" 25-origin / 3-origin pool {p50(many) / p50(three):.2f}x"
        ),
        "routers' own cost per million viewer requests (USD):",
        "  cache hits   function+KVS   Lambda@Edge router   blog's function",
    ]
    for hit in HIT_RATIOS:
        c = cost_per_million(hit)
        lines.append(
            f"  {hit * 100:>9.0f}%   {c['function']:>12.4f}   {c['lambda_edge']:>18.4f}"
            f"   {c['blog']:>15.4f}"
        )
    edge_miss = cost_per_million(0.0)["lambda_edge"]
    even = 1 - cost_per_million(0.0)["function"] / edge_miss
    lines.append(f"  break-even: the function costs less below {even * 100:.1f}% cache hits")
    lines.append(f"ran in {time.perf_counter() - started:.1f} s")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
