"""`python -m failover.sim`: run seeded simulations, print what they found, or the Markdown report."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from failover.sim.cluster import simulate_cluster
from failover.sim.mutants import MIXES, REPLICAS, mutant
from failover.sim.report import markdown, merge
from failover.sim.run import Result, simulate

REPORT_SEEDS = (1, 2, 3, 4)
REPORT_HOURS = 500.0


def _print_result(r: Result) -> None:
    out = sys.stdout
    out.write(r.summary() + "\n")
    for v in r.violations[:50]:
        out.write(f"  VIOLATION {v.invariant} at {v.at:.0f}s: {v.detail}\n")
    if r.violations:
        out.write(f"  replay: {r.replay}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m failover.sim", description=__doc__)
    parser.add_argument("--seed", type=int, action="append", help="seed (repeatable)")
    parser.add_argument("--hours", type=float, default=100.0, help="simulated hours per seed")
    parser.add_argument("--report", action="store_true", help="print the reliability section")
    parser.add_argument(
        "--replicas", type=int, default=0, help="cluster mode: this many replicas (0: one daemon)"
    )
    args = parser.parse_args(argv)
    if args.report:
        seeds = tuple(args.seed or REPORT_SEEDS)
        hours = args.hours if "--hours" in (argv or sys.argv) else REPORT_HOURS
        results = [simulate(s, hours) for s in seeds]
        caught: dict[str, Counter[str]] = {}
        for name, (kinds, mutant_hours) in MIXES.items():
            broken: Result
            with mutant(name):
                if name in REPLICAS:
                    broken = simulate_cluster(REPORT_SEEDS[0], mutant_hours, REPLICAS[name], kinds)
                else:
                    broken = simulate(REPORT_SEEDS[0], mutant_hours, kinds)
            caught[name] = Counter(v.invariant for v in broken.violations)
        sys.stdout.write(markdown(results, seeds, caught))
        return 1 if merge(results).violations else 0
    results = []
    for seed in args.seed or [1]:
        r = (
            simulate_cluster(seed, args.hours, args.replicas)
            if args.replicas
            else simulate(seed, args.hours)
        )
        _print_result(r)
        results.append(r)
    total = merge(results)
    found = Counter(v.invariant for v in total.violations)
    sys.stdout.write(
        f"total: {total.hours:g} hours, {total.rounds} rounds, {sum(total.faults.values())} faults, "
        f"{total.changes} changes, {len(total.violations)} violations {dict(found)}\n"
    )
    return 1 if total.violations else 0


if __name__ == "__main__":
    sys.exit(main())
