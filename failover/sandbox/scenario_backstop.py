"""The demo's backstop scenario: Route 53's API refuses every write while a Region fails.

The daemon sees the Region die but cannot write; its verdict, published to CloudWatch,
fires the Region's alarm; the health check on the Region's weighted set turns
unhealthy; Route 53's DNS (the sandbox's, by Route 53's rules) stops naming it and the
edge router stops sending requests there. When the API returns, the daemon's weight 0
lands and takes over from the health check without the Region ever coming back into
the answers; once the Region heals, the alarm clears and the weight returns.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.core import backstop
from failover.sandbox.cloudwatch import BACKSTOP_PERIOD
from failover.sandbox.observe import wait_until
from failover.sandbox.s3proxy import ROUTE53_WRITES

if TYPE_CHECKING:
    from failover.sandbox.demo import Demo

REGION = "eu-west-1"


def apply_backstop(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`failover backstop apply` against the sandbox, as an operator would run it."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(env, PYTHONPATH=os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p))
    return subprocess.run(  # noqa: S603 - our own CLI, by the running interpreter
        [sys.executable, "-m", "failover", "backstop", "apply", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def exclusion_bound(detection: float) -> float:
    """The sandbox's fault -> exclusion bound: the daemon's detection, then the next datapoint,
    its period completing, one evaluator tick, and 1 s for the calls in between."""
    return detection + 2 * BACKSTOP_PERIOD + BACKSTOP_PERIOD / 5 + 1.0


def alarm_state(demo: Demo, region: str) -> str:
    key = next(o.key for o in demo.config_value.all_origins() if o.id == region)
    name = backstop.alarm_name(demo.config_value.backstop, key)
    alarms = demo.sandbox.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return str(alarms[0]["StateValue"]) if alarms else "missing"


def check_of(demo: Demo, region: str) -> str | None:
    for rs in demo.sandbox.route53.list_resource_record_sets(HostedZoneId=demo.sandbox.zone_id)[
        "ResourceRecordSets"
    ]:
        if rs.get("SetIdentifier") == region:
            return rs.get("HealthCheckId")
    return None


def backstop_outage(demo: Demo) -> None:
    t = demo.timings
    alarms = demo.sandbox.alarms
    assert alarms is not None  # noqa: S101 - a backstop sandbox has an evaluator
    demo.tl.head("armed: each weighted set carries a CLOUDWATCH_METRIC health check")
    checks = {r: check_of(demo, r) for r in demo.sandbox.buckets}
    demo.tl.expect(all(checks.values()), "every set carries its health check")
    for region, check in sorted(checks.items()):
        demo.tl.say(f"  {region}: health check {check}")
    calm = wait_until(
        lambda: all(alarm_state(demo, r) == "OK" for r in demo.sandbox.buckets),
        demo.patience,
    )
    demo.tl.expect(calm, "the daemon publishes its verdicts: every alarm is OK")
    demo.show_dns()

    demo.tl.head(f"Route 53's API refuses every write (503) and {REGION} fails")
    t0 = time.time()
    demo.sandbox.break_route53_writes("http_503")
    demo.sandbox.break_bucket(REGION, "http_503")
    demo.tl.say(f"injected 503 into ChangeResourceRecordSets and into {REGION}'s bucket", t0)
    mine: Any = lambda e: e.get("origin") == REGION  # noqa: E731
    demo.wait_event("origin_marked_down", t0, mine, f"{REGION} marked down")
    fired = wait_until(lambda: alarm_state(demo, REGION) == "ALARM", demo.patience)
    demo.tl.expect(fired, f"{REGION}'s alarm fires (ALARM)")
    check = checks[REGION] or ""
    unhealthy = alarms.wait_for(lambda s: s.get(check) is False, demo.patience)
    demo.tl.expect(unhealthy, f"{REGION}'s health check turns unhealthy")
    excluded = wait_until(lambda: REGION not in demo.dns.sample(10), demo.patience)
    took = alarms.unhealthy_at.get(check, time.time()) - t0
    demo.tl.expect(excluded, f"DNS stops naming {REGION}")
    demo.wait_event(
        "route53_write_failed", t0, lambda e: True, "the daemon reports it cannot write"
    )
    held = demo.show_records()
    demo.tl.expect(
        held.get(REGION) == 100, f"Route 53 still holds 100 for {REGION}: no write landed"
    )
    demo.show_dns()
    formula = exclusion_bound(t.bound() - 1.0)
    demo.exclusion = took
    demo.tl.say(
        f"fault -> health check unhealthy (DNS excludes {REGION}) {took:.2f}s; sandbox bound: "
        f"fall x interval + timeout + publish period + alarm period + tick + 1 s = {formula:.2f}s"
    )
    avoided, _ = demo.edge_avoids(REGION, t0)
    demo.tl.expect(avoided, f"edge router stops sending requests to {REGION}")
    demo.show_edge(t0, 10)

    demo.tl.head("Route 53's API is back: the daemon's weight takes over, no flip")
    t1 = time.time()
    assert demo.sandbox.proxy is not None  # noqa: S101 - running
    demo.sandbox.proxy.heal(ROUTE53_WRITES)
    demo.tl.say("ChangeResourceRecordSets answers again", t1)
    seen: Counter[str] = Counter()

    def landed() -> bool:
        seen.update(demo.dns.sample(5))
        return demo.sandbox.records().get(REGION) == 0

    demo.tl.expect(wait_until(landed, demo.patience), f"the daemon's write lands: {REGION} at 0")
    for _ in range(5):
        seen.update(demo.dns.sample(10))
    demo.show_records()
    demo.tl.expect(
        REGION not in seen,
        f"{REGION} never came back into DNS across the handover ({sum(seen.values())} answers)",
    )

    demo.tl.head(f"{REGION} heals: its alarm clears and its weight returns")
    t2 = time.time()
    demo.sandbox.heal(REGION)
    demo.tl.say(f"healed {REGION}", t2)
    back = wait_until(lambda: demo.sandbox.records().get(REGION) == 100, demo.patience)
    demo.tl.expect(back, f"Route 53 holds 100 for {REGION} again")
    ok = wait_until(lambda: alarm_state(demo, REGION) == "OK", demo.patience)
    demo.tl.expect(ok, f"{REGION}'s alarm is OK again")
    demo.tl.expect(demo.edge_reaches(REGION, t2), f"requests reach {REGION} again")
    demo.show_edge(t2, 10)
