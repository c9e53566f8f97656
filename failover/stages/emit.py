"""The last stage of every round: say what the core and the stages returned, in logs and metrics."""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from failover.core.events import Event
from failover.metrics import Metrics
from failover.model import State

log = structlog.get_logger("failover")


def emit(said: Iterable[Event], metrics: Metrics) -> None:
    """Log each event at its level, and count the ones a metric follows."""
    for e in said:
        getattr(log, e.level.value)(e.name, **e.fields)
        f = e.fields
        if e.name in ("origin_marked_down", "origin_marked_up"):
            metrics.transition(f["pool"], f["origin"], State(f["was"]), State(f["to"]))
        elif e.name == "writes_refused":
            metrics.writes_refused.labels(f["pool"]).inc()
        elif e.name == "ttl_mismatch":
            metrics.record_problems.labels(f["pool"], "ttl_mismatch").inc()
        elif e.name == "write_refused_unowned":
            for pool in f["pools"]:
                metrics.record_problems.labels(pool, "unowned_refused").inc()
        elif e.name == "change_in_sync":
            metrics.propagation_seconds.observe(f["seconds"])
