"""Long fault simulation: 10,000 simulated hours and more, split over seeds and processes.

    python bench/simulate.py                      # 10,000 hours over 20 seeds
    python bench/simulate.py --hours 50000 --seeds 100 --jobs 2 --markdown
    python bench/simulate.py --replicas 3 --hours 300 --seeds 6   # cluster mode

Prints, per seed and in total, the simulated hours, rounds, faults injected by kind,
changes written and violations found (with the replay command of any failing seed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from failover.sim.cluster import ClusterResult, simulate_cluster
from failover.sim.report import markdown, merge
from failover.sim.run import Result, simulate


def _run(args: tuple[int, float, int]) -> Result:
    seed, hours, replicas = args
    return simulate_cluster(seed, hours, replicas) if replicas else simulate(seed, hours)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=10_000.0, help="simulated hours in all")
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds to split them over")
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--markdown", action="store_true", help="print the reliability table too")
    parser.add_argument(
        "--replicas", type=int, default=0, help="cluster mode: this many replicas (0: one daemon)"
    )
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    per_seed = args.hours / args.seeds
    results = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for r in pool.map(_run, [(s, per_seed, args.replicas) for s in seeds]):
            results.append(r)
            print(r.summary(), flush=True)
            for v in r.violations[:10]:
                print(f"  VIOLATION {v.invariant} at {v.at:.0f}s: {v.detail}")
            if r.violations:
                print(f"  replay: {r.replay}")
    total = merge(results)
    kinds = Counter(v.invariant for v in total.violations)
    print(
        f"TOTAL: {total.hours:g} simulated hours, {total.rounds:,} rounds, "
        f"{sum(total.faults.values()):,} faults injected {dict(sorted(total.faults.items()))}, "
        f"{total.changes:,} changes written, {len(total.violations)} violations {dict(kinds)}, "
        f"{len(total.late_logs)} late logs, "
        f"longest failover {total.failover_max:.0f}s, {total.seconds:.0f} CPU-seconds"
    )
    clustered = [r for r in results if isinstance(r, ClusterResult)]
    if clustered:
        print(
            f"CLUSTER: {args.replicas} replicas, {total.missed:,} rounds missed, "
            f"{sum(r.takeovers for r in clustered):,} lease takeovers, "
            f"{sum(r.paused_sends for r in clustered):,} batches sent by a resumed leader, "
            f"{sum(r.fenced for r in clustered):,} refused on the fence, "
            f"{sum(r.stale_landed for r in clustered):,} of an old epoch landed before the "
            "new leader wrote their zone"
        )
    if args.markdown and not clustered:
        print(markdown(results, seeds))
    return 1 if total.violations else 0


if __name__ == "__main__":
    sys.exit(main())
