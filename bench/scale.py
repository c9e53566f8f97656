"""Benchmark the daemon at 100 to 10,000 origins: CPU, lateness, memory, Route 53 requests, /metrics.

Run from the repository root: `python bench/scale.py` (about 4-5 minutes, bounded), or
`python bench/scale.py --quick` (about 2-3 minutes). Every figure comes from the daemon's own
code: the real `Daemon` (its monotonic cadence, Runner, Prober, Route53Store, Metrics) probes a fast
canary server on loopback (bench/s3stub.py, reached through AWS_ENDPOINT_URL_S3) and writes
to an in-memory Route 53 that counts requests (bench/r53count.py). Each measurement runs in
a subprocess of its own, so peak RSS is that of one size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
POOLS_PER_ZONE = 1000  # 3,000 records: well under the default 10,000 per hosted zone
FAILING_REGION = "eu-west-1"


# -- the world ---------------------------------------------------------------------------
def build_config(origins: int, interval: float, overrides: Path, resync: float) -> Any:
    from failover.model import Config, DaemonSettings, HealthSettings, Origin, Pool

    health = HealthSettings(timeout=min(1.0, interval / 2), fall=3, rise=2, hold_down=30.0)
    pools = []
    for i in range(math.ceil(origins / len(REGIONS))):
        name = f"site-{i:05d}"
        members = tuple(
            Origin(name, r, f"{name}-{r}", r, 100, "_failover/canary.json", health) for r in REGIONS
        )
        zone = i // POOLS_PER_ZONE
        pools.append(Pool(name, f"{name}.origin.zone{zone}.example", f"Z{zone:04d}", 30, members))
    daemon = DaemonSettings(
        interval=interval,
        listen="",
        resync=resync,
        route53_rate=5.0,
        overrides=overrides.as_uri(),
    )
    return Config(daemon, health, tuple(pools))


def seed_route53(config: Any) -> Any:
    from bench.r53count import CountingRoute53
    from failover.aws.route53 import _to_rrset
    from failover.core.plan import target

    fake = CountingRoute53()
    zones: dict[str, list[Any]] = {}
    for pool in config.pools:
        if pool.zone_id not in zones:
            fake.add_zone(pool.zone_id, pool.record.split(".", 2)[-1])
        sets = zones.setdefault(pool.zone_id, [])
        sets += [_to_rrset(target(pool, o.id, o.weight)) for o in pool.origins]
    for zone_id, sets in zones.items():
        fake.seed(zone_id, sets)
    return fake


def stub_control(endpoint: str, method: str, path: str) -> None:
    req = urllib.request.Request(endpoint + path, method=method)  # noqa: S310 - loopback only
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        resp.read()


def quiet_logs() -> None:
    """Log as the daemon does (JSON lines), to /dev/null: their cost counts, their text does not."""
    from failover import logs

    logs.configure("json", "info", stream=open(os.devnull, "w"))  # noqa: SIM115


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def render(registry: Any, times: int = 3) -> tuple[float, int]:
    from prometheus_client import generate_latest

    best, size = float("inf"), 0
    for _ in range(times):
        started = time.perf_counter()
        size = len(generate_latest(registry))
        best = min(best, time.perf_counter() - started)
    return best, size


# -- child: the whole daemon on its schedule ----------------------------------------------
def child_daemon(args: argparse.Namespace) -> dict[str, Any]:
    """Run the real Daemon for `rounds` rounds; one region fails for the whole fleet midway."""
    from bench.variants import PROBERS, CounterMetrics
    from failover import daemon as daemon_module
    from failover.aws.route53 import Route53Store
    from failover.daemon import Cadence, Daemon
    from failover.metrics import Metrics

    quiet_logs()
    tmp = Path(tempfile.mkdtemp(prefix="scale-"))
    config = build_config(args.size, args.interval, tmp / "overrides.json", args.resync)
    fake = seed_route53(config)
    metrics = CounterMetrics() if args.metrics == "counter" else Metrics()
    daemon = Daemon(config, lambda: config, metrics=metrics)
    daemon.prober.close()
    daemon.prober = daemon.runner.prober = PROBERS[args.prober]()  # type: ignore[assignment]
    runner = daemon.runner

    def pause(seconds: float) -> None:
        daemon.stop.wait(seconds)

    runner.store = Route53Store(fake, daemon.limiter, observer=metrics, sleep=pause)
    scheduled: list[float] = []
    rounds: list[dict[str, Any]] = []
    fail_at = args.rounds // 3  # the region fails before this round; fall=3 takes it out
    real_round = runner.run_round
    # The round cadence is the first grid `Daemon.run` makes; a round starts on the latest
    # tick that grid has passed, so its lateness is its start minus that tick.
    grids: list[Cadence] = []

    class Grid(Cadence):
        def __init__(self, interval: float, now: float) -> None:
            super().__init__(interval, now)
            grids.append(self)

    def timed_round() -> Any:
        start = time.monotonic()
        scheduled.append(grids[0].next - grids[0].interval)
        n = len(rounds)
        if n == fail_at:
            stub_control(args.endpoint, "PUT", f"/_fail/-{FAILING_REGION}/")
        before = dict(fake.requests)
        cpu0, t0 = time.process_time(), time.perf_counter()
        report = real_round()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        delta = {k: v - before.get(k, 0) for k, v in fake.requests.items()}
        rounds.append(
            {
                "start": start,
                "wall": wall,
                "cpu": cpu,
                "reads": delta.get("ListResourceRecordSets", 0),
                "writes": delta.get("ChangeResourceRecordSets", 0),
                "applied": len(report.applied),
                "error": report.error,
            }
        )
        if len(rounds) >= args.rounds:
            daemon.stop.set()
        return report

    runner.run_round = timed_round  # type: ignore[method-assign]
    daemon_module.Cadence = Grid  # type: ignore[misc]
    limit = threading.Timer(args.rounds * args.interval * 3 + 60, daemon.stop.set)
    limit.daemon = True
    limit.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    daemon.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    limit.cancel()
    stub_control(args.endpoint, "DELETE", "/_fail")
    lateness = [1000 * (r["start"] - s) for r, s in zip(rounds, scheduled, strict=False)]
    probes = len(rounds) * len(config.all_origins())
    render_s, size = render(metrics.registry)
    steady = [r for i, r in enumerate(rounds) if i > 0 and r["applied"] == 0]
    mass = max(rounds, key=lambda r: r["applied"])
    return {
        "origins": len(config.all_origins()),
        "zones": len({p.zone_id for p in config.pools}),
        "interval": args.interval,
        "rounds": len(rounds),
        "missed": int(metrics.rounds_missed._value.get()),
        "errors": sum(1 for r in rounds if r["error"]),
        "round_p50": statistics.median(r["wall"] for r in rounds),
        "round_max": max(r["wall"] for r in rounds),
        "first_round_s": rounds[0]["wall"],
        "late_p50": percentile(lateness, 0.5),
        "late_p99": percentile(lateness, 0.99),
        "cpu_per_probe_ms": 1000 * cpu / probes,
        "cores": cpu / wall,
        "round_cpu_share": statistics.median(r["cpu"] for r in steady or rounds) / args.interval,
        "rss_mb": peak_rss_mb(),
        "first_reads": rounds[0]["reads"],
        "steady_requests": statistics.median(r["reads"] + r["writes"] for r in steady or rounds),
        "mass_writes": mass["writes"],
        "mass_applied": mass["applied"],
        "mass_round_s": mass["wall"],
        "metrics_s": render_s,
        "metrics_mb": size / 1e6,
    }


# -- child: probing alone, one prober variant ---------------------------------------------
def child_probe(args: argparse.Namespace) -> dict[str, Any]:
    """Probe every origin `rounds` times back to back; CPU and wall per round."""
    from bench.variants import PROBERS

    config = build_config(args.size, 1.0, Path("/nonexistent"), 60.0)
    origins = config.all_origins()
    prober = PROBERS[args.prober]()
    prober.probe_all(origins)  # warm: sign URLs, open connections
    walls, outcomes = [], set()
    cpu0 = time.process_time()
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        results = prober.probe_all(origins)
        walls.append(time.perf_counter() - t0)
        outcomes |= {r.outcome.value for r in results.values()}
    cpu = time.process_time() - cpu0
    prober.close()
    return {
        "origins": len(origins),
        "cpu_per_probe_ms": 1000 * cpu / (len(origins) * args.rounds),
        "round_p50": statistics.median(walls),
        "outcomes": sorted(outcomes),
        "rss_mb": peak_rss_mb(),
    }


# -- child: the metrics path alone ---------------------------------------------------------
def child_metrics(args: argparse.Namespace) -> dict[str, Any]:
    """Observe two rounds of probes into Metrics, then render /metrics as a scrape would."""
    from bench.variants import CounterMetrics
    from failover.metrics import Metrics
    from failover.model import Outcome, ProbeResult
    from failover.round import Runner

    config = build_config(args.size, 10.0, Path("/nonexistent"), 60.0)
    metrics = CounterMetrics() if args.metrics == "counter" else Metrics()
    runner = Runner(config, None, None, None, metrics)  # type: ignore[arg-type]
    metrics.watch(runner.snapshot)
    origins = config.all_origins()
    t0 = time.perf_counter()
    for outcome in (Outcome.OK, Outcome.HTTP_5XX):
        for o in origins:
            metrics.observe_probe(o.region, ProbeResult(o.key, outcome, 0.01, 200))
    observe = (time.perf_counter() - t0) / 2
    render_s, size = render(metrics.registry)
    return {
        "origins": len(origins),
        "observe_round_ms": 1000 * observe,
        "metrics_s": render_s,
        "metrics_mb": size / 1e6,
        "rss_mb": peak_rss_mb(),
    }


CHILDREN = {"daemon": child_daemon, "probe": child_probe, "metrics": child_metrics}


# -- parent ---------------------------------------------------------------------------------
def run_child(endpoint: str, **kw: Any) -> dict[str, Any]:
    argv = [sys.executable, str(Path(__file__).resolve()), "--endpoint", endpoint]
    for k, v in kw.items():
        argv += [f"--{k}", str(v)]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing else may leave loopback
    }
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {kw} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def start_stub(delay: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "s3stub.py"), "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def table(title: str, rows: list[dict[str, Any]], cols: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    print("  ".join(f"{h:>{max(len(h), 9)}}" for h, _, _ in cols))
    for r in rows:
        cells = []
        for h, key, fmt in cols:
            v = r.get(key, "")
            cells.append(f"{format(v, fmt) if fmt else v!s:>{max(len(h), 9)}}")
        print("  ".join(cells))
    sys.stdout.flush()


def parent(args: argparse.Namespace) -> None:
    quick = args.quick
    sizes = [int(s) for s in args.sizes.split(",")]
    stub, endpoint = start_stub(0.0)
    slow, slow_endpoint = start_stub(0.05)
    try:
        print(f"{os.cpu_count()} cores; canary server {endpoint} (and {slow_endpoint}, +50 ms)")
        n = 1000
        rows = []
        for variant, label in (
            ("boto3", "boto3 get_object per probe"),
            ("resign", "presign every probe, keep-alive"),
            ("newconn", "cached URL, new connection per probe"),
            ("smallpool", "cached URL, 32 threads, pool keeps 4"),
            ("threads", "cached URL, 32 threads, pool keeps 32"),
            ("current", "prebuilt request, event loop"),
        ):
            r = run_child(endpoint, child="probe", size=n, prober=variant, rounds=3 if quick else 6)
            rows.append({"variant": label, **r})
        table(
            f"Probing {n} origins back to back (before → after, one change at a time)",
            rows,
            [
                ("variant", "variant", ""),
                ("CPU/probe ms", "cpu_per_probe_ms", ".3f"),
                ("round s", "round_p50", ".3f"),
                ("outcomes", "outcomes", ""),
            ],
        )
        rows = []
        for variant, label in (
            ("smallpool", "32 threads (as first written)"),
            ("threads128", "128 threads"),
            ("current", "event loop, 512 in flight"),
        ):
            r = run_child(slow_endpoint, child="probe", size=n, prober=variant, rounds=2)
            rows.append({"variant": label, **r})
        table(
            f"Probing {n} origins whose endpoint answers in 50 ms (a far region)",
            rows,
            [
                ("variant", "variant", ""),
                ("CPU/probe ms", "cpu_per_probe_ms", ".3f"),
                ("round s", "round_p50", ".3f"),
            ],
        )
        rows = []
        for variant in ("counter", "collector"):
            r = run_child(endpoint, child="metrics", size=max(sizes), metrics=variant)
            rows.append({"variant": variant, **r})
        table(
            f"Probe counts at {max(sizes)} origins: per-origin Counter vs collector at scrape",
            rows,
            [
                ("variant", "variant", ""),
                ("observe/round ms", "observe_round_ms", ".1f"),
                ("/metrics s", "metrics_s", ".3f"),
                ("/metrics MB", "metrics_mb", ".2f"),
                ("RSS MB", "rss_mb", ".0f"),
            ],
        )
        rows = []
        for size in sizes:
            interval = 1.0 if size <= 1000 else 10.0
            rounds = (8 if quick else 15) if interval == 1.0 else (4 if quick else 6)
            for prober, metrics in args.daemon_variants:
                if (prober, metrics) != args.daemon_variants[-1] and size not in (1000, 10000):
                    continue
                r = run_child(
                    endpoint,
                    child="daemon",
                    size=size,
                    interval=interval,
                    rounds=rounds,
                    prober=prober,
                    metrics=metrics,
                    resync=args.resync,
                )
                rows.append({"variant": f"{prober}/{metrics}", **r})
        table(
            "The daemon on its schedule (one region of every pool fails a third of the way in)",
            rows,
            [
                ("origins", "origins", ""),
                ("variant", "variant", ""),
                ("interval", "interval", ".0f"),
                ("rounds", "rounds", ""),
                ("missed", "missed", ""),
                ("round p50 s", "round_p50", ".3f"),
                ("late p50 ms", "late_p50", ".1f"),
                ("late p99 ms", "late_p99", ".1f"),
                ("CPU/probe ms", "cpu_per_probe_ms", ".3f"),
                ("cores", "cores", ".2f"),
                ("peak RSS MB", "rss_mb", ".0f"),
                ("/metrics s", "metrics_s", ".3f"),
                ("/metrics MB", "metrics_mb", ".2f"),
            ],
        )
        table(
            "Route 53 requests (zones of 1,000 pools; rate limit 5/s shared)",
            rows,
            [
                ("origins", "origins", ""),
                ("variant", "variant", ""),
                ("zones", "zones", ""),
                ("first-round reads", "first_reads", ""),
                ("first round s", "first_round_s", ".2f"),
                ("steady req/round", "steady_requests", ".0f"),
                ("mass-event changes", "mass_applied", ""),
                ("mass-event writes", "mass_writes", ""),
                ("mass round s", "mass_round_s", ".2f"),
            ],
        )
    finally:
        for proc in (stub, slow):
            proc.terminate()
            proc.wait(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (about 2-3 minutes)")
    parser.add_argument("--sizes", default="100,1000,5000,10000")
    parser.add_argument("--resync", type=float, default=60.0)
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--endpoint", default="")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--prober", default="current")
    parser.add_argument("--metrics", default="collector")
    args = parser.parse_args()
    args.daemon_variants = [("smallpool", "counter"), ("current", "collector")]
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
    else:
        parent(args)


if __name__ == "__main__":
    main()
