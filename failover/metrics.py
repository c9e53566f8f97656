"""Prometheus metrics: event counters and histograms, plus per-origin state read at scrape time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from failover import __version__
from failover.kvs_metrics import KvsMetrics
from failover.model import OWN_FAULTS, Origin, ProbeResult, State

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from failover.status import Snapshot

PROBE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Route 53 says changes "generally propagate [...] within 60 seconds": buckets around it,
# no finer than the few seconds between two polls of one change.
PROPAGATION_BUCKETS = (5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)

# Every label value the Route 53 store and the round report, so that each series
# exists at 0 before its first event: `rate()` and `increase()` need a sample before
# the first increment to see it at all.
ROUTE53_OPERATIONS = ("ListResourceRecordSets", "ChangeResourceRecordSets", "GetChange")
ROUTE53_OUTCOMES = (
    "ok",
    "throttled",
    "busy",
    "conflict",
    "rejected",
    "server_error",
    "client_error",
    "error",
)
WRITE_FAILURES = ("conflict", "rejected", "route53")
RECORD_PROBLEMS = ("ttl_mismatch", "unowned_refused")
KNOWN = (State.UP, State.DOWN)


class Metrics:
    """Every metric the daemon exports, on a registry of its own (tests pass a fresh one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # One series per origin and outcome: counted in a plain dict and reported at
        # scrape time, because a labelled Counter per origin costs a child object, a lock
        # and a `_created` series each (FACTS.md: too slow to render at 10,000 origins).
        self.probes = ProbeCounts()
        r.register(self.probes)
        self.probe_seconds = Histogram(
            "failover_probe_duration_seconds",
            "Canary probe duration, per region.",
            ["region"],
            buckets=PROBE_BUCKETS,
            registry=r,
        )
        self.transitions = TransitionCounts()
        r.register(self.transitions)
        self.route53_requests = Counter(
            "failover_route53_requests",
            "Route 53 API requests by operation and outcome.",
            ["operation", "outcome"],
            registry=r,
        )
        self.change_seconds = Histogram(
            "failover_route53_change_seconds",
            "Time for Route 53 to accept a change batch.",
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.propagation_seconds = Histogram(
            "failover_route53_propagation_seconds",
            "Time from Route 53 accepting a change to GetChange reporting it INSYNC.",
            buckets=PROPAGATION_BUCKETS,
            registry=r,
        )
        # Absent until first set: a 0 would read as "57 years ago", not "never".
        self.last_apply = Timestamp(
            "failover_last_apply_timestamp_seconds",
            "Unix time of the last change Route 53 accepted (absent until one is).",
        )
        r.register(self.last_apply)
        self.last_round = Timestamp(
            "failover_last_round_timestamp_seconds",
            "Unix time the last round completed (absent until one does).",
        )
        r.register(self.last_round)
        self.round_seconds = Histogram(
            "failover_round_duration_seconds",
            "Duration of one round: probe, decide, write.",
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.rounds_missed = Counter(
            "failover_rounds_missed",
            "Rounds skipped because the previous one was still running.",
            registry=r,
        )
        self.writes_refused = Counter(
            "failover_writes_refused",
            "Change sets the safety gate refused to write.",
            ["pool"],
            registry=r,
        )
        self.record_problems = Counter(
            "failover_record_problems",
            "Problems with a pool's record only a human can fix: ttl_mismatch (a resync "
            "found its weighted sets at a TTL other than the configured one, some not the "
            "daemon's, so it writes theirs) and unowned_refused (changes to sets the "
            "running config does not own, dropped from a batch before it was sent).",
            ["pool", "problem"],
            registry=r,
        )
        self.write_failures = Counter(
            "failover_write_failures",
            "Change batches that failed after retries or lost a compare-and-swap.",
            ["reason"],
            registry=r,
        )
        self.credentials_failed = Counter(
            "failover_probe_credentials_failed",
            "Probes S3 refused for the daemon's own fault (credentials, signature, clock, "
            "an expired URL), by S3 error code: never counted against an origin.",
            ["code"],
            registry=r,
        )
        for code in OWN_FAULTS:
            self.credentials_failed.labels(code)
        self.clock_skew = Gauge(
            "failover_clock_skew_seconds",
            "S3's Date header minus the local clock, as the last canary answer showed "
            "(positive: the local clock is behind); to the second.",
            registry=r,
        )
        for operation in ROUTE53_OPERATIONS:
            for outcome in ROUTE53_OUTCOMES:
                self.route53_requests.labels(operation, outcome)
        for reason in WRITE_FAILURES:
            self.write_failures.labels(reason)
        self.kvs = KvsMetrics(r)  # the KeyValueStore sink's series
        self._pools: set[str] = set()
        self._regions: set[str] = set()
        Gauge(
            "failover_build_info", "Build of the running daemon.", ["version"], registry=r
        ).labels(__version__).set(1)

    def track(self, origins: Sequence[Origin]) -> None:
        """Take the configured origins (at start and on each reload).

        Their per-origin, per-pool and per-region series exist from now on at 0, so
        the first event after a start is an increase Prometheus sees; the series of
        origins, pools and regions no longer configured go away.
        """
        self.transitions.track((o.pool, o.id) for o in origins)
        pools = {o.pool for o in origins}
        regions = {o.region for o in origins}
        for pool in self._pools - pools:
            self.writes_refused.remove(pool)
            for problem in RECORD_PROBLEMS:
                self.record_problems.remove(pool, problem)
        for region in self._regions - regions:
            self.probe_seconds.remove(region)
        for pool in pools:
            self.writes_refused.labels(pool)
            for problem in RECORD_PROBLEMS:
                self.record_problems.labels(pool, problem)
        for region in regions:
            self.probe_seconds.labels(region)
        self._pools, self._regions = pools, regions

    def transition(self, pool: str, origin: str, was: State, to: State) -> None:
        """Count a health change of an origin between up and down.

        Leaving unknown (the first verdict after a start or a new bucket) is not a
        transition: it says nothing about the origin's stability.
        """
        if was in KNOWN and to in KNOWN and was is not to:
            self.transitions.inc(pool, origin, to)

    def applied(self, at: float) -> None:
        """Route 53 accepted a change at unix time `at`."""
        self.last_apply.set(at)

    def round_completed(self, at: float) -> None:
        """A round completed at unix time `at`."""
        self.last_round.set(at)

    def observe_probe(self, region: str, result: ProbeResult) -> None:
        self.probes.inc(result.key.pool, result.key.origin, result.outcome.value)
        self.probe_seconds.labels(region).observe(result.latency)
        if result.outcome.own_fault:
            code = result.detail.partition(":")[0]
            self.credentials_failed.labels(code if code in OWN_FAULTS else "other").inc()
        if result.skew is not None:
            self.clock_skew.set(result.skew)

    def route53_request(self, operation: str, outcome: str, seconds: float) -> None:
        self.route53_requests.labels(operation, outcome).inc()
        if operation == "ChangeResourceRecordSets" and outcome == "ok":
            self.change_seconds.observe(seconds)

    def watch(self, snapshot: Callable[[], Snapshot]) -> None:
        """Report per-origin state from `snapshot()` at each scrape."""
        self.registry.register(StateCollector(snapshot))


class ProbeCounts(Collector):
    """`failover_probe_total{pool,origin,outcome}`: probes counted per origin and outcome."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def inc(self, pool: str, origin: str, outcome: str) -> None:
        key = (pool, origin, outcome)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1

    def value(self, pool: str, origin: str, outcome: str) -> int:
        with self._lock:
            return self._counts.get((pool, origin, outcome), 0)

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts = list(self._counts.items())
        family = self._family()
        for labels, n in counts:
            family.add_metric(labels, float(n))
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "failover_probe", "Canary probes by outcome.", labels=["pool", "origin", "outcome"]
        )


class TransitionCounts(Collector):
    """`failover_origin_transitions_total{pool,origin,to}`: up↔down changes per origin.

    Kept in a dict and reported at scrape time like `ProbeCounts`; both series of a
    tracked origin are reported from 0.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], dict[State, int]] = {}
        self._lock = threading.Lock()

    def track(self, origins: Iterable[tuple[str, str]]) -> None:
        """Report exactly these (pool, origin) pairs, keeping the counts of those kept."""
        with self._lock:
            before = self._counts
            self._counts = {k: before.get(k) or dict.fromkeys(KNOWN, 0) for k in origins}

    def inc(self, pool: str, origin: str, to: State) -> None:
        with self._lock:
            counts = self._counts.setdefault((pool, origin), dict.fromkeys(KNOWN, 0))
            counts[to] += 1

    def value(self, pool: str, origin: str, to: State) -> int | None:
        with self._lock:
            counts = self._counts.get((pool, origin))
            return None if counts is None else counts[to]

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            rows = [(k, list(v.items())) for k, v in self._counts.items()]
        family = self._family()
        for (pool, origin), counts in rows:
            for to, n in counts:
                family.add_metric([pool, origin, to.value], float(n))
        yield family

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "failover_origin_transitions",
            "Health changes of an origin between up and down, by the state entered.",
            labels=["pool", "origin", "to"],
        )


class Timestamp(Collector):
    """A unix-time gauge that is absent until first set: "never" is no sample, not 0."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.value: float | None = None

    def set(self, at: float) -> None:
        self.value = at

    def describe(self) -> list[Metric]:
        return [GaugeMetricFamily(self.name, self.documentation)]

    def collect(self) -> Iterator[Metric]:
        value = self.value
        if value is not None:
            yield GaugeMetricFamily(self.name, self.documentation, value=value)


class StateCollector(Collector):
    """Per-origin gauges built from the runner's current state, so none go stale."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self.snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # state is only known at scrape time; names are fixed below

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot()
        healthy = GaugeMetricFamily(
            "failover_origin_healthy",
            "1 if the origin is up, 0 if down (absent while unknown).",
            labels=["pool", "origin"],
        )
        weight = GaugeMetricFamily(
            "failover_origin_weight",
            "Weight of the origin's set: desired by policy, applied in Route 53.",
            labels=["pool", "origin", "kind"],
        )
        age = GaugeMetricFamily(
            "failover_canary_age_seconds", "Age of the canary last read.", labels=["pool", "origin"]
        )
        override = GaugeMetricFamily(
            "failover_origin_override",
            "1 while an operator override (drain or pin) is set.",
            labels=["pool", "origin", "action"],
        )
        failed_open = GaugeMetricFamily(
            "failover_pool_failed_open",
            "1 while every origin of the pool is unhealthy and configured weights are kept.",
            labels=["pool"],
        )
        unknown = GaugeMetricFamily(
            "failover_pool_unknown_sets",
            "Weighted sets under the pool's name that the config does not name.",
            labels=["pool"],
        )
        for p in snap.pools:
            failed_open.add_metric([p.name], 1.0 if p.failed_open else 0.0)
            unknown.add_metric([p.name], float(len(p.unknown_sets)))
            for o in p.origins:
                labels = [p.name, o.id]
                if o.state is not State.UNKNOWN:
                    healthy.add_metric(labels, 1.0 if o.state is State.UP else 0.0)
                if o.desired is not None:
                    weight.add_metric([*labels, "desired"], float(o.desired))
                if o.applied is not None:
                    weight.add_metric([*labels, "applied"], float(o.applied))
                if o.age is not None:
                    age.add_metric(labels, o.age)
                if o.override is not None:
                    override.add_metric([*labels, o.override.action.value], 1.0)
        frozen = GaugeMetricFamily(
            "failover_writes_frozen", "1 while writes are frozen because no probe got an answer."
        )
        frozen.add_metric([], 1.0 if snap.frozen else 0.0)
        overrides = GaugeMetricFamily(
            "failover_overrides_age_seconds",
            "Seconds since the overrides were last read (absent: never read since start).",
        )
        if snap.overrides_age is not None:
            overrides.add_metric([], snap.overrides_age)
        never = GaugeMetricFamily(
            "failover_overrides_never_read",
            "1 while the overrides have not been read once since start (raises held, then grace).",
        )
        never.add_metric([], 1.0 if snap.overrides_age is None else 0.0)
        yield from (healthy, weight, age, override, failed_open, unknown, frozen, overrides, never)
