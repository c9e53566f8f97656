"""One round of the daemon: it only sequences the stages, and emits what they return."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from failover import status
from failover.aws.route53 import Record
from failover.cluster.replica import Replica
from failover.core import fence, kvs, plan
from failover.core.evidence import frozen_edge
from failover.metrics import Metrics
from failover.model import Config, Desired
from failover.overrides import OverrideStore
from failover.stages.backstop import CheckMemory
from failover.stages.emit import emit
from failover.stages.kvs import KvsStage, KvsStore
from failover.stages.observe import ObserveStage, Prober
from failover.stages.overrides import OverridesStage
from failover.stages.propagation import ChangeReader, PropagationStage
from failover.stages.records import Reader, RecordsStage
from failover.stages.report import RoundReport, new_change_id
from failover.stages.snapshot import snapshot_of, take_written
from failover.stages.write import Writer, WriteStage, planned

log = structlog.get_logger("failover")
__all__ = ["RoundReport", "Runner", "Store", "new_change_id"]


class Store(Reader, Writer, ChangeReader, Protocol):
    """Route 53 as the round sees it: read records, send batches, follow them to INSYNC."""


class Runner:
    """Holds the stages between rounds; `run_round` never raises.

    `background` runs Route 53 reads, writes and overrides reads on lanes of their
    own (the daemon); otherwise each completes within the round that starts it.
    """

    def __init__(
        self,
        config: Config,
        prober: Prober,
        store: Store,
        overrides: OverrideStore,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        change_ids: Callable[[], str] = new_change_id,
        write: bool = True,
        background: bool = False,
        kvs: KvsStore | None = None,
        cluster: Replica | None = None,
    ) -> None:
        self.config = config
        self.prober = prober
        self.metrics = metrics
        self.clock, self.wall, self.change_ids = clock, wall, change_ids
        self.allow_write = write
        self.store_ = store
        self.observe = ObserveStage()
        self.reader = RecordsStage(store, background=background, clock=clock)
        self.writer = WriteStage(store, background=background, clock=clock)
        self.overrides = OverridesStage(
            overrides, background=background, clock=clock, grace=config.daemon.overrides_grace
        )
        self.propagation = PropagationStage(store, background=background, clock=clock)
        self.kvs = KvsStage(
            kvs, metrics, config, background=background, clock=clock,
            may_write=None if cluster is None else cluster.leading,  # as the fence asks
        )  # fmt: skip
        self.desired: dict[str, Desired] = {}
        self.checks = CheckMemory()  # a re-created backstop set gets its health check back
        self.frozen = False
        self.last_round: float | None = None
        self.last_change: dict[str, object] = {}
        self.rounds = 0
        # Cluster mode: only the lease holder plans, on the quorum's verdicts.
        self.cluster = cluster
        self._lock = threading.Lock()
        metrics.track(config.all_origins())

    @property
    def write(self) -> bool:
        return self.allow_write and not self.config.daemon.dry_run

    @property
    def store(self) -> Store:
        return self.store_

    @store.setter
    def store(self, store: Store) -> None:
        self.store_ = self.reader.reader = self.writer.store = self.propagation.store = store

    @property
    def records(self) -> dict[str, Record]:
        return self.kvs.records(self.reader.records)  # with the store's, for store-only pools

    def reconfigure(self, config: Config) -> None:
        """Take a new config, keeping the memory of origins it still names."""
        with self._lock:
            self.observe.retarget(self.config.all_origins(), config.all_origins())
            self.config = self.kvs.config = config
            self.overrides.grace = config.daemon.overrides_grace
            self.reader.forget_schedule(config)  # names or zones may have changed
            self.writer.reconfigure(config)
            self.metrics.track(config.all_origins())

    def run_round(self) -> RoundReport:
        started = time.monotonic()
        report = RoundReport()
        try:
            with self._lock:
                self._round(report)
            self.last_round = self.wall()
            self.rounds += 1
            self.metrics.round_completed(self.last_round)
        except Exception as e:  # a round must never take the daemon down
            report.error = f"{type(e).__name__}: {e}"
            log.exception("round_failed", error=report.error)
        finally:
            self.metrics.round_seconds.observe(time.monotonic() - started)
        return report

    def _round(self, report: RoundReport) -> None:
        cfg, r53, m = self.config, kvs.route53_part(self.config), self.metrics
        self._take_written(report)
        emit(self.propagation.collect(), m)
        emit(self.reader.collect(r53, self.clock()) + self.overrides.collect(), m)
        self.reader.start(r53, self.clock(), self.writer.sending)
        self.overrides.start()
        emit(self.reader.collect(r53, self.clock()) + self.overrides.collect(), m)
        blind, said = self.observe.run(
            self.prober, cfg, self.records, m, clock=self.clock, wall=self.wall
        )
        emit(said + frozen_edge(self.frozen, blind), m)
        self.frozen = report.frozen = blind
        report.results = self.observe.results
        sets, health, frozen = (
            {n: r.sets for n, r in self.records.items()},
            self.observe.health,
            blind,
        )
        if self.cluster is not None:
            lead, health, frozen, said = self.cluster.round(cfg, health, blind, sets, self.reader)
            emit(said, m)
            if not lead:
                return
            if (fences := self.writer.unfenced(cfg)) and self.writer.lane.idle:
                self.writer.fence(self.change_ids(), fences)  # a new leader bumps every fence first
                self._take_written(report)
        decided = plan.make(
            cfg,
            self.kvs.sets(sets),
            health,
            self.overrides.current,
            overrides_known=not self.overrides.holding,
            frozen=frozen,
            was_open={n: d.failed_open for n, d in self.desired.items()},
            now=self.clock(),
            reserve=(0, 0) if self.cluster is None else fence.RESERVE,
        )
        emit(decided.events, m)
        for name, p in decided.pools.items():
            self.desired[name] = report.desired[name] = p.desired
            if p.refused:
                report.refused.append(name)
        emit(self.kvs.start(cfg, decided, self.clock(), self.change_ids, write=self.write), m)
        sendable = kvs.route53_batches(cfg, decided.batches)  # less pools only the store gets
        armed = self.checks.rearm(cfg, self.records, sendable)
        if armed and self.writer.lane.idle:
            batches = [(self.change_ids(), b) for b in armed]
            emit(planned(batches, dry_run=not self.write), m)
            report.planned.extend(c for _, b in batches for c in b.changes)
            if self.write:
                self.writer.start(cfg, batches)
                self._take_written(report)
        if self.writer.lane.idle:  # a poll never competes with a write in flight
            self.propagation.start(self.clock())

    def _take_written(self, report: RoundReport) -> None:
        take_written(self, report)

    def snapshot(self) -> status.Snapshot:
        return snapshot_of(self)

    @property
    def ready(self) -> bool:
        """A full round has completed and the last read of Route 53 succeeded."""
        return self.rounds > 0 and self.reader.readable and self.kvs.readable
