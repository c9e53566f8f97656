"""What the runner keeps between rounds: the writes it takes in, the state /status shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from failover import status
from failover.stages.emit import emit
from failover.stages.report import RoundReport
from failover.stages.write import absorb

if TYPE_CHECKING:
    from failover.round import Runner


def snapshot_of(r: Runner) -> status.Snapshot:
    """Copies only: /status and /metrics run beside a round that mutates the runner."""
    wall = r.wall()
    return status.build(
        r.config,
        dict(r.records),
        dict(r.desired),
        dict(r.observe.health),
        dict(r.observe.results),
        {k: r.observe.canary_age(k, wall) for k in list(r.observe.canaries)},
        dict(r.overrides.current),
        frozen=r.frozen,
        dry_run=not r.write,
        ready=r.ready,
        last_round=r.last_round,
        last_change=dict(r.last_change),
        overrides_age=r.overrides.age(),
        cluster=None if r.cluster is None else r.cluster.report(),
    )


def take_written(r: Runner, report: RoundReport) -> None:
    """Take in the writer's finished batch, if any: what landed, what conflicted, what failed."""
    outcome = r.writer.collect()
    if outcome is None:
        return
    for reason in outcome.failures:
        r.metrics.write_failures.labels(reason).inc()
    done = absorb(outcome, r.reader, r.config, r.wall())
    emit(done.events + r.propagation.follow(outcome.landed), r.metrics)
    report.conflicts.extend(outcome.conflicts)
    report.applied.extend(done.applied)
    if done.last_change:
        r.last_change = done.last_change
        r.metrics.applied(r.wall())
