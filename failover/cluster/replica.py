"""One replica's part in the cluster, each round: publish its view, keep the lease, merge if leading.

The table is reached on a lane of its own: a slow or unreachable table delays
nothing but the table's own work, so probing and /status go on, and once the
lease's own deadline passes the leader writes nothing (`Fencer` asks `may_write`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from failover import logs
from failover.cluster.table import ConditionFailed
from failover.core import events, quorum, views
from failover.core import lease as leases
from failover.core.events import Event
from failover.core.lease import Item, Lease
from failover.core.quorum import Merged, Vote
from failover.core.views import Unreadable, View
from failover.errors import FailoverError
from failover.model import ClusterSettings, Config, Health, OriginKey, WeightedSet
from failover.stages.lane import Lane

TABLE_OPS = ("GetItem", "PutItem", "DeleteItem", "Query")


class TablePort(Protocol):
    """What a replica needs of the table (failover.cluster.table.Table, or a fake)."""

    def read_lease(self) -> Item | None: ...

    def write_lease(self, write: leases.Write) -> None: ...

    def read_views(self) -> list[dict[str, object]]: ...

    def publish(self, items: Sequence[Mapping[str, object]], previous_shards: int) -> None: ...


class Freshness(Protocol):
    """When Route 53 was last read (failover.stages.records.RecordsStage)."""

    def read_before(self, config: Config, t: float) -> bool: ...


class ClusterMetrics:
    """failover_cluster_*: leadership, epoch, live replicas, quorum, disagreements, view ages."""

    def __init__(self, registry: CollectorRegistry) -> None:
        p = "failover_cluster_"
        self.leader = Gauge(
            p + "leader", "1 while this replica holds the lease.", registry=registry
        )
        self.epoch = Gauge(p + "epoch", "The lease epoch last seen.", registry=registry)
        self.live = Gauge(p + "replicas_live", "Live views, by this reader.", registry=registry)
        self.quorum = Gauge(p + "quorum", "Views needed to mark down or up.", registry=registry)
        self.disagreements = Gauge(
            p + "disagreements", "Origins on which live views differ.", registry=registry
        )
        self.view_age = Gauge(
            p + "view_age_seconds",
            "Seconds since a replica's view last advanced, by this reader's clock.",
            ["replica"],
            registry=registry,
        )
        self.table_errors = Counter(
            p + "table_errors", "Failed calls to the cluster table.", ["op"], registry=registry
        )
        for op in TABLE_OPS:
            self.table_errors.labels(op)

    def table_error(self, op: str) -> None:
        self.table_errors.labels(op).inc()


@dataclass
class Called:
    """What one call to the table came to (made on the lane)."""

    lease: Lease
    views: list[View | Unreadable] = field(default_factory=list)
    read_at: float = 0.0
    shards: int = 0
    seq: int = 0
    error: str = ""


class Replica:
    """A replica's cluster state between rounds; the round calls `collect`, `start`, `inputs`."""

    def __init__(
        self,
        settings: ClusterSettings,
        me: str,
        table: TablePort,
        *,
        interval: float,
        background: bool,
        clock: Callable[[], float] = time.monotonic,
        metrics: ClusterMetrics | None = None,
    ) -> None:
        self.settings, self.me, self.table = settings, me, table
        self.interval, self.clock, self.metrics = interval, clock, metrics
        self.lane: Lane[Called] = Lane("cluster-table", background=background, clock=clock)
        self.lease = leases.new(me, settings.lease_seconds, settings.lease_margin_seconds)
        self.seq = 0  # of the last view published (seeded from the table at the first call)
        self.shards = 0
        self.views: dict[str, View | Unreadable] = {}
        self.seen: dict[str, views.Seen] = {}
        self.merged: dict[OriginKey, Health] = {}
        self.last: Merged | None = None
        self.led_epoch = 0
        self.led_since = float("-inf")
        self.table_error = ""
        self._lock = threading.Lock()

    @property
    def stale_after(self) -> float:
        """How long a view may go without advancing and still count: three rounds and more."""
        return views.stale_after(self.interval)

    def may_write(self) -> tuple[int, bool]:
        """For the fence: the epoch held, and whether the lease's own deadline allows a write."""
        lease = self.lease
        return lease.epoch, lease.may_write(self.clock())

    def leading(self) -> bool:
        return self.lease.may_write(self.clock())

    # -- the table, on the lane ---------------------------------------------------------
    def start(self, health: Mapping[OriginKey, Health], blind: bool) -> None:
        """Publish this round's view and keep the lease, off the round (one call at a time)."""
        if not self.lane.idle:
            return
        votes = {k: v for k, h in health.items() if (v := quorum.vote_of(h)) is not Vote.UP}
        lease, seq, shards = self.lease, self.seq, self.shards
        self.lane.start(lambda: self._call(lease, votes, blind, seq, shards), 3 * self.interval)

    def _call(
        self, lease: Lease, votes: Mapping[OriginKey, Vote], blind: bool, seq: int, shards: int
    ) -> Called:
        out = Called(lease, seq=seq, shards=shards)
        try:
            if seq == 0:  # continue from this replica's last life: readers see seq move on
                found = self.table.read_views()
                mine = [v for v in views.decode(found) if v.replica == self.me]
                seq = max((v.seq for v in mine if isinstance(v, View)), default=0)
                # Shards that life left (say a Region-down view of two) are dropped by the
                # first publish: left behind, every reader's Query would pay for them.
                left = [i.get("shard") for i in found if i.get("replica") == self.me]
                shards = 1 + max((s for s in left if isinstance(s, int)), default=0)
            items = views.encode(View(self.me, seq + 1, blind, votes))
            self.table.publish(items, shards)
            out.seq, out.shards = seq + 1, len(items)
            out.views = views.decode(self.table.read_views())
            out.read_at = self.clock()
            out.lease = leases.observe(lease, self.table.read_lease(), self.clock())
            out.lease = self._keep(out.lease)
        except FailoverError as e:
            out.error = str(e)
        return out

    def _keep(self, lease: Lease) -> Lease:
        write = leases.next_write(lease, self.clock())
        if write is None:
            return lease
        try:
            self.table.write_lease(write)
        except ConditionFailed:
            return leases.written(lease, write, False, self.clock())  # someone else wrote it
        except FailoverError:
            # No answer: it may have landed. What was held keeps its deadline, counted from
            # an earlier send; the next read says which it was.
            return lease
        return leases.written(lease, write, True, self.clock())

    def collect(self) -> list[Event]:
        """Take the last call's outcome in: the lease, the views, and what to say of them."""
        said: list[Event] = []
        late = self.lane.late()
        if late is not None:
            said.append(events.error("cluster_table_late", seconds=round(late, 3)))
        future = self.lane.take()
        if future is None:
            return said
        called = future.result()
        was = self.lease
        self.seq, self.shards = called.seq, called.shards
        if called.error:
            if not self.table_error:
                said.append(events.error("cluster_table_failed", error=called.error))
            self.table_error = called.error
            return said
        if self.table_error:
            said.append(events.warning("cluster_table_recovered"))
        self.table_error = ""
        with self._lock:
            self.lease = called.lease
            self.views = {v.replica: v for v in called.views}
            read = [v for v in called.views if isinstance(v, View)]
            self.seen = views.watch(self.seen, read, called.read_at)
        if self.lease.seen is not None:
            logs.bind_process(replica=self.me, epoch=self.lease.seen.epoch)
        now = self.lease.held is not None
        if now and self.lease.epoch != self.led_epoch:
            self.led_epoch = self.lease.epoch
            self.led_since = self.clock()
            self.merged = {}  # a new term starts from what Route 53 holds
            said.append(events.warning("leadership_taken", epoch=self.lease.epoch))
        elif was.held is not None and not now:
            said.append(events.warning("leadership_lost", epoch=was.epoch))
        return said

    # -- the round's one call ----------------------------------------------------------
    def round(
        self,
        config: Config,
        health: Mapping[OriginKey, Health],
        blind: bool,
        records: Mapping[str, Mapping[str, WeightedSet]],
        fresh: Freshness | None = None,
    ) -> tuple[bool, dict[OriginKey, Health], bool, list[Event]]:
        """Publish this round's view; if leading, the health and freeze policy should use.

        Returns (leading, health, frozen, events). A replica that does not lead plans and
        writes nothing; the leader's health comes from the quorum, its own blindness
        counts only as its own view does. A new term waits, frozen, for a read of Route
        53 made since it began (`fresh`): a follower reads seldom, and a merge seeded
        from an old read would restart a slow start from the weight it held then.
        """
        said = self.collect()
        self.start(health, blind)
        said += self.collect()  # inline (tests, the simulation): the call is done already
        if not self.leading():
            self._export()
            return False, dict(health), blind, said
        if fresh is not None and fresh.read_before(config, self.led_since):
            self.merged = {}
            self._export()
            return True, dict(health), True, said
        merged, lost, more = self.inputs(config, records)
        self._export()
        return True, merged, lost, said + more

    # -- the leader's merge -------------------------------------------------------------
    def inputs(
        self, config: Config, records: Mapping[str, Mapping[str, WeightedSet]]
    ) -> tuple[dict[OriginKey, Health], bool, list[Event]]:
        """Health for policy from the quorum of views, and whether to freeze (quorum lost)."""
        now = self.clock()
        with self._lock:
            read = [v for v in self.views.values() if isinstance(v, View)]
            ballots = views.ballots(read, self.seen, now, self.stale_after)
        origins = config.all_origins()
        merged = quorum.merge((o.key for o in origins), ballots, self.settings.needed)
        said: list[Event] = []
        was_lost = self.last is not None and self.last.lost
        # A new term has seen no view advance yet: its first rounds are frozen, quietly.
        warming = now - self.led_since < self.stale_after
        if merged.lost and not was_lost and not warming:
            said.append(
                events.error(
                    "quorum_lost",
                    live=merged.counted,
                    quorum=merged.quorum,
                    epoch=self.lease.epoch,
                    reason="fewer live, non-blind views than the quorum: nothing is marked "
                    "down or up",
                )
            )
        elif was_lost and not merged.lost:
            said.append(events.warning("quorum_regained", live=merged.counted))
        if not (merged.lost and warming):
            self.last = merged
        out: dict[OriginKey, Health] = {}
        for o in origins:
            held = records.get(o.pool, {}).get(o.id)
            fraction = None if held is None or o.weight <= 0 else held.weight / o.weight
            h = quorum.advance(
                self.merged.get(o.key), merged.verdicts[o.key], now, o.health, fraction
            )
            out[o.key] = self.merged[o.key] = h
        return out, merged.lost, said

    # -- seeing it ----------------------------------------------------------------------
    def report(self) -> dict[str, object]:
        """What /status shows and metrics export: leader, epoch, every view and its age."""
        now = self.clock()
        with self._lock:
            lease, seen, found = self.lease, dict(self.seen), dict(self.views)
        replicas: dict[str, object] = {}
        for name, v in sorted(found.items()):
            s = seen.get(name)
            entry: dict[str, object] = {
                "live": views.live(s, now, self.stale_after),
                "age": None if s is None else round(now - s.since, 1),
            }
            if isinstance(v, View):
                entry.update(
                    seq=v.seq,
                    blind=v.blind,
                    down=sorted(str(k) for k, x in v.votes.items() if x is Vote.DOWN)[:50],
                    not_up=len(v.votes),
                )
            else:
                entry["unreadable"] = v.why
            replicas[name] = entry
        seen_item = lease.seen
        out: dict[str, object] = {
            "replica": self.me,
            "leader": None if seen_item is None or not seen_item.holder else seen_item.holder,
            "epoch": None if seen_item is None else seen_item.epoch,
            "leading": lease.may_write(now),
            "quorum": self.settings.needed,
            "replicas": self.settings.replicas,
            "live": None if self.last is None else self.last.counted,
            "quorum_lost": None if self.last is None else self.last.lost,
            "disagreements": None if self.last is None else self.last.disagreements,
            "views": replicas,
            "table_error": self.table_error or None,
        }
        return out

    def _export(self) -> None:
        """The cluster's gauges, once a round."""
        m = self.metrics
        if m is None:
            return
        now = self.clock()
        with self._lock:
            lease, seen = self.lease, dict(self.seen)
        m.leader.set(1 if lease.may_write(now) else 0)
        m.epoch.set(0 if lease.seen is None else lease.seen.epoch)
        m.quorum.set(self.settings.needed)
        m.live.set(sum(1 for s in seen.values() if views.live(s, now, self.stale_after)))
        m.disagreements.set(0 if self.last is None else self.last.disagreements)
        for name, s in seen.items():
            m.view_age.labels(name).set(round(now - s.since, 1))

    # -- stopping -----------------------------------------------------------------------
    def release(self) -> bool:
        """Give the lease up (SIGTERM), so another replica takes it without waiting.

        The item is read again first: a renewal still in flight on the lane may have
        moved it on. Only a lease this replica holds in its own epoch is given up.
        """
        epoch = self.lease.epoch
        if epoch < 1:
            return False
        for _ in range(2):
            try:
                item = self.table.read_lease()
            except FailoverError:
                return False
            if item is None or item.holder != self.me or item.epoch != epoch:
                return False
            held = dataclasses.replace(self.lease, held=item)
            write = leases.release(held, self.clock())
            if write is None:
                return False
            try:
                self.table.write_lease(write)
            except FailoverError:
                continue  # moved on under us (a renewal landing): read it once more
            self.lease = leases.written(held, write, True, self.clock())
            return True
        return False
