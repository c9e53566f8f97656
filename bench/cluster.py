"""Cluster mode on the sandbox: three `failover run` replicas against a lone daemon, same run.

    python bench/cluster.py                       # about 5 minutes
    python bench/cluster.py --trials 3 --kills 2 --partial-rounds 60   # a quick look

(a) fault → Route 53 change, three replicas, against the bound fall x interval + timeout
    + one interval (views travel a round) + 1 s, and against a lone daemon measured first
    on the same sandbox with the same faults (the baseline);
(b) the leader SIGKILLed and a Region failed at the same instant → the failover lands,
    against the lease + that bound;
(c) a partial view: the leader's own path to two Regions cut → Route 53 changes over the
    rounds of 10 minutes at the default interval (2 s), played at the sandbox's interval;
    the lone daemon with the same cut, as the baseline.

Times are read from Route 53's own history (when moto applied the batch, on this
process's monotonic clock), from the instant the fault was switched on. Run from the
repository root; it exits 1 if a figure misses its bound or a partial view moved anything.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from failover.model import DaemonSettings  # noqa: E402
from failover.sandbox import ledger  # noqa: E402
from failover.sandbox.observe import DaemonProcess, wait_until  # noqa: E402
from failover.sandbox.race import Race  # noqa: E402
from failover.sandbox.replicas import Replicas  # noqa: E402
from failover.sandbox.sandbox_config import free_port  # noqa: E402
from failover.sandbox.world import REGIONS, Sandbox, Timings  # noqa: E402

LEASE, MARGIN = 4.0, 1.0  # as `failover demo --replicas 3`
KINDS = ("http_503", "reset", "hang")
PATIENCE = 30.0


def changes_since(sb: Sandbox, since: float) -> list[ledger.Move]:
    return ledger.moves(ledger.history(sb.zone_id, since), sb.record)


def landed(sb: Sandbox, region: str, weight: int, since: float) -> float | None:
    for m in changes_since(sb, since):
        if m.origin == region and m.new == weight:
            return m.at - since
    return None


def all_up(sb: Sandbox) -> bool:
    return sb.records() == dict.fromkeys(REGIONS, 100)


def lone_trials(sb: Sandbox, trials: int, timings: Timings) -> tuple[list[float], float | None]:
    """The baseline: one daemon, the same faults; then its path to two Regions cut."""
    port = free_port()
    config = sb.write_config(listen=f"127.0.0.1:{port}", hold_down_max=timings.hold_down)
    daemon = DaemonProcess(config, sb.child_env(os.environ))
    took: list[float] = []
    try:
        wait_until(lambda: len(daemon.events(0, "origin_marked_up")) >= len(REGIONS), PATIENCE)
        for i in range(trials):
            region, kind = REGIONS[i % len(REGIONS)], KINDS[i % len(KINDS)]
            t0 = time.monotonic()
            sb.break_bucket(region, kind)
            if wait_until(lambda r=region: sb.records().get(r) == 0, PATIENCE):
                took.append(landed(sb, region, 0, t0) or float("nan"))
            sb.heal()
            wait_until(lambda: all_up(sb), PATIENCE)
        eu, us, _ = REGIONS
        t0 = time.monotonic()
        sb.break_all("reset", regions=(eu, us))
        moved = wait_until(lambda: bool(changes_since(sb, t0)), PATIENCE)
        first = changes_since(sb, t0)[0].at - t0 if moved else None
        sb.heal()
        wait_until(lambda: all_up(sb), PATIENCE)
        return took, first
    finally:
        daemon.stop()
        daemon.kill()


def cluster_faults(race: Race, trials: int) -> list[float]:
    world, sb = race.world, race.sb
    took: list[float] = []
    for i in range(trials):
        region, kind = REGIONS[i % len(REGIONS)], KINDS[i % len(KINDS)]
        t0 = time.monotonic()
        world.break_region(region, kind)
        if wait_until(lambda r=region: sb.records().get(r) == 0, PATIENCE):
            took.append(landed(sb, region, 0, t0) or float("nan"))
        race.heal_region(region)
        wait_until(lambda: all_up(sb), PATIENCE)
    return took


def cluster_kills(race: Race, kills: int) -> list[tuple[float, str, str]]:
    """(fault → change, killed, new leader) for each leader SIGKILLed with a Region failing."""
    world, sb = race.world, race.sb
    out: list[tuple[float, str, str]] = []
    for i in range(kills):
        lead = race.leader()
        d = world.daemons[lead] if lead is not None else None
        if lead is None or d is None:
            continue
        region = REGIONS[(i + 1) % len(REGIONS)]
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGKILL)
        world.break_region(region, "http_503")
        if wait_until(lambda r=region: sb.records().get(r) == 0, LEASE + PATIENCE):
            new = race.leader()
            out.append(
                (
                    landed(sb, region, 0, t0) or float("nan"),
                    world.names[lead],
                    "?" if new is None else world.names[new],
                )
            )
        race.heal_region(region)
        wait_until(lambda: all_up(sb), PATIENCE)
        d.kill()
        race.start(lead)  # back under its name, for the next trial
        wait_until(race.all_live, 2 * PATIENCE)
    return out


def cluster_partial(race: Race, rounds: int, interval: float) -> tuple[int, int, list[str]]:
    """The leader's path to two Regions cut for `rounds` rounds: (changes, rounds seen, down)."""
    world, sb = race.world, race.sb
    lead = race.leader()
    if lead is None:
        return -1, 0, []
    name = world.names[lead]
    eu, us, _ = REGIONS
    world.break_path(lead, eu, "reset")
    world.break_path(lead, us, "reset")
    t0 = time.monotonic()

    def seq() -> int:
        for i in range(world.n):
            view = (race.cluster(i).get("views") or {}).get(name) or {}
            if "seq" in view:
                return int(view["seq"])
        return 0

    start = seq()
    wait_until(lambda: seq() >= start + rounds, rounds * interval * 3 + PATIENCE)
    seen = seq() - start
    down = sorted(((race.cluster(lead).get("views") or {}).get(name) or {}).get("down") or [])
    changes = len(changes_since(sb, t0))
    world.heal()
    return changes, seen, down


def cell(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"median {statistics.median(xs):5.2f}  max {max(xs):5.2f}  (n={len(xs)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6, help="faults per figure in (a)")
    parser.add_argument("--kills", type=int, default=4, help="leaders killed in (b)")
    parser.add_argument(
        "--partial-rounds",
        type=int,
        default=int(600 / DaemonSettings().interval),
        help="rounds of the partial view in (c); default: 10 minutes at the default interval",
    )
    args = parser.parse_args()
    timings = Timings()
    bound = timings.bound() + timings.interval
    started = time.monotonic()
    with Sandbox(timings=timings) as sb:
        ledger.watch(sb.zone_id)
        lone, lone_partial = lone_trials(sb, args.trials, timings)
        world = Replicas(sb, 3, lease=LEASE, margin=MARGIN, hold_down_max=timings.hold_down)
        race = Race(world, 0, lease=LEASE, patience=PATIENCE)
        try:
            race.ready()
            faults = cluster_faults(race, args.trials)
            kills = cluster_kills(race, args.kills)
            partial_started = time.monotonic()
            changes, seen, down = cluster_partial(race, args.partial_rounds, timings.interval)
            partial_took = time.monotonic() - partial_started
            problems = race.audit()
        finally:
            world.close()
    took = time.monotonic() - started
    t = timings
    print(
        f"\ncluster mode on the sandbox: 3 replicas, quorum 2, lease {LEASE:g} s (margin "
        f"{MARGIN:g} s); interval {t.interval} s, timeout {t.timeout} s, fall {t.fall}, "
        f"rise {t.rise}; faults {', '.join(KINDS)} in turn; seconds from the fault to the "
        "batch Route 53 applied\n"
    )
    print(f"(a) fault -> Route 53 change, lone daemon (baseline): {cell(lone)}")
    print(f"    fault -> Route 53 change, 3 replicas:            {cell(faults)}")
    ratio = statistics.median(faults) / statistics.median(lone) if faults and lone else None
    print(
        f"    bound fall x interval + timeout + interval + 1 s = {bound:.2f} s; "
        f"3 replicas / lone (median): {ratio:.2f}x"
        if ratio is not None
        else "    no figure"
    )
    kill_times = [k[0] for k in kills]
    print(f"(b) leader SIGKILLed + a Region down -> change:    {cell(kill_times)}")
    for k in kills:
        print(f"      {k[1]} killed -> {k[2]} leads; the failover landed after {k[0]:.2f} s")
    kb = LEASE + bound
    over_a = statistics.median(kill_times) / statistics.median(faults) if kills and faults else 0
    print(
        f"    bound lease + {bound:.2f} s = {kb:.2f} s; against (a): {over_a:.2f}x the median "
        "(the lease is the cost of a dead leader)"
    )
    minutes = seen * DaemonSettings().interval / 60
    print(
        f"(c) the leader's path to {REGIONS[0]} and {REGIONS[1]} cut (its view: {down}): "
        f"{changes} Route 53 changes in {seen} rounds = {minutes:.1f} minutes at the default "
        f"interval ({DaemonSettings().interval:g} s), played in {partial_took:.0f} s at "
        f"{t.interval} s"
    )
    print(
        "    the lone daemon with the same cut: "
        + (
            f"moved traffic after {lone_partial:.2f} s"
            if lone_partial is not None
            else "moved nothing"
        )
    )
    print(
        f"audit of Route 53's history (epochs, fence, blind writes, flip-flops): {problems or 'clean'}"
    )
    print(f"benchmark took {took:.0f} s")
    bad = [x for x in faults if not x <= bound] + [x for x in kill_times if not x <= kb]
    if (
        bad
        or changes != 0
        or len(down) != 2
        or problems
        or len(faults) < args.trials
        or len(kills) < args.kills
    ):
        print(f"MISSED: over the bound {bad}; partial-view changes {changes}; {problems}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
