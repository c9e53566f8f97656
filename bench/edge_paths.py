"""Fault -> the edge routes elsewhere: through the KeyValueStore (function) vs through DNS (TTL).

One sandbox, one `failover run` writing both sinks (pool sink "both"), and two request
streams side by side: edge_function/router.js under Node reading the store, and the
Lambda@Edge router resolving the TXT record through the sandbox's DNS with the record's
TTL as its cache bound. Each trial breaks one region (503, rotating), waits until both
streams avoid it (10 requests in a row, then the TTL again), and takes from the fault to
the last request each stream sent to it (0 when none did: the DNS router's cached answer
may name another region all along); then heals and waits for both to reach it again. Figures are the sandbox's (0.5 s rounds, a TTL of `--ttl`
seconds), printed side by side and as ratios to the store path; at the edge, CloudFront
adds the store's propagation (documented as seconds) and the DNS path adds the record's
real TTL (60 s by default) and Route 53's own propagation. Run from the repository root:
`python bench/edge_paths.py` (about a minute; needs Node.js).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from failover.sandbox import function_edge  # noqa: E402
from failover.sandbox.function_edge import FunctionStream  # noqa: E402
from failover.sandbox.kvs_server import KvsServer  # noqa: E402
from failover.sandbox.observe import DaemonProcess, EdgeStream, Hit, http_get  # noqa: E402
from failover.sandbox.sandbox_config import free_port  # noqa: E402
from failover.sandbox.world import REGIONS, Sandbox, Timings  # noqa: E402

Stream = EdgeStream | FunctionStream


def poll(check: Callable[[], bool], timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(0.02)
    return None


def avoids(stream: Stream, region: str, since: float) -> bool:
    hits: list[Hit] = stream.hits(since)
    return len(hits) >= 10 and all(h.region != region for h in hits[-10:])


def reaches(stream: Stream, region: str, since: float) -> bool:
    return any(h.region == region and h.status == "200" for h in stream.hits(since))


def ready(port: int) -> bool:
    try:
        return http_get(f"http://127.0.0.1:{port}/readyz", timeout=0.5)[0] == 200
    except OSError:
        return False


def last(stream: Stream, region: str, since: float) -> float:
    """Seconds from `since` to the last request the stream sent to `region` (0: none)."""
    to_dead = [h.at for h in stream.hits(since) if h.region == region]
    return max(to_dead) - since if to_dead else 0.0


def share(stream: Stream, region: str, since: float) -> float:
    """The part of the requests sent since the fault that still went to `region`."""
    hits = stream.hits(since)
    return sum(h.region == region for h in hits) / len(hits) if hits else 0.0


def both(
    one: Stream, other: Stream, region: str, since: float, timeout: float
) -> tuple[float | None, float | None]:
    """When each stream first avoided `region` (10 in a row), watched at the same time."""
    seen: list[float | None] = [None, None]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and None in seen:
        for i, stream in enumerate((one, other)):
            if seen[i] is None and avoids(stream, region, since):
                seen[i] = time.time()
        time.sleep(0.02)
    return seen[0], seen[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--ttl", type=int, default=2, help="the record's TTL in the sandbox (s)")
    args = ap.parse_args()
    if problem := function_edge.node_problem():
        print(problem, file=sys.stderr)
        return 2
    timings = Timings(ttl=args.ttl)
    patience = 30.0 + 2 * args.ttl
    with Sandbox(timings=timings) as sb:
        store = KvsServer(function_edge.ARN)
        function_edge.seed(store)
        port = free_port()
        kvs = {"arn": store.store.arn, "endpoint_url": store.endpoint_url, "proxy": store.proxy}
        config = sb.write_config(listen=f"127.0.0.1:{port}", kvs=kvs)
        daemon = DaemonProcess(config, sb.child_env(os.environ))
        function = FunctionStream(sb, store)
        dns = EdgeStream(sb, sb.edge_settings(max_ttl=float(args.ttl)))
        store_t: list[float] = []
        dns_t: list[float] = []
        store_share: list[float] = []
        dns_share: list[float] = []
        try:
            poll(lambda: ready(port), 20.0)
            for i in range(args.trials):
                region = REGIONS[i % len(REGIONS)]
                t0 = time.time()
                sb.break_bucket(region, "http_503")
                a, b = both(function, dns, region, t0, patience)
                if a is not None and b is not None:
                    time.sleep(args.ttl + 1.0)  # a late straggler would show after this
                    store_t.append(last(function, region, t0))
                    dns_t.append(last(dns, region, t0))
                    store_share.append(share(function, region, t0))
                    dns_share.append(share(dns, region, t0))
                t1 = time.time()
                sb.heal(region)
                poll(
                    lambda r=region, t=t1: reaches(function, r, t) and reaches(dns, r, t), patience
                )  # type: ignore[misc]
        finally:
            function.close()
            dns.close()
            daemon.stop()
            daemon.kill()
            store.close()
    if not store_t:
        print("no trial completed", file=sys.stderr)
        return 1
    s, d = statistics.mean(store_t), statistics.mean(dns_t)
    ss, ds = statistics.mean(store_share), statistics.mean(dns_share)
    print(f"fault -> last request to the dead region ({len(store_t)} trials of {args.trials}, 503,")
    print(f"sandbox: {timings.interval:g} s rounds, fall {timings.fall}, record TTL {args.ttl} s)")
    print(f"{'path':<38}{'mean s':>8}{'max s':>7}{'ratio':>7}{'to dead':>9}{'ratio':>7}")
    print(
        f"{'store: daemon -> KVS -> function':<38}{s:>8.2f}{max(store_t):>7.2f}{1.0:>7.2f}"
        f"{ss:>9.1%}{1.0:>7.2f}"
    )
    print(
        f"{'DNS: daemon -> Route 53 -> TTL -> L@E':<38}{d:>8.2f}{max(dns_t):>7.2f}"
        f"{d / s if s else float('inf'):>7.2f}{ds:>9.1%}{ds / ss if ss else float('inf'):>7.2f}"
    )
    print(
        "'to dead': the part of the requests sent after the fault (until both streams had "
        "avoided it\nfor 10 requests and a TTL) that went to the dead region. The Lambda@Edge "
        "router caches one\nanswer per TTL: most trials send nothing there, one sends "
        "everything for up to a TTL.\nAt the edge, the DNS path waits out the real TTL "
        f"(60 s by default): up to ~{s + 60:.0f} s against\n~{s:.1f} s plus the store's "
        "propagation, which cannot be measured offline."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
