"""The KeyValueStore sink: each store-bound pool's key read on a schedule, plans written by CAS.

Reads and writes run on a lane of their own, one job at a time. A write reads the
store's ETag, then the pool's key; if the key still holds what the plan was made
against, it is written with `IfMatch` on that ETag. A 409 (another key, or another
writer, moved the store) is read again and retried with backoff; a key changed under
us is taken in and re-decided next round. Every write is logged with a change id.

In cluster mode `may_write` (the replica's lease, by its own deadline) is asked right
before each PutKey: a leader paused past its deadline sends none. The store holds no
fence record; past that check only the ETag compare-and-swap guards it (docs/cluster.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from failover.aws.kvs import KvsConflictError, KvsError
from failover.aws.route53 import Record
from failover.core import events
from failover.core import kvs as core
from failover.core.events import Event
from failover.core.plan import Plan, Sets
from failover.metrics import Metrics
from failover.model import Config
from failover.stages.lane import Lane

KVS_DEADLINE = 30.0  # a job past this is reported late (it is still taken when it ends)
ATTEMPTS = 4  # tries of one write against 409s before it waits for the next round
BACKOFF = 0.2  # seconds before the second try; doubled each try after


class KvsStore(Protocol):
    def etag(self) -> str: ...

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str, etag: str) -> str: ...


@dataclass
class Outcome:
    read: dict[str, core.Value | None] = field(default_factory=dict)  # by pool, as found
    resync: bool = False  # `read` is the scheduled re-read (drift is reported from it)
    written: dict[str, core.Value] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # read again before anything is written
    conflicts: list[str] = field(default_factory=list)  # a pool per 409 or lost race
    events: list[Event] = field(default_factory=list)


class KvsStage:
    """What the store holds for each pool, and the one job (read or write) in flight."""

    def __init__(
        self,
        store: KvsStore | None,
        metrics: Metrics,
        config: Config,
        *,
        background: bool,
        clock: Callable[[], float],
        sleep: Callable[[float], object] = time.sleep,
        may_write: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.may_write = may_write  # cluster mode: whether this replica's lease allows it
        self.metrics = metrics
        self.config = config  # the config in force (the round's, a reload's)
        self.clock = clock
        self.sleep = sleep
        self.lane: Lane[Outcome] = Lane("kvs", background=background, clock=clock)
        self.values: dict[str, core.Value | None] = {}  # by pool: what the store holds
        self.stale: set[str] = set()  # pools to read again before writing them
        self.synced: float | None = None
        self.judged: dict[str, Sets] = {}
        self._said: list[Event] = []
        self._missing_reported = False

    @property
    def _pools(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.config.pools if core.writes_store(p))

    @property
    def readable(self) -> bool:
        """Every pool that writes to the store has been read from it at least once."""
        return all(name in self.values for name in self._pools)

    def records(self, route53: Mapping[str, Record]) -> dict[str, Record]:
        """Route 53's records, and for each store-only pool read, the store's as a record:
        health and the plan start from what the pool's sink holds."""
        self._said.extend(self._collect())
        judged = core.plan_input(self.config, {n: r.sets for n, r in route53.items()}, self.values)
        out = dict(route53)
        for pool in self.config.pools:
            if not core.writes_route53(pool) and pool.name in judged:
                out[pool.name] = Record(dict(judged[pool.name]))
        return out

    def sets(self, records: Mapping[str, Sets]) -> dict[str, Sets]:
        """What the plan judges each pool against (see `core.kvs.plan_input`)."""
        self.judged = core.plan_input(self.config, records, self.values)
        return self.judged

    def start(
        self,
        config: Config,
        decided: Plan,
        now: float,
        change_ids: Callable[[], str],
        *,
        write: bool,
    ) -> list[Event]:
        """Start the due read or the plan's writes; return what was said since last round."""
        said, self._said = self._said, []
        if not self._pools:
            return said
        if self.store is None:
            if not self._missing_reported:
                self._missing_reported = True
                said.append(events.error("kvs_unavailable", reason="no [kvs] store client"))
            return said
        if not self.lane.idle:
            return said + self._collect()
        due = [n for n in self._pools if n not in self.values or n in self.stale]
        resync = not due and (self.synced is None or now - self.synced >= config.daemon.resync)
        planned, refused = core.writes(config, self.judged, decided, self.values)
        said.extend(refused)
        jobs = [(change_ids(), w) for w in planned if w.pool not in due]
        if resync:  # a pool written now is read by its write: no need to read it twice
            due = [n for n in self._pools if n not in {w.pool for _, w in jobs}]
        said.extend(
            events.info(
                "kvs_weights_planned",
                change_id=cid,
                pool=w.pool,
                seq=w.new.seq,
                dry_run=not write,
                changes=w.describe(),
            )
            for cid, w in jobs
        )
        if not write:
            jobs = []
        if due or jobs:
            self.lane.start(lambda: self._job(due, resync, jobs), KVS_DEADLINE)
        return said + self._collect()

    # -- taking a job in -------------------------------------------------------------
    def _collect(self) -> list[Event]:
        late = self.lane.late()
        future = self.lane.take()
        if future is None:
            return [] if late is None else [events.error("kvs_late", seconds=round(late, 3))]
        out = future.result()
        said = list(out.events)
        for name, found in out.read.items():
            known = name in self.values
            if out.resync and known and self.values[name] != found:
                self.metrics.kvs.drift.labels(name).inc()
                said.append(
                    events.warning(
                        "kvs_drift_found",
                        pool=name,
                        expected=_show(self.values[name]),
                        found=_show(found),
                    )
                )
            self.values[name] = found
            self.stale.discard(name)
        if out.resync:
            self.synced = self.clock()
        for name, value in out.written.items():
            self.values[name] = value
            self.metrics.kvs.writes.labels(name).inc()
        for name in out.conflicts:
            self.metrics.kvs.conflicts.labels(name).inc()
        self.stale |= out.failed
        return said

    # -- on the lane -------------------------------------------------------------------
    def _job(self, due: list[str], resync: bool, jobs: list[tuple[str, core.Write]]) -> Outcome:
        assert self.store is not None  # noqa: S101 - start() checks
        out = Outcome(resync=resync)
        for name in due:
            try:
                out.read[name] = core.decode(self.store.get(name))
            except KvsError as e:
                out.failed.add(name)
                out.events.append(events.error("kvs_read_failed", pool=name, error=str(e)))
        for change_id, w in jobs:
            self._write(self.store, change_id, w, out)
        return out

    def _write(self, store: KvsStore, change_id: str, w: core.Write, out: Outcome) -> None:
        for attempt in range(ATTEMPTS):
            if attempt:
                self.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                etag = store.etag()  # first: a write after it makes the PUT stale
                held = core.decode(store.get(w.pool))
                if held != w.old:
                    out.read[w.pool] = held
                    if held is not None and held.weights == w.new.weights:
                        out.events.append(
                            events.info("kvs_already_applied", change_id=change_id, pool=w.pool)
                        )
                    else:
                        out.conflicts.append(w.pool)
                        out.events.append(
                            events.warning(
                                "kvs_change_conflict",
                                change_id=change_id,
                                pool=w.pool,
                                expected=_show(w.old),
                                found=_show(held),
                                reason="the pool's value changed since it was read; "
                                "re-decided next round",
                            )
                        )
                    return
                if self.may_write is not None and not self.may_write():
                    out.failed.add(w.pool)  # whoever leads now decides it afresh
                    out.events.append(
                        events.error(
                            "kvs_write_refused_fenced",
                            change_id=change_id,
                            pool=w.pool,
                            reason="this replica no longer holds the lease, or its deadline "
                            "has passed",
                        )
                    )
                    return
                store.put(w.pool, core.encode(w.new), etag)
            except KvsConflictError as e:
                out.conflicts.append(w.pool)
                out.events.append(
                    events.warning(
                        "kvs_change_conflict",
                        change_id=change_id,
                        pool=w.pool,
                        attempt=attempt + 1,
                        error=str(e),
                    )
                )
                continue
            except KvsError as e:
                out.failed.add(w.pool)  # it may have landed: read again before deciding
                out.events.append(
                    events.error("kvs_write_failed", change_id=change_id, pool=w.pool, error=str(e))
                )
                return
            out.written[w.pool] = w.new
            out.events.append(
                events.warning(
                    "kvs_weights_applied",
                    change_id=change_id,
                    pool=w.pool,
                    seq=w.new.seq,
                    changes=w.describe(),
                )
            )
            return
        out.failed.add(w.pool)
        out.events.append(
            events.error("kvs_write_gave_up", change_id=change_id, pool=w.pool, attempts=ATTEMPTS)
        )


def _show(value: core.Value | None) -> dict[str, int] | None:
    return None if value is None else dict(value.weights)
