"""Time from a Region's fault to its exclusion from DNS, by the daemon's write and by the backstop.

On the sandbox with the backstop armed (`failover backstop apply`), a real `failover run`
subprocess publishes its verdicts each second (the sandbox's alarm period) and the
sandbox evaluates alarms and health checks. Per trial, one Region (rotating) fails:

  baseline  Route 53's API answers: fault -> the daemon's weight-0 change lands -> DNS clean
  backstop  ChangeResourceRecordSets answers 503: fault -> alarm -> health check unhealthy
            -> DNS clean (30 answers in a row avoid the bucket), no write landing at all

and prints both (median / max), their ratio, the sandbox's bound and, beside them, the
production formula with a 60-second period. Run from the repository root:
`python bench/backstop.py` (about a minute).
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

from failover.core import backstop  # noqa: E402
from failover.model import BackstopSettings, OriginKey  # noqa: E402
from failover.sandbox.cloudwatch import BACKSTOP_PERIOD  # noqa: E402
from failover.sandbox.observe import DaemonProcess, DnsSampler, http_get  # noqa: E402
from failover.sandbox.s3proxy import ROUTE53_WRITES  # noqa: E402
from failover.sandbox.sandbox_config import free_port  # noqa: E402
from failover.sandbox.scenario_backstop import apply_backstop, exclusion_bound  # noqa: E402
from failover.sandbox.world import REGIONS, Sandbox, Timings  # noqa: E402

PATIENCE = 30.0
# Production: the daemon's defaults (interval 2 s, fall 3, timeout 1 s), the backstop's
# (period 60 s, 1 evaluation period), a TTL of 60 s, and Route 53's own endpoint checks.
PROD_DETECT = 3 * 2.0 + 1.0
PROD_TTL = 60
R53_INTERVAL, R53_THRESHOLD = 10.0, 3


def poll(check: Callable[[], bool], timeout: float = PATIENCE) -> float | None:
    """Wall time at which `check` first held, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(0.02)
    return None


def ready(port: int) -> bool:
    try:
        return http_get(f"http://127.0.0.1:{port}/readyz", timeout=0.5)[0] == 200
    except OSError:
        return False


def alarms_ok(sb: Sandbox, names: list[str]) -> bool:
    got = sb.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return len(got) == len(names) and all(a["StateValue"] == "OK" for a in got)


def checks(sb: Sandbox) -> dict[str, str]:
    sets = sb.route53.list_resource_record_sets(HostedZoneId=sb.zone_id)["ResourceRecordSets"]
    return {rs["SetIdentifier"]: rs["HealthCheckId"] for rs in sets if "HealthCheckId" in rs}


def settle(sb: Sandbox, names: list[str]) -> bool:
    """Every region at 100, every alarm OK, every check healthy, for three alarm periods in a
    row: an alarm still catching up on the last trial's down verdicts must not start the next."""
    assert sb.alarms is not None
    evaluator = sb.alarms
    since: list[float] = []

    def at_rest() -> bool:
        ok = (
            sb.records() == dict.fromkeys(REGIONS, 100)
            and alarms_ok(sb, names)
            and all(evaluator.statuses().values())
        )
        if not ok:
            since.clear()
            return False
        since[:] = since or [time.monotonic()]
        return time.monotonic() - since[0] >= 3 * BACKSTOP_PERIOD

    return poll(at_rest) is not None


def baseline(sb: Sandbox, daemon: DaemonProcess, dns: DnsSampler, region: str) -> float | None:
    t0 = time.time()
    sb.break_bucket(region, "http_503")
    clean = poll(lambda: sb.records().get(region) == 0 and region not in dns.sample(10))
    sb.heal(region)
    if clean is None:
        print(f"baseline trial on {region} missed: {sb.records()}", file=sys.stderr)
        return None
    return clean - t0


def guarded(sb: Sandbox, dns: DnsSampler, region: str, check: str) -> tuple[float, float] | None:
    """(fault -> health check unhealthy, fault -> DNS clean) with every write refused."""
    assert sb.alarms is not None
    assert sb.proxy is not None
    t0 = time.time()
    sb.break_route53_writes("http_503")
    sb.break_bucket(region, "http_503")
    # 30 answers in a row without the region: by chance alone (2/3)^30, about 5e-6.
    clean = poll(lambda: region not in dns.sample(30))
    held = sb.records().get(region)
    sb.proxy.heal(ROUTE53_WRITES)
    sb.heal(region)
    unhealthy = sb.alarms.unhealthy_at.get(check)
    if clean is None or unhealthy is None or unhealthy < t0 or held != 100:
        why = f"clean={clean} unhealthy={unhealthy} t0={t0} held={held}"
        print(f"backstop trial on {region} missed: {why}", file=sys.stderr)
        return None
    return unhealthy - t0, clean - t0


def cell(xs: list[float]) -> str:
    return "-" if not xs else f"{statistics.median(xs):5.2f} / {max(xs):5.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3, help="trials of each kind")
    args = parser.parse_args()
    t = Timings()
    base: list[float] = []
    check_times: list[float] = []
    dns_times: list[float] = []
    missed = 0
    started = time.monotonic()
    with Sandbox(timings=t, backstop=True) as sb:
        port = free_port()
        config = sb.write_config(
            listen=f"127.0.0.1:{port}", hold_down_max=t.hold_down, backstop=True
        )
        env = sb.child_env(os.environ)
        done = apply_backstop(config, env)
        if done.returncode != 0:
            print(f"backstop apply failed: {done.stdout}{done.stderr}", file=sys.stderr)
            return 1
        settings = BackstopSettings(region="us-west-2")
        names = [backstop.alarm_name(settings, OriginKey("www", r)) for r in REGIONS]
        ids = checks(sb)
        daemon = DaemonProcess(config, env)
        dns = DnsSampler(sb)
        try:
            if poll(lambda: ready(port)) is None or not settle(sb, names):
                print("the daemon or its alarms never settled", file=sys.stderr)
                return 1
            for i in range(args.trials):
                region = REGIONS[i % len(REGIONS)]
                took = baseline(sb, daemon, dns, region)
                if took is None:
                    missed += 1
                else:
                    base.append(took)
                settle(sb, names)
                got = guarded(sb, dns, region, ids[region])
                if got is None:
                    missed += 1
                else:
                    check_times.append(got[0])
                    dns_times.append(got[1])
                settle(sb, names)
        finally:
            daemon.stop()
            daemon.kill()
    took_all = time.monotonic() - started
    bound = exclusion_bound(t.bound() - 1.0)
    print(
        f"\nfault -> DNS exclusion on the sandbox: interval {t.interval}s, fall {t.fall}, "
        f"timeout {t.timeout}s, TTL {t.ttl}s, alarm period {BACKSTOP_PERIOD}s x 1; "
        f"{args.trials} trials each; seconds, median / max\n"
    )
    print(f"{'daemon write (API up)':<34} {cell(base):>14}   (the baseline)")
    print(f"{'backstop: health check unhealthy':<34} {cell(check_times):>14}")
    print(f"{'backstop: DNS clean (API refusing)':<34} {cell(dns_times):>14}")
    if base and dns_times:
        ratio = statistics.median(dns_times) / statistics.median(base)
        print(f"\nbackstop / baseline (median DNS clean): {ratio:.2f}x")
    print(
        f"sandbox bound fault -> health check: fall x interval + timeout + 2 x period + tick "
        f"+ 1 s = {bound:.2f}s"
    )
    prod = PROD_DETECT + 2 * 60
    print(
        "production (period 60 s, 1 evaluation period): detection "
        f"{PROD_DETECT:.0f}s + up to one period for the next datapoint + one period for the "
        f"alarm = {prod:.0f}s, plus Route 53's lag in reading the alarm (unpublished) and the "
        f"TTL ({PROD_TTL}s): about {prod + PROD_TTL:.0f}s+ against the daemon's {PROD_DETECT:.0f}s "
        f"+ its write + TTL; Route 53's own endpoint checks: {R53_INTERVAL:.0f}s x "
        f"{R53_THRESHOLD} = {R53_INTERVAL * R53_THRESHOLD:.0f}s + TTL (and they cannot sign a "
        "request to a private bucket)"
    )
    print(f"benchmark took {took_all:.0f}s")
    over = [x for x in check_times if x > bound]
    if missed or over:
        print(f"MISSED: {missed} trial(s); over the bound: {len(over)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
