"""Which probe results count as evidence about an origin, and when the prober itself is blind."""

from __future__ import annotations

from collections.abc import Mapping

from failover.core import events
from failover.core.events import Event
from failover.model import OriginKey, ProbeResult


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
