"""The fakes the simulation drives the real Runner with: a clock, a prober and an override store."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from failover.errors import OverrideError
from failover.model import Origin, OriginKey, Outcome, Override, ProbeResult
from failover.overrides import decode
from failover.sim.scenario import OWN_FAULT_KINDS, Fault

STATUS = {
    Outcome.OK: 200,
    Outcome.HTTP_403: 403,
    Outcome.HTTP_404: 404,
    Outcome.HTTP_4XX: 400,
    Outcome.HTTP_5XX: 503,
    Outcome.HTTP_OTHER: 302,
    Outcome.MISMATCH: 200,
    Outcome.TOO_OLD: 200,
}
# The daemon's own faults, as S3 answers them: status and error code (the probe's detail).
OWN_FAULT_ANSWERS = {
    "creds_expiry": ((400, "ExpiredToken"),),
    "clock_skew": ((403, "RequestTimeTooSkewed"), (403, "RequestExpired")),
}
HEALTHY_LATENCY = 0.04
ROUTE53_FAULTS = {
    "throttle": "throttle",
    "busy": "busy",
    "r53_timeout": "timeout",
    "lost_response": "lost",
    "r53_down": "throttle",
}


class SimClock:
    """Simulated time: read by the Runner, the store and the rate limiter; sleeping advances it."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.t += seconds
            self.slept += seconds


class SimProber:
    """Answers each probe as the active faults say; concurrent probes take the slowest's time."""

    def __init__(
        self,
        clock: SimClock,
        active: Callable[[], Sequence[Fault]],
        rng: random.Random,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self.clock = clock
        self.active = active
        self.rng = rng
        self.sources = dict(sources or {})  # pool -> the origin its canary is written in
        self.probed_at = clock()  # when the last round's probes finished

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        started = self.clock()
        active = self.active()
        faults = [f for f in active if f.kind in _PROBE_EFFECTS]
        own = [f for f in active if f.kind in OWN_FAULT_KINDS]
        results = {}
        slowest = 0.0
        for o in origins:
            r = self._probe(o, started, faults)
            r = self._own_fault(r, own)
            results[o.key] = r
            slowest = max(slowest, r.latency)
        self.clock.t = started + slowest
        self.probed_at = self.clock()
        return results

    def _probe(self, o: Origin, now: float, faults: list[Fault]) -> ProbeResult:
        outcome, latency, age = Outcome.OK, HEALTHY_LATENCY, 5.0
        key = (o.pool, o.id)
        source = (o.pool, self.sources.get(o.pool, ""))
        for f in faults:
            if f.kind == "cutoff":
                outcome = self.rng.choice((Outcome.TIMEOUT, Outcome.CONNECTION))
                latency = o.health.timeout if outcome is Outcome.TIMEOUT else 0.002
                break
            if f.kind == "source_down" and source in f.origins:
                age = max(age, 5.0 + now - f.start)  # nothing refreshes the replicas
            if key not in f.origins:
                continue
            got = _PROBE_EFFECTS[f.kind](f, o, now, self.rng)
            if got is None:
                continue
            out, lat, a = got
            latency = max(latency, lat)
            age = max(age, a)
            if outcome.healthy and not out.healthy:
                outcome = out
        if not outcome.healthy and outcome.transport_failure:
            latency = o.health.timeout if outcome is Outcome.TIMEOUT else 0.002
        status = STATUS.get(outcome)
        return ProbeResult(
            o.key,
            outcome,
            latency,
            status=status,
            age=age if status == 200 else None,
            detail="" if outcome.healthy else outcome.value,
        )

    def _own_fault(self, r: ProbeResult, own: list[Fault]) -> ProbeResult:
        """S3 refusing the daemon's request whatever the bucket's state, unless unreachable."""
        if r.outcome.transport_failure:
            return r
        for f in own:
            if self.rng.random() < f.p:
                status, code = self.rng.choice(OWN_FAULT_ANSWERS[f.kind])
                return ProbeResult(r.key, Outcome.CREDENTIALS, HEALTHY_LATENCY, status, None, code)
        return r


Effect = tuple[Outcome, float, float] | None


def _outage(f: Fault, o: Origin, now: float, rng: random.Random) -> Effect:
    return f.outcome, HEALTHY_LATENCY, 5.0


def _partial(f: Fault, o: Origin, now: float, rng: random.Random) -> Effect:
    return (f.outcome, HEALTHY_LATENCY, 5.0) if rng.random() < f.p else None


def _flap(f: Fault, o: Origin, now: float, rng: random.Random) -> Effect:
    failing = (now - f.start) % (f.down + f.up) < f.down
    return (f.outcome, HEALTHY_LATENCY, 5.0) if failing else None


def _slow(f: Fault, o: Origin, now: float, rng: random.Random) -> Effect:
    latency = o.health.timeout * rng.uniform(0.7, 1.3)
    if latency >= o.health.timeout:
        return Outcome.TIMEOUT, o.health.timeout, 5.0
    return Outcome.OK, latency, 5.0


def _stale(f: Fault, o: Origin, now: float, rng: random.Random) -> Effect:
    """Replication into this bucket stopped an hour before: the canary only tells its age.

    Whether that is too old is the daemon's judgement against the pool's other canaries.
    """
    return Outcome.OK, HEALTHY_LATENCY, now - f.start + 3600.0


_PROBE_EFFECTS: dict[str, Callable[[Fault, Origin, float, random.Random], Effect]] = {
    "outage": _outage,
    "partial": _partial,
    "flap": _flap,
    "slow": _slow,
    "stale": _stale,
    "cutoff": _outage,
    "source_down": _outage,
}


class Route53Faults:
    """Decides, call by call, which active Route 53 fault (if any) strikes."""

    def __init__(self, active: Callable[[], Sequence[Fault]], rng: random.Random) -> None:
        self.active = active
        self.rng = rng

    def __call__(self, operation: str) -> str | None:
        for f in self.active():
            fault = ROUTE53_FAULTS.get(f.kind)
            if fault is None or (fault == "busy" and operation != "ChangeResourceRecordSets"):
                continue
            if self.rng.random() < f.p:
                return fault
        return None


# Hostile documents the garbled store serves in turn, each one a reason `decode` refuses.
GARBLED = (
    b"[" * 1000 + b"]" * 1000,  # 1,000 deep: RecursionError in the parser
    b'{"overrides": {"pool": "www"}}',  # wrong types
    b'{"overrides": [{"pool": 1, "origin": [], "action": "drain"}]}',
    b"\xff\xfe\x00 not text",
    b'{"overrides": [',  # truncated
)


class MemoryOverrides:
    """Overrides as the CLI would leave them in the shared store, kept in memory.

    The active `ovr_*` faults change what a read gives, as the daemon's round sees
    it. The simulation runs the overrides stage inline, so nothing can hang there:
    `ovr_hang` is what the round sees of a hung bucket once the lane's deadline has
    passed (the read fails, the last good overrides stay), without the round
    waiting; `ovr_slow` is a read that lands a round late (the value the store held
    an interval ago); `ovr_refuse` is S3's 403; `ovr_garbled` serves a hostile
    document through the real `decode`.
    `overrides_down` refuses every read too (with a drain in force and a restart meanwhile:
    see the scenario); `served` counts the reads that gave overrides.
    """

    location = "memory://overrides"

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        active: Callable[[], Sequence[Fault]] | None = None,
        late: float = 10.0,
    ) -> None:
        self.current: dict[OriginKey, Override] = {}
        self.clock = clock or (lambda: 0.0)
        self.active = active or (lambda: ())
        self.late = late
        self.history: list[tuple[float, dict[OriginKey, Override]]] = [(float("-inf"), {})]
        self.garbled = 0
        self.served = 0

    def load(self) -> dict[OriginKey, Override]:
        kinds = {f.kind for f in self.active()}
        if "ovr_refuse" in kinds or "overrides_down" in kinds:
            raise OverrideError(
                f"{self.location}: An error occurred (AccessDenied) when calling the "
                "GetObject operation: Access Denied"
            )
        if "ovr_hang" in kinds:
            raise OverrideError(f"{self.location}: Read timeout on endpoint URL (lane deadline)")
        if "ovr_garbled" in kinds:
            self.garbled += 1
            return decode(GARBLED[self.garbled % len(GARBLED)], self.location)
        self.served += 1
        if "ovr_slow" in kinds:
            then = self.clock() - self.late
            return dict(next(o for t, o in reversed(self.history) if t <= then))
        return dict(self.current)

    def save(self, overrides: Mapping[OriginKey, Override]) -> None:
        self.current = dict(overrides)
        self.history.append((self.clock(), dict(overrides)))
        del self.history[:-64]
