"""`failover demo --replicas N`: N real daemons in cluster mode on the sandbox, through faults.

One replica's path to two Regions cut (no change); a Region down for all (failover);
the leader killed with SIGKILL (another takes over and the next failover lands); the
table unreachable for all (nothing written), then back (the write lands). Each step's
expectation is checked against Route 53's records read back; exit 0 only if all held.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from failover.sandbox.observe import wait_until
from failover.sandbox.replicas import Replicas
from failover.sandbox.timeline import Timeline
from failover.sandbox.world import REGIONS, Sandbox, Timings

LEASE, MARGIN = 4.0, 1.0


def _timed(check: Callable[[], bool], timeout: float) -> float | None:
    started = time.monotonic()
    return round(time.monotonic() - started, 2) if wait_until(check, timeout) else None


def play(world: Replicas, tl: Timeline, timings: Timings) -> None:
    sb = world.sandbox
    # fall x interval + timeout + one interval (views travel a round) + 1 s: bound() has the 1 s
    bound = timings.bound() + timings.interval
    eu, us, ap = REGIONS
    all_up = dict.fromkeys(REGIONS, 100)

    tl.head(f"{world.n} replicas start; one takes the lease")
    for i in range(world.n):
        world.start(i)
    ok = wait_until(
        lambda: (
            (lead := world.leader()) is not None
            and ((world.status(lead) or {}).get("cluster") or {}).get("live") == world.n
        ),
        30.0,
    )
    if not tl.expect(ok, f"one leader, {world.n} live views"):
        return
    tl.say(f"leader: {world.names[world.leader() or 0]}")

    tl.head(f"{world.names[0]}'s path to {eu} and {us} cut: its view alone says them down")
    world.break_path(0, eu, "reset")
    world.break_path(0, us, "reset")
    time.sleep(8 * timings.interval)  # the demo watches the world: it waits as a person would
    tl.expect(sb.records() == all_up, "no change: one replica's partial view moves nothing")
    world.heal()

    tl.head(f"{eu} down for every replica")
    world.break_region(eu, "http_503")
    took = _timed(lambda: sb.records().get(eu) == 0, 4 * bound)
    tl.expect(took is not None and took <= bound, f"failover within {bound:.1f} s: {took}")
    world.heal()
    tl.expect(wait_until(lambda: sb.records() == all_up, 30.0), f"{eu} back")

    lead = world.leader()
    if not tl.expect(lead is not None, "a leader"):
        return
    assert lead is not None  # noqa: S101 - checked just above
    tl.head(f"the leader {world.names[lead]} killed with SIGKILL; then {us} down for all")
    daemon = world.daemons[lead]
    assert daemon is not None  # noqa: S101 - the leader runs
    daemon.proc.kill()
    world.break_region(us, "http_503")
    took = _timed(lambda: sb.records().get(us) == 0, 4 * (LEASE + bound))
    limit = LEASE + bound
    tl.expect(
        took is not None and took <= limit,
        f"failover within the lease + bound ({limit:.1f} s): {took}",
    )
    tl.say(f"new leader: {world.names[world.leader() or 0]}")
    world.heal()
    tl.expect(wait_until(lambda: sb.records() == all_up, 30.0), f"{us} back")

    tl.head(f"the table unreachable for every replica; then {ap} down for all")
    for i in range(world.n):
        world.break_table(i)
    time.sleep(LEASE + 1.0)
    tl.expect(world.leader() is None, "no replica leads past its lease deadline")
    world.break_region(ap, "http_503")
    time.sleep(LEASE)
    tl.expect(sb.records() == all_up, "nothing written while the table is unreachable")
    for p in world.paths:
        p.heal("dynamodb")
    took = _timed(lambda: sb.records().get(ap) == 0, 4 * (LEASE + bound))
    tl.expect(took is not None, f"the table back: the failover lands ({took})")
    world.heal()

    wait_until(lambda: world.leader() is not None, 10.0)
    lead = world.leader()
    if not tl.expect(lead is not None, "a leader"):
        return
    assert lead is not None  # noqa: S101 - checked just above
    tl.head(f"the leader {world.names[lead]} stopped with SIGTERM: it releases the lease")
    daemon = world.daemons[lead]
    assert daemon is not None  # noqa: S101 - the leader runs
    tl.expect(daemon.stop() == 0, f"{world.names[lead]} stopped cleanly on SIGTERM")
    took = _timed(lambda: world.leader() not in (None, lead), LEASE)
    tl.expect(
        took is not None, f"another replica leads at once, without waiting the lease ({took})"
    )


def run(*, replicas: int = 3, out: TextIO = sys.stdout, timings: Timings | None = None) -> int:
    """Run the cluster scenario; 0 if every expectation held."""
    timings = timings or Timings()
    tl = Timeline(out)
    sb = Sandbox(timings=timings)
    world = Replicas(sb, replicas, lease=LEASE, margin=MARGIN)
    try:
        play(world, tl, timings)
    except KeyboardInterrupt:
        tl.failed.append("interrupted")
    finally:
        for i, d in enumerate(world.daemons):
            if d is not None and d.alive():
                code = d.stop()
                tl.expect(code == 0, f"{world.names[i]} stopped cleanly on SIGTERM (exit {code})")
        world.close()
        sb.close()
    if tl.failed:
        print(f"\nFAILED: {len(tl.failed)} expectation(s) did not hold:", file=out)
        for what in tl.failed:
            print(f"  - {what}", file=out)
        return 1
    print(f"\nOK: all {tl.passed} expectations held", file=out)
    return 0
