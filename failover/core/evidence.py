"""Which probe results count as evidence about an origin, and when the prober itself is blind."""

from __future__ import annotations

from collections.abc import Mapping

from failover.core import events
from failover.core.events import Event
from failover.model import OriginKey, ProbeResult


def blind(results: Mapping[OriginKey, ProbeResult]) -> bool:
    """True when not one probe got an HTTP answer: the prober's own network is suspect.

    Any HTTP answer, even a 503, proves the network works; only a round in which
    every probe of every origin failed at the transport level freezes writes.
    """
    return bool(results) and all(r.outcome.transport_failure for r in results.values())


def frozen_edge(was: bool, now: bool) -> list[Event]:
    """The events of writes freezing or thawing between two rounds."""
    if now and not was:
        return [events.error("writes_frozen", reason="no probe of any origin got an HTTP answer")]
    if was and not now:
        return [events.warning("writes_unfrozen")]
    return []
