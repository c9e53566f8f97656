"""Route 53 at scale on the strict moto server: fewest writes, the shared rate limit, steady reads."""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from prometheus_client import CollectorRegistry

from failover.aws.route53 import RateLimiter, Route53Store
from failover.daemon import route53_client
from failover.metrics import Metrics
from failover.model import HealthSettings, Origin, OriginKey, Outcome, Pool, ProbeResult
from failover.overrides import FileStore
from failover.round import Runner
from tests.factories import make_config, make_pool

# Route 53's documented limits per ChangeResourceRecordSets request (FACTS.md).
LIMIT_ELEMENTS = 1000
LIMIT_CHARS = 32000
H = HealthSettings(timeout=0.5, fall=3, rise=2, hold_down=30.0)
FAILING = "eu-west-1"


class RegionProber:
    """Every origin answers 200, except those of the regions the test fails (503)."""

    def __init__(self) -> None:
        self.failing: set[str] = set()

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        return {
            o.key: ProbeResult(
                o.key, Outcome.HTTP_5XX if o.region in self.failing else Outcome.OK, 0.01
            )
            for o in origins
        }


class VirtualTime:
    """One clock for the runner and the rate limiter; sleeping only moves it on."""

    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.slept += seconds


class Requests:
    """Every Route 53 request the client sends: (virtual time, operation, zone)."""

    def __init__(self, client: Any, time: VirtualTime) -> None:
        self.seen: list[tuple[float, str, str]] = []
        self.time = time
        client.meta.events.register("before-parameter-build.route53", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        zone = str(params.get("HostedZoneId", "")).rsplit("/", 1)[-1]
        self.seen.append((self.time.t, model.name, zone))

    def count(self, operation: str, zone: str | None = None) -> int:
        return sum(1 for _, op, z in self.seen if op == operation and zone in (None, z))


def new_zone(client: Any, name: str) -> str:
    resp = client.create_hosted_zone(Name=name, CallerReference=uuid.uuid4().hex)
    return str(resp["HostedZone"]["Id"]).rsplit("/", 1)[-1]


def make_pools(n: int, zone_id: str, domain: str) -> list[Pool]:
    prefix = domain.split(".", maxsplit=1)[0]
    return [
        make_pool(f"{prefix}-{i:04d}", record=f"site-{i:04d}.{domain}", zone_id=zone_id, health=H)
        for i in range(n)
    ]


def seed(client: Any, zone_id: str, pools: Sequence[Pool]) -> None:
    """Write every pool's sets at weight 100, as CloudFormation would, within the limits."""
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": p.record + ".",
                "Type": "TXT",
                "SetIdentifier": o.id,
                "Weight": o.weight,
                "TTL": p.ttl,
                "ResourceRecords": [{"Value": f'"{o.endpoint}"'}],
            },
        }
        for p in pools
        for o in p.origins
    ]
    for i in range(0, len(changes), 250):
        client.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes[i : i + 250]}
        )


def make_runner(
    pools: Sequence[Pool], client: Any, time: VirtualTime, tmp: Path, rate: float, **daemon: Any
) -> Runner:
    limiter = RateLimiter(rate, clock=time, sleep=time.sleep)
    store = Route53Store(client, limiter, sleep=time.sleep, clock=time)
    return Runner(
        make_config(*pools, **daemon),
        RegionProber(),
        store,
        FileStore(tmp / "overrides.json"),
        Metrics(CollectorRegistry()),
        clock=time,
    )


def within_rate(times: list[float], rate: float, burst: float) -> bool:
    """A token bucket's promise: any stretch of time holds at most burst + rate * its length."""
    times = sorted(times)
    return all(
        j - i + 1 <= burst + rate * (times[j] - times[i]) + 1e-9
        for i in range(len(times))
        for j in range(i, len(times))
    )


@pytest.fixture
def client(endpoint: str) -> Any:
    return route53_client(boto3.Session())


@pytest.mark.slow
def test_a_whole_region_failing_across_1000_pools_is_written_in_the_fewest_requests(
    client: Any, tmp_path: Path
) -> None:
    zone_id = new_zone(client, "mass.example")
    pools = make_pools(1000, zone_id, "mass.example")
    seed(client, zone_id, pools)
    time = VirtualTime()
    requests = Requests(client, time)
    rate = 2.0
    runner = make_runner(pools, client, time, tmp_path, rate)
    runner.prober.failing.add(FAILING)  # type: ignore[attr-defined]
    reports = []
    for _ in range(H.fall):
        reports.append(runner.run_round())
        time.t += 1.0
    assert [r.error for r in reports] == ["", "", ""]
    assert [len(r.applied) for r in reports] == [0, 0, 1000]

    # Each pool's change is a compare-and-swap (DELETE old + CREATE new: one value each)
    # plus the guard that pins the heaviest set still serving (plan.guards: without it a
    # stale view could land an all-zero record), and a pool travels whole in one request,
    # so a request holds at most this many pools:
    def size(region: str) -> int:
        sizes = {len(f'"{o.endpoint}"') for p in pools for o in p.origins if o.region == region}
        assert len(sizes) == 1
        return sizes.pop()

    guard = max(r for r in ("us-east-1", "ap-southeast-2"))  # equal weights: by set id
    chars = 2 * size(FAILING) + 2 * size(guard)
    per_request = min(LIMIT_ELEMENTS // 4, LIMIT_CHARS // chars)
    fewest = math.ceil(1000 / per_request)
    assert requests.count("ChangeResourceRecordSets") == fewest
    times = [t for t, _, _ in requests.seen]
    read = Route53Store(client, RateLimiter(1000.0)).read(zone_id, [p.record for p in pools])
    weights = Counter((sid, s.weight) for p in pools for sid, s in read[p.record].sets.items())
    assert weights == Counter(
        {(FAILING, 0): 1000, ("us-east-1", 100): 1000, ("ap-southeast-2", 100): 1000}
    )
    assert within_rate(times, rate, burst=rate)
    # Bounded: the whole run waited no longer than the rate limit demands.
    assert time.slept <= (len(times) - rate) / rate + 1e-6


@pytest.mark.slow
def test_reads_follow_the_resync_schedule_one_zone_per_round_not_every_round(
    client: Any, tmp_path: Path
) -> None:
    zones = [new_zone(client, f"z{i}.example") for i in range(2)]
    pools = [p for i, z in enumerate(zones) for p in make_pools(200, z, f"z{i}.example")]
    for z in zones:
        seed(client, z, [p for p in pools if p.zone_id == z])
    time = VirtualTime()
    requests = Requests(client, time)
    runner = make_runner(pools, client, time, tmp_path, 100.0, resync=5.0)
    per_round: list[Counter[str]] = []
    for _ in range(40):
        before = len(requests.seen)
        assert runner.run_round().error == ""
        per_round.append(Counter(z for _, op, z in requests.seen[before:]))
        time.t += 1.0
    pages = math.ceil((600 + 2) / 300)  # 200 pools x 3 sets, plus SOA and NS; 300 a page
    assert per_round[0] == Counter({zones[0]: pages, zones[1]: pages})  # both read at start
    assert all(len(c) <= 1 for c in per_round[1:])  # afterwards never two zones in one round
    for z in zones:
        scans = requests.count("ListResourceRecordSets", z) / pages
        assert scans == 8  # every 5 s over 40 s, however many rounds ran
    assert requests.count("ChangeResourceRecordSets") == 0
    assert runner.ready


def test_a_zone_that_cannot_be_read_is_retried_without_rereading_the_others(
    client: Any, tmp_path: Path
) -> None:
    good = new_zone(client, "good.example")
    pools = make_pools(6, good, "good.example") + make_pools(6, "ZNOSUCHZONE", "bad.example")
    seed(client, good, pools[:6])
    time = VirtualTime()
    requests = Requests(client, time)
    runner = make_runner(pools, client, time, tmp_path, 100.0, resync=60.0)
    for _ in range(3):
        assert runner.run_round().error == ""
        time.t += 1.0
    assert requests.count("ListResourceRecordSets", good) == 1
    assert requests.count("ListResourceRecordSets", "ZNOSUCHZONE") == 3
    assert not runner.ready  # a zone never read: nothing known there
