"""A longer race than CI's: three replicas, many seeded episodes of leader SIGKILL, SIGSTOP and
a batch held on the wire past its sender's lease; Route 53's history audited at the end.

    python bench/cluster_race.py                   # 30 episodes, about 5 minutes
    python bench/cluster_race.py --episodes 60 --seed 7

Prints each episode (kind, Region, victim, its requests before the hit, fault → Route 53
change), then the audit (`failover/sandbox/race.py`): stale epochs, blind writes, lost
updates, flip-flops, convergence. Exits 1 on any problem, with the seed to replay.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from failover.sandbox.race import KINDS, Race, RaceError  # noqa: E402
from failover.sandbox.replicas import Replicas  # noqa: E402
from failover.sandbox.world import REGIONS, Sandbox, Timings  # noqa: E402

LEASE, MARGIN = 3.0, 1.0  # as the race test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(10**6))
    args = parser.parse_args()
    started = time.monotonic()
    problems: list[str] = []
    with Sandbox(timings=Timings()) as sb:
        # no damping across episodes: each starts from the same hold-down
        world = Replicas(sb, 3, lease=LEASE, margin=MARGIN, hold_down_max=Timings().hold_down)
        race = Race(world, args.seed, lease=LEASE)
        try:
            race.ready()
            for n in range(args.episodes):
                kind = race.rng.choice(KINDS)
                ep = race.play(kind)
                took = "-" if ep.took is None else f"{ep.took:5.2f} s"
                extra = f" held {ep.held} refused={ep.refused}" if kind == "inflight" else ""
                print(
                    f"{n + 1:3d} {kind:<8} {ep.region:<15} {ep.victim:<10} "
                    f"after {ep.after_requests:2d} requests  fault -> change {took}{extra}",
                    flush=True,
                )
            final = race.converge()
            if final != dict.fromkeys(REGIONS, 100):
                problems.append(f"ended at {final}")
        except RaceError as e:
            problems.append(str(e))
        finally:
            problems += race.audit()
            world.close()
    took = [e.took for e in race.episodes if e.took is not None]
    by = {k: sum(1 for e in race.episodes if e.kind == k) for k in KINDS}
    print(
        f"\n{len(race.episodes)} episodes ({', '.join(f'{k} {v}' for k, v in by.items())}) "
        f"in {time.monotonic() - started:.0f} s, seed {args.seed}, lease {LEASE:g} s"
    )
    if took:
        print(
            f"fault -> Route 53 change: median {statistics.median(took):.2f} s, max {max(took):.2f} s"
        )
    print(
        f"audit: {problems or 'clean: no stale epoch, no blind write, no lost update, no flip-flop'}"
    )
    if problems:
        print(f"replay: python bench/cluster_race.py --episodes {args.episodes} --seed {args.seed}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
