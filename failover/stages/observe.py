"""The observe stage: one probe of every origin, judged pool-wide, and each health stepped."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from failover.aws.route53 import Record
from failover.core import events, evidence, health
from failover.core.events import Event
from failover.core.views import stale_after
from failover.metrics import Metrics
from failover.model import Config, Health, Origin, OriginKey, ProbeResult


class Prober(Protocol):
    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]: ...


class ObserveStage:
    """Holds each origin's health and its last probe between rounds."""

    def __init__(self) -> None:
        self.health: dict[OriginKey, Health] = {}
        self.results: dict[OriginKey, ProbeResult] = {}
        self.canaries: dict[OriginKey, tuple[float, float]] = {}  # age, and when (unix) seen
        self.future: frozenset[OriginKey] = frozenset()  # canaries written in the future
        self.probed_at: float | None = None  # monotonic: when the last round's probes answered

    def retarget(self, before: Sequence[Origin], after: Sequence[Origin]) -> None:
        """Keep the health of origins a reload leaves pointing at the same thing.

        Health earned by a bucket is no evidence for another one: an origin whose
        bucket, Region or canary changed starts over, as at a restart.
        """
        old = {o.key: o.target for o in before}
        keep = {o.key for o in after if old.get(o.key) == o.target}
        self.health = {k: h for k, h in self.health.items() if k in keep}

    def run(
        self,
        prober: Prober,
        config: Config,
        records: Mapping[str, Record],
        metrics: Metrics,
        *,
        clock: Callable[[], float],
        wall: Callable[[], float],
    ) -> tuple[bool, list[Event]]:
        """Probe every origin; step health where Route 53 has been read; True if blind.

        Evidence is dated when the probes have answered, not when they were sent.
        """
        origins = config.all_origins()
        probed = prober.probe_all(origins)
        now, seen = clock(), wall()
        blind = evidence.blind(probed)
        said: list[Event] = self._after_gap(now, stale_after(config.daemon.interval))
        # Canary freshness is judged across each pool before any health is stepped: the
        # prober reports each canary's age, only the pool as a whole says which is stale.
        fresh = evidence.freshness(origins, probed, future_before=self.future)
        self.future = fresh.future
        results = self.results = fresh.results
        said.extend(fresh.events)
        for o in origins:
            result = results[o.key]
            metrics.observe_probe(o.region, result)
            if result.age is not None:
                self.canaries[o.key] = (result.age, seen)
            # Health starts from what Route 53 holds (hold-down, slow start), so none is
            # kept for a pool whose record has never been read.
            record = records.get(o.pool)
            if record is None:
                continue
            new, events = health.observe(
                o, self.health.get(o.key), applied_fraction(o, record), result, now, blind=blind
            )
            self.health[o.key] = new
            said.extend(events)
        return blind, said

    def _after_gap(self, now: float, limit: float) -> list[Event]:
        """A process stopped or starved between two rounds (a pause, a stalled host) comes
        back with verdicts on evidence from before: its down verdicts go stale, as after a
        blind spell (a failure seen now confirms one at once). In cluster mode a stale
        verdict is no vote: seed 3001's leader, paused 166 s mid-round, came back voting
        an origin down on probes from before an outage ended, and with another replica's
        cut path made a quorum that took the origin out again."""
        last, self.probed_at = self.probed_at, now
        if last is None or now - last <= limit:
            return []
        downs = [k for k, h in self.health.items() if health.gone_stale(h) is not h]
        self.health = {k: health.gone_stale(h) for k, h in self.health.items()}
        return [
            events.warning(
                "probe_gap",
                seconds=round(now - last, 1),
                limit=limit,
                stale=[f"{k.pool}/{k.origin}" for k in downs],
            )
        ]

    def canary_age(self, key: OriginKey, wall: float) -> float | None:
        """The age of the canary last read from an origin, now: it grows while none is read."""
        seen = self.canaries.get(key)
        return None if seen is None else seen[0] + max(0.0, wall - seen[1])


def applied_fraction(origin: Origin, record: Record) -> float | None:
    """How much of its weight Route 53 gives `origin`, for health to resume from (None: nothing)."""
    held = record.sets.get(origin.id)
    if held is None or origin.weight <= 0:
        return None
    if origin.standby and held.weight == 0:
        # Idle is where a standby rests: its 0 says it was never taken out, so a restart
        # holds it down for nothing (it would leave a dead primary serving meanwhile).
        return None
    return held.weight / origin.weight
