"""Which probe results count as evidence about an origin: blindness, and canary freshness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from failover.core import events
from failover.core.events import Event
from failover.model import Origin, OriginKey, Outcome, ProbeResult


def evidence(result: ProbeResult) -> bool:
    """Whether a probe says anything about its origin, when the round is not blind.

    A refusal of the daemon's own credentials, signature or clock (`Outcome.own_fault`)
    never does: S3 turned the request away before looking at the bucket.
    """
    return not result.outcome.own_fault


def blind(results: Mapping[OriginKey, ProbeResult]) -> bool:
    """True when no probe gave evidence: the prober's own network or credentials are suspect.

    Any HTTP answer about an origin, even a 503, proves the network works; a round in
    which every probe failed at the transport level or was refused for the daemon's own
    fault (expired credentials, a skewed clock) says nothing about any origin, and
    freezes writes.
    """
    return bool(results) and all(
        r.outcome.transport_failure or not evidence(r) for r in results.values()
    )


def frozen_edge(was: bool, now: bool) -> list[Event]:
    """The events of writes freezing or thawing between two rounds."""
    if now and not was:
        return [
            events.error(
                "writes_frozen",
                reason="no probe of any origin gave evidence (no HTTP answer, or the "
                "daemon's own credentials or clock refused)",
            )
        ]
    if was and not now:
        return [events.warning("writes_unfrozen")]
    return []


FUTURE_TOLERANCE = 300.0  # seconds a canary's written_at may lie ahead of our clock


@dataclass(frozen=True)
class Freshness:
    """The pool-wide judgement of canary ages: outcomes, canaries from the future, events."""

    results: dict[OriginKey, ProbeResult]
    future: frozenset[OriginKey]
    events: list[Event]


def freshness(
    origins: Sequence[Origin],
    results: Mapping[OriginKey, ProbeResult],
    *,
    future_before: frozenset[OriginKey] = frozenset(),
    tolerance: float = FUTURE_TOLERANCE,
) -> Freshness:
    """Each origin's outcome once its canary is compared with the freshest of its pool.

    Replication copies the canary from one source bucket to every other; a replica is
    stale when it lags the freshest canary read in its pool this round by more than its
    `max_age`. The canary's absolute age is not judged here: when the source Region (or
    the writer) stops, every canary ages together, none lags, and the pool keeps serving
    from its live replicas — judged by absolute age they would all go down at once, the
    pool would fail open and the dead source would go back to full weight.

    A `written_at` more than `tolerance` seconds in the future says nothing about when
    the canary was written (a writer's clock is wrong, or the object was forged): it is
    flagged (`canary_from_future` when it starts, `canary_time_restored` when it ends)
    and never taken as the freshest, which would make every honest canary look stale.
    Its own outcome is left as the probe found it: an origin is not taken out for
    another machine's clock, and if every canary of a pool came from the future,
    failing them all would fail the pool open.
    """
    judged = dict(results)
    future: set[OriginKey] = set()
    said: list[Event] = []
    pools: dict[str, list[Origin]] = {}
    for o in origins:
        pools.setdefault(o.pool, []).append(o)
    for members in pools.values():
        credible = [
            r.age
            for o in members
            if (r := results.get(o.key)) is not None
            and r.outcome.healthy
            and r.age is not None
            and r.age >= -tolerance
        ]
        freshest = min(credible, default=None)
        for o in members:
            r = results.get(o.key)
            if r is None or r.age is None or not r.outcome.healthy:
                if o.key in future_before:
                    future.add(o.key)  # no canary read this round: still unresolved
                continue
            if r.age < -tolerance:
                future.add(o.key)
                judged[o.key] = replace(
                    r, detail=f"canary written_at is {-r.age:.0f}s in the future"
                )
                if o.key not in future_before:
                    said.append(
                        events.warning(
                            "canary_from_future",
                            pool=o.pool,
                            origin=o.id,
                            ahead=round(-r.age, 1),
                            tolerance=tolerance,
                        )
                    )
                continue
            max_age = o.health.max_age
            if max_age <= 0 or freshest is None:
                continue
            lag = r.age - freshest
            if lag > max_age:
                judged[o.key] = replace(
                    r,
                    outcome=Outcome.TOO_OLD,
                    detail=f"canary lags the pool's freshest by {lag:.0f}s (age {r.age:.0f}s)",
                )
    known = {o.key for o in origins}
    said.extend(
        events.info("canary_time_restored", pool=key.pool, origin=key.origin)
        for key in sorted((future_before - future) & known)
    )
    return Freshness(judged, frozenset(future), said)
