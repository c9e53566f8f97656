"""What Route 53 holds: reads on their own lane and schedule, answers absorbed into one cache."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from failover.aws.route53 import Record
from failover.core import events, records
from failover.core.events import Event
from failover.core.kvs import route53_part
from failover.core.records import Pending
from failover.errors import Route53Error
from failover.model import Change, Config, OriginKey, Pool
from failover.stages.lane import Lane


class Reader(Protocol):
    def read(self, zone_id: str, names: Sequence[str]) -> dict[str, Record]: ...


@dataclass(frozen=True)
class ZoneRead:
    zone_id: str
    found: dict[str, Record] | None  # None: the read failed
    error: str = ""


# How long a read of Route 53 may take before it is reported late: a zone of 10,000
# records is 34 pages at the shared rate limit, so this is generous on purpose.
READ_DEADLINE = 60.0


class RecordsStage:
    """Holds the last read of every pool's record, and reads each zone when it is due.

    A zone is due `resync` seconds after it was last read; every zone never read is
    read first. Reading one due zone per call spreads the reads, so reads stay one
    scan per zone per `resync`. The reads run on their own lane: a slow or failing
    Route 53 leaves the cache as it was and never holds the round.
    """

    def __init__(self, reader: Reader, *, background: bool, clock: Callable[[], float]) -> None:
        self.reader = reader
        self.lane: Lane[list[ZoneRead]] = Lane("route53-read", background=background, clock=clock)
        self.records: dict[str, Record] = {}  # by pool name
        # Which zone and name each held record was read under: a reload may rename a
        # pool's record, and what was read under the old name is not the pool's any more.
        self.source: dict[str, tuple[str, str]] = {}
        self.synced: dict[str, float] = {}  # zone id → when it was last read (monotonic)
        self.unsettled: dict[OriginKey, Pending] = {}
        self.drifted: set[OriginKey] = set()
        self.readable = False
        # Sets written while a read was in flight: the read may predate the write.
        self._written_during_read: set[OriginKey] = set()

    def forget_schedule(self, config: Config | None = None) -> None:
        """Names or zones may have changed: read every zone again.

        Given the new config, a record held for a pool whose zone or name changed (or
        that is gone) is forgotten with whatever was pending on it: until its new
        name is read, the pool is unread and nothing of it is written, so a failed
        read after a rename can never turn the old name's sets into changes.
        """
        self.synced = {}
        if config is None:
            return
        now = {p.name: (p.zone_id, p.record) for p in config.pools}
        for name in list(self.records):
            if self.source.get(name) != now.get(name):
                self.records.pop(name)
                self.source.pop(name, None)
        gone = {k for k in self.unsettled if k.pool not in self.records}
        for k in gone:
            self.unsettled.pop(k)
        self.drifted = {k for k in self.drifted if k.pool in self.records}
        self._written_during_read = {k for k in self._written_during_read if k.pool in self.records}
        self.readable = False

    def read_before(self, config: Config, t: float) -> bool:
        """Whether some zone of `config` was last read before `t` (or never): those are
        read first at the next start. A new leader plans on nothing older than its term."""
        stale = False
        for z in _zones(route53_part(config).pools):  # zones of store-only pools are never read
            if z not in self.synced or self.synced[z] < t:
                self.synced.pop(z, None)
                stale = True
        return stale

    # -- reading ----------------------------------------------------------------------
    def start(self, config: Config, now: float, in_flight: Iterable[OriginKey]) -> None:
        if not self.lane.idle:
            return
        zones = _zones(config.pools)
        if not zones:  # every pool's weights go only to the KeyValueStore
            self.readable = True
        unread = [z for z in zones if z not in self.synced]
        due = sorted(
            (self.synced[z], z)
            for z in zones
            if z in self.synced and now - self.synced[z] >= config.daemon.resync
        )
        todo = unread or [z for _, z in due[:1]]
        if not todo:
            return
        self._written_during_read = set(in_flight)
        jobs = [(z, [p.record for p in zones[z]]) for z in todo]
        self.lane.start(lambda: [self._read(z, names) for z, names in jobs], READ_DEADLINE)

    def _read(self, zone_id: str, names: list[str]) -> ZoneRead:
        try:
            return ZoneRead(zone_id, self.reader.read(zone_id, names))
        except Route53Error as e:
            return ZoneRead(zone_id, None, str(e))

    def collect(self, config: Config, now: float) -> list[Event]:
        """Take a finished read into the cache; report one that is late."""
        said: list[Event] = []
        late = self.lane.late()
        if late is not None:
            said.append(events.error("route53_read_late", seconds=round(late, 3)))
            self.readable = False
        future = self.lane.take()
        if future is None:
            return said
        zones = _zones(config.pools)
        ok = True
        for zr in future.result():
            if zr.found is None:
                said.append(events.error("route53_read_failed", zone_id=zr.zone_id, error=zr.error))
                ok = False  # try again next round; keep what we knew of this zone
                continue
            for p in zones.get(zr.zone_id, []):
                if p.record in zr.found:
                    said.extend(self.take(p, zr.found[p.record], resync=True)[0])
            self.synced[zr.zone_id] = now
        self.readable = ok and all(z in self.synced for z in zones)
        return said

    def take(
        self, pool: Pool, record: Record, *, resync: bool
    ) -> tuple[list[Event], frozenset[OriginKey]]:
        """Hold a fresh read of one pool's record; its events and the changes it settled."""
        kept = {o.id for o in pool.origins if o.key in self._written_during_read and resync}
        held = self.records.get(pool.name)
        if kept and held is not None:
            # Our own write landed while this read was in flight: the read may predate it.
            sets = dict(record.sets)
            for sid in kept:
                if sid in held.sets:
                    sets[sid] = held.sets[sid]
                else:
                    sets.pop(sid, None)
            record = Record(sets, record.other)
        before = None if held is None else held.sets
        read = records.absorb(
            pool, before, record.sets, self.unsettled, other=record.other, resync=resync
        )
        for o in pool.origins:
            self.unsettled.pop(o.key, None)  # the read decided each one
        self.records[pool.name] = record
        self.source[pool.name] = (pool.zone_id, pool.record)
        self.drifted |= read.drifted
        return list(read.events), read.settled

    # -- what writes tell ---------------------------------------------------------------
    def written(self, changes: Iterable[Change]) -> list[Change]:
        """Hold what Route 53 accepted; returns the changes that corrected drift."""
        corrected = []
        for c in changes:
            held = self.source.get(c.pool)
            if held is None or held[1] != c.new.name:
                continue  # not the record held for the pool (renamed since): read it anew
            record = self.records[c.pool]
            record.sets[c.new.set_id] = c.new
            key = OriginKey(c.pool, c.new.set_id)
            self._written_during_read.add(key)
            if key in self.drifted:
                self.drifted.discard(key)
                corrected.append(c)
        return corrected

    def in_doubt(self, change_id: str, changes: Iterable[Change]) -> None:
        """Changes that may have landed; the next read of their record settles them."""
        for c in changes:
            self.unsettled[OriginKey(c.pool, c.new.set_id)] = Pending(change_id, c)


def _zones(pools: Iterable[Pool]) -> dict[str, list[Pool]]:
    zones: dict[str, list[Pool]] = defaultdict(list)
    for p in pools:
        zones[p.zone_id].append(p)
    return zones
