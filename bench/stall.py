"""Probing cadence and failover time of the real daemon while Route 53 or the overrides fail.

Run from the repository root: `python bench/stall.py` (about 100 s; `--inline` off: about 50 s).
Each case runs the real `Daemon` (its monotonic cadence, round thread and `Runner` with
`background=True`: Route 53 reads, writes and the overrides read on lanes of their own) for a
fixed window, with a scripted prober (no network: every canary answers at once, a failing one
with 503) and the project's strict Route 53 model (bench/r53count.py) wrapped with the fault of
the case. Timeline of a case: warm-up with everything healthy (records and overrides read), then
the dependency's fault starts, then a second later one origin's canary starts failing; the
window ends a fixed time after that. Printed per case: rounds per second, the lateness of each
round's start behind its tick of the grid (p50 / p99), ticks missed, the longest gap between
round starts, and fault -> Route 53 change (the moment the model accepted the batch that takes
the origin out), each against the healthy case of the same run. With `--inline` (the default),
the same cases run again with `Runner(background=False)` — every call completes inside its
round, as before the lanes — to show the stall they remove. The bench prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.r53count import CountingRoute53  # noqa: E402
from failover import daemon as daemon_module  # noqa: E402
from failover import logs  # noqa: E402
from failover.aws.route53 import Route53Store, _to_rrset  # noqa: E402
from failover.core.plan import target  # noqa: E402
from failover.daemon import Cadence, Daemon  # noqa: E402
from failover.model import (  # noqa: E402
    Config,
    DaemonSettings,
    HealthSettings,
    Origin,
    OriginKey,
    Outcome,
    Pool,
    ProbeResult,
)
from failover.overrides import FileStore, Overrides  # noqa: E402
from failover.round import Runner  # noqa: E402
from failover.sandbox.route53_client import client_error  # noqa: E402

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
FAILING = OriginKey("site-0", "eu-west-1")
SLOW_ROUTE53 = 2.0  # seconds every Route 53 call takes in the "slow" case
CASES = ("healthy", "route53 slow", "route53 throttling", "route53 hung", "overrides hung")


# -- the world ------------------------------------------------------------------------------
def build_config(
    pools: int, interval: float, timeout: float, resync: float, overrides: Path
) -> Config:
    health = HealthSettings(timeout=timeout, fall=3, rise=2, hold_down=30.0)
    made = []
    for i in range(pools):
        name = f"site-{i}"
        members = tuple(
            Origin(name, r, f"{name}-{r}", r, 100, "_failover/canary.json", health) for r in REGIONS
        )
        made.append(Pool(name, f"{name}.origin.example.com", "Z0001", 30, members))
    daemon = DaemonSettings(
        interval=interval, listen="", resync=resync, route53_rate=5.0, overrides=overrides.as_uri()
    )
    return Config(daemon, health, tuple(made))


class ScriptedProber:
    """Every canary answers at once: 206 with a fresh canary, or 503 for origins in `failing`."""

    def __init__(self) -> None:
        self.failing: set[OriginKey] = set()

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        out = {}
        for o in origins:
            if o.key in self.failing:
                out[o.key] = ProbeResult(o.key, Outcome.HTTP_5XX, 0.001, 503)
            else:
                out[o.key] = ProbeResult(o.key, Outcome.OK, 0.001, 206, age=1.0)
        return out

    def close(self) -> None:
        pass


class FaultyRoute53(CountingRoute53):
    """The strict model behind a switchable fault: none, slow, throttling every call, or hung."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "healthy"
        self.release = threading.Event()  # ends every hung call when the case is over
        self.calls: list[tuple[float, str, str]] = []  # (monotonic, operation, outcome)
        self.landed: list[tuple[float, list[dict[str, Any]]]] = []  # accepted change batches

    def _fault(self, op: str) -> None:
        mode = self.mode
        if mode == "slow":
            time.sleep(SLOW_ROUTE53)
        elif mode == "throttling":
            self.calls.append((time.monotonic(), op, "throttled"))
            raise client_error("Throttling", "Rate exceeded", op, 400)
        elif mode == "hung":
            self.calls.append((time.monotonic(), op, "hung"))
            self.release.wait()
            raise client_error("ServiceUnavailable", "the bench ended", op, 503)

    def list_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        self._fault("ListResourceRecordSets")
        out = super().list_resource_record_sets(**kw)
        self.calls.append((time.monotonic(), "ListResourceRecordSets", "ok"))
        return out

    def change_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        self._fault("ChangeResourceRecordSets")
        out = super().change_resource_record_sets(**kw)
        now = time.monotonic()
        self.calls.append((now, "ChangeResourceRecordSets", "ok"))
        self.landed.append((now, list(kw["ChangeBatch"]["Changes"])))
        return out


class HangingOverrides:
    """An overrides store that answers from a file until `hang` is set, then never answers."""

    def __init__(self, inner: FileStore) -> None:
        self.inner = inner
        self.location = inner.location
        self.hang = threading.Event()
        self.release = threading.Event()

    def load(self) -> Overrides:
        if self.hang.is_set():
            self.release.wait()
        return self.inner.load()

    def save(self, overrides: Any) -> None:
        self.inner.save(overrides)


def seed(config: Config) -> FaultyRoute53:
    fake = FaultyRoute53()
    fake.add_zone("Z0001", "origin.example.com")
    fake.seed(
        "Z0001",
        [_to_rrset(target(p, o.id, o.weight)) for p in config.pools for o in p.origins],
    )
    return fake


def removes(batch: list[dict[str, Any]], key: OriginKey) -> bool:
    """Whether a batch sets the origin's weighted set to weight 0."""
    return any(
        c["Action"] == "CREATE"
        and c["ResourceRecordSet"]["SetIdentifier"] == key.origin
        and c["ResourceRecordSet"]["Name"].startswith(key.pool + ".")
        and c["ResourceRecordSet"]["Weight"] == 0
        for c in batch
    )


# -- one case -------------------------------------------------------------------------------
@dataclass
class Figures:
    case: str
    background: bool
    starts: list[float] = field(default_factory=list)  # monotonic start of each round
    lateness: list[float] = field(default_factory=list)  # seconds behind its tick
    missed: int = 0
    window: float = 0.0
    end: float = 0.0  # monotonic end of the window
    fault_to_change: float | None = None
    note: str = ""


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


def run_case(case: str, background: bool, args: argparse.Namespace) -> Figures:
    tmp = Path(tempfile.mkdtemp(prefix="stall-"))
    config = build_config(args.pools, args.interval, args.timeout, args.resync, tmp / "ov.json")
    fake = seed(config)
    daemon = Daemon(config, lambda: config)
    daemon.prober.close()
    prober = ScriptedProber()
    overrides = HangingOverrides(FileStore(tmp / "ov.json"))
    runner = daemon.runner
    if not background:  # as before the lanes: every call completes inside its round
        runner = Runner(config, prober, runner.store, overrides, daemon.metrics, background=False)
        daemon.runner = runner
    daemon.prober = runner.prober = prober  # type: ignore[assignment]
    runner.overrides.store = overrides

    def pause(seconds: float) -> None:
        daemon.stop.wait(seconds)

    runner.store = Route53Store(
        fake,  # type: ignore[arg-type]  # boto3's shapes, duck-typed
        daemon.limiter,
        observer=daemon.metrics,
        sleep=pause,
        abort=daemon.stop.is_set,
    )

    # The round cadence is the first grid `Daemon.run` makes; a round starts on the tick
    # it was due at, the latest tick the grid has passed.
    grids: list[Cadence] = []

    class Grid(Cadence):
        def __init__(self, interval: float, now: float) -> None:
            super().__init__(interval, now)
            grids.append(self)

    f = Figures(case, background)
    real_round = runner.run_round

    def timed_round() -> Any:
        now = time.monotonic()
        f.starts.append(now)
        grid = grids[0]
        f.lateness.append(now - (grid.next - grid.interval))
        return real_round()

    runner.run_round = timed_round  # type: ignore[method-assign]
    daemon_module.Cadence = Grid  # type: ignore[misc]
    thread = threading.Thread(target=daemon.run, name="bench-daemon", daemon=True)
    try:
        thread.start()
        time.sleep(args.warmup)
        t_dep = time.monotonic()
        if case.startswith("route53 "):
            fake.mode = case.removeprefix("route53 ")
        elif case == "overrides hung":
            overrides.hang.set()
        missed0 = daemon.metrics.rounds_missed._value.get()
        time.sleep(args.lead)
        t_fault = time.monotonic()
        prober.failing.add(FAILING)
        time.sleep(args.after)
        t_end = time.monotonic()
        f.missed = int(daemon.metrics.rounds_missed._value.get() - missed0)
    finally:
        daemon.stop.set()
        fake.release.set()
        overrides.release.set()
        thread.join(timeout=10)
        daemon_module.Cadence = Cadence  # type: ignore[misc]
    keep = [i for i, s in enumerate(f.starts) if t_dep <= s < t_end]
    f.starts = [f.starts[i] for i in keep]
    f.lateness = [f.lateness[i] for i in keep]
    f.window, f.end = t_end - t_dep, t_end
    landed = [t for t, batch in fake.landed if t >= t_fault and removes(batch, FAILING)]
    if landed:
        f.fault_to_change = landed[0] - t_fault
    else:
        after = sum(1 for t in f.starts if t >= t_fault)
        f.note = explain(fake, t_fault, t_end) + f", {after} round(s) began after the fault"
    return f


def explain(fake: FaultyRoute53, t_fault: float, t_end: float) -> str:
    """Why no change landed: what Route 53 did with the calls made after the fault."""
    after = [(op, outcome) for t, op, outcome in fake.calls if t_fault <= t < t_end]
    writes = [o for op, o in after if op == "ChangeResourceRecordSets"]
    reads = [o for op, o in after if op == "ListResourceRecordSets"]
    if fake.mode == "throttling":
        return (
            f"no change: Route 53 unavailable ({len(writes)} writes and {len(reads)} reads "
            "throttled, retries ran out)"
        )
    if fake.mode == "hung":
        hung = [t for t, op, o in fake.calls if o == "hung" and op == "ChangeResourceRecordSets"]
        started = (
            f"write sent {hung[0] - t_fault:.1f} s after the fault, never answered"
            if hung
            else "no write sent"
        )
        return f"no change: Route 53 unavailable ({started})"
    return f"no change in {t_end - t_fault:.0f} s"


# -- the table ------------------------------------------------------------------------------
def rounds_per_s(f: Figures) -> float:
    return len(f.starts) / f.window if f.window else float("nan")


def max_gap(f: Figures) -> float:
    """The longest time without a round starting, up to the end of the window."""
    marks = [*f.starts, f.end]
    return max((b - a for a, b in itertools.pairwise(marks)), default=f.window)


def print_table(rows: list[Figures], args: argparse.Namespace) -> None:
    bound = 3 * args.interval + args.timeout + 1.0
    base = next((f for f in rows if f.case == "healthy"), None)
    mode = "background=True (the daemon)" if rows[0].background else "background=False (inline)"
    print(f"\nRunner {mode}; interval {args.interval} s -> {1 / args.interval:.1f} rounds/s")
    head = (
        f"{'case':<20} {'rounds/s':>8} {'x base':>7} {'late p50/p99 ms':>16} {'missed':>6} "
        f"{'max gap s':>9} {'fault->change s':>15} {'x base':>7}"
    )
    print(head)
    for f in rows:
        rps = rounds_per_s(f)
        ratio = rps / rounds_per_s(base) if base else float("nan")
        late = (
            f"{1000 * percentile(f.lateness, 0.5):.1f} / {1000 * percentile(f.lateness, 0.99):.1f}"
        )
        if f.fault_to_change is not None:
            change = f"{f.fault_to_change:.2f}"
            cr = (
                f"{f.fault_to_change / base.fault_to_change:.2f}"
                if base and base.fault_to_change
                else "-"
            )
        else:
            change, cr = "-", "-"
        print(
            f"{f.case:<20} {rps:8.2f} {ratio:7.2f} {late:>16} {f.missed:6d} {max_gap(f):9.2f} "
            f"{change:>15} {cr:>7}" + (f"  {f.note}" if f.note else "")
        )
    print(
        f"bound fall x interval + timeout + 1 s = {bound:.2f} s; "
        f"with one slow Route 53 round trip {bound + SLOW_ROUTE53:.2f} s"
    )
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=0.1, help="health timeout (for the bound)")
    parser.add_argument("--resync", type=float, default=2.0, help="seconds between Route 53 reads")
    parser.add_argument("--pools", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--lead", type=float, default=1.0, help="dependency fault -> canary fault")
    parser.add_argument("--after", type=float, default=6.0, help="window after the canary fault")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--no-inline", dest="inline", action="store_false")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logs.configure("json", "info", stream=open(os.devnull, "w"))  # noqa: SIM115
    cases = [c for c in args.cases.split(",") if c]
    started = time.monotonic()
    for background in (True, False) if args.inline else (True,):
        rows = [run_case(c, background, args) for c in cases]
        print_table(rows, args)
    print(f"\nbenchmark took {time.monotonic() - started:.0f} s on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
