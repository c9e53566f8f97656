"""One round of the daemon: probe → health → policy → plan → write → metrics and logs."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from failover import health as health_mod
from failover import plan, policy
from failover.aws.route53 import Record
from failover.errors import ConflictError, OverrideError, RejectedError, Route53Error
from failover.metrics import Metrics
from failover.model import (
    Change,
    Config,
    Desired,
    Health,
    Origin,
    OriginKey,
    Override,
    Pool,
    ProbeResult,
    State,
    WeightedSet,
)
from failover.overrides import OverrideStore
from failover.status import OriginView, PoolView, Snapshot

log = structlog.get_logger("failover")


class ProberLike(Protocol):
    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]: ...


class StoreLike(Protocol):
    def read(self, zone_id: str, names: Sequence[str]) -> dict[str, Record]: ...

    def change(self, zone_id: str, changes: Sequence[Change], comment: str) -> str: ...


def new_change_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class RoundReport:
    """What one round did, for tests, the CLI's `check` and the simulation."""

    results: dict[OriginKey, ProbeResult] = field(default_factory=dict)
    desired: dict[str, Desired] = field(default_factory=dict)
    planned: list[Change] = field(default_factory=list)
    applied: list[Change] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    frozen: bool = False
    error: str = ""


class Runner:
    """Holds the daemon's memory between rounds; `run_round` never raises."""

    def __init__(
        self,
        config: Config,
        prober: ProberLike,
        store: StoreLike,
        overrides: OverrideStore,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        change_ids: Callable[[], str] = new_change_id,
        write: bool = True,
    ) -> None:
        self.config = config
        self.prober = prober
        self.store = store
        self.overrides_store = overrides
        self.metrics = metrics
        self.clock = clock
        self.change_ids = change_ids
        self.allow_write = write
        self.write = write and not config.daemon.dry_run
        self.health: dict[OriginKey, Health] = {}
        self.records: dict[str, Record] = {}  # by pool name: what Route 53 holds
        self.results: dict[OriginKey, ProbeResult] = {}
        self.desired: dict[str, Desired] = {}
        self.overrides: dict[OriginKey, Override] = {}
        self.frozen = False
        self.last_sync: float | None = None  # when the least recently read zone was read
        self.zone_synced: dict[str, float] = {}  # zone id → when it was last read
        self.last_round: float | None = None
        self.last_change: dict[str, object] = {}
        self.drifted: set[OriginKey] = set()
        # Changes sent whose answer never came: settled (logged as applied, or dropped)
        # by the next read of their record.
        self.unsettled: dict[OriginKey, tuple[str, Change]] = {}
        self.rounds = 0
        self.route53_readable = False
        self.overrides_known = False  # until one read succeeds, a drain may be in force
        self._lock = threading.Lock()
        metrics.track(config.all_origins())

    # -- configuration --------------------------------------------------------------
    def reconfigure(self, config: Config) -> None:
        """Take a new config, keeping the memory of origins it still names."""
        with self._lock:
            # Health earned by a bucket is no evidence for another one: an origin whose
            # bucket, region or canary changed starts over, as at a restart.
            before = {o.key: o for o in self.config.all_origins()}
            keep = {
                o.key
                for o in config.all_origins()
                if o.key in before and _same_target(before[o.key], o)
            }
            self.health = {k: h for k, h in self.health.items() if k in keep}
            self.config = config
            self.metrics.track(config.all_origins())
            self.write = self.allow_write and not config.daemon.dry_run
            self.last_sync = None  # names or zones may have changed: read Route 53 again
            self.zone_synced = {}

    # -- one round ------------------------------------------------------------------
    def run_round(self) -> RoundReport:
        started = time.monotonic()
        report = RoundReport()
        try:
            with self._lock:
                self._round(report)
            self.last_round = self.clock()
            self.rounds += 1
            self.metrics.round_completed(self.last_round)
        except Exception as e:  # a round must never take the daemon down
            report.error = f"{type(e).__name__}: {e}"
            log.exception("round_failed", error=report.error)
        finally:
            self.metrics.round_seconds.observe(time.monotonic() - started)
        return report

    def _round(self, report: RoundReport) -> None:
        cfg = self.config
        now = self.clock()
        self._sync(cfg.pools, now)
        self._load_overrides()
        origins = cfg.all_origins()
        results = self.prober.probe_all(origins)
        report.results = self.results = results
        now = self.clock()
        blind = policy.blind(results)
        for o in origins:
            self.metrics.observe_probe(o.region, results[o.key])
            # Health starts from what Route 53 holds (hold-down, slow start), so none is
            # kept for a pool whose record has never been read.
            if o.pool in self.records:
                self._observe(o, results[o.key], now, blind=blind)
        self._set_frozen(blind)
        report.frozen = self.frozen
        by_zone: dict[str, list[Change]] = defaultdict(list)
        for pool in cfg.pools:
            changes = self._plan_pool(pool, now, report)
            by_zone[pool.zone_id].extend(changes)
        for zone_id, changes in by_zone.items():
            if changes:
                self._write_zone(zone_id, changes, report)

    # -- steps ----------------------------------------------------------------------
    def _sync(self, pools: Sequence[Pool], now: float) -> None:
        """Re-read Route 53: every zone never read, else at most one zone that is due.

        A zone is due `resync` seconds after it was last read. Reading one due zone per
        round spreads the reads (a zone of 10,000 records is 34 pages, seconds at the
        shared rate limit) so no round waits for all of them, and reads stay one scan
        per zone per `resync` however many rounds run.
        """
        zones: dict[str, list[Pool]] = defaultdict(list)
        for p in pools:
            zones[p.zone_id].append(p)
        unread = [z for z in zones if z not in self.zone_synced]
        due = sorted(
            (self.zone_synced[z], z)
            for z in zones
            if z in self.zone_synced and now - self.zone_synced[z] >= self.config.daemon.resync
        )
        ok = True
        for zone_id in unread or [z for _, z in due[:1]]:
            zone_pools = zones[zone_id]
            try:
                found = self.store.read(zone_id, [p.record for p in zone_pools])
            except Route53Error as e:
                log.error("route53_read_failed", zone_id=zone_id, error=str(e))
                ok = False  # try again next round; keep what we knew of this zone
                continue
            for p in zone_pools:
                self._take_record(p, found[p.record], resync=True)
            self.zone_synced[zone_id] = now
        self.route53_readable = ok and all(z in self.zone_synced for z in zones)
        if all(z in self.zone_synced for z in zones):
            self.last_sync = min((self.zone_synced[z] for z in zones), default=now)

    def _take_record(self, pool: Pool, record: Record, *, resync: bool) -> set[OriginKey]:
        """Store what Route 53 holds for a pool; returns the pending changes it settled."""
        before = self.records.get(pool.name)
        self.records[pool.name] = record
        settled = {o.key for o in pool.origins if self._settle(o.key, record.sets.get(o.id))}
        if before is not None:
            for o in pool.origins:
                old, new = before.sets.get(o.id), record.sets.get(o.id)
                if old != new and resync and o.key not in settled:
                    self.drifted.add(o.key)
                    log.warning(
                        "drift_detected",
                        pool=pool.name,
                        origin=o.id,
                        expected=None if old is None else old.weight,
                        found=None if new is None else new.weight,
                        found_ttl=None if new is None else new.ttl,
                    )
        unknown = plan.unknown_sets(pool, record.sets)
        if resync and (unknown or record.other):
            log.warning(
                "unknown_records_found",
                pool=pool.name,
                record=pool.record,
                sets=unknown,
                other=list(record.other),
            )
        return settled

    def _load_overrides(self) -> None:
        try:
            loaded = self.overrides_store.load()
        except OverrideError as e:
            log.error("overrides_unreadable", location=self.overrides_store.location, error=str(e))
            return
        for key in sorted(set(loaded) | set(self.overrides)):
            new, old = loaded.get(key), self.overrides.get(key)
            if new == old:
                continue
            if new is None:
                log.info("override_removed", pool=key.pool, origin=key.origin)
            else:
                log.info(
                    "override_applied",
                    pool=key.pool,
                    origin=key.origin,
                    action=new.action.value,
                    by=new.by,
                    reason=new.reason,
                )
        self.overrides = loaded
        self.overrides_known = True

    def _observe(self, origin: Origin, result: ProbeResult, now: float, *, blind: bool) -> None:
        h = self.health.get(origin.key)
        if h is None:
            h = health_mod.initial(self._applied_fraction(origin), origin.health, now)
        if not result.outcome.healthy:
            log.info(
                "probe_failed",
                pool=origin.pool,
                origin=origin.id,
                outcome=result.outcome.value,
                status=result.status,
                detail=result.detail,
                latency=round(result.latency, 4),
                failures=h.failures + (0 if blind else 1),
                counted=not blind,
            )
        if blind:
            # Nothing answered anywhere: that says something about our network, nothing
            # about this origin, so its health is left as it was.
            self.health[origin.key] = h
            return
        new = health_mod.step(h, result.outcome, now, origin.health)
        if new.state is not h.state:
            self.metrics.transition(origin.pool, origin.id, h.state, new.state)
            event = "origin_marked_down" if new.state is State.DOWN else "origin_marked_up"
            log.warning(
                event,
                pool=origin.pool,
                origin=origin.id,
                region=origin.region,
                outcome=result.outcome.value,
                was=h.state.value,
                hold_down=new.hold_down if new.state is State.DOWN else None,
                flaps=new.flaps,
            )
        self.health[origin.key] = new

    def _applied_fraction(self, origin: Origin) -> float | None:
        record = self.records.get(origin.pool)
        s = None if record is None else record.sets.get(origin.id)
        if s is None or origin.weight <= 0:
            return None
        return s.weight / origin.weight

    def _set_frozen(self, frozen: bool) -> None:
        if frozen and not self.frozen:
            log.error("writes_frozen", reason="no probe of any origin got an HTTP answer")
        elif self.frozen and not frozen:
            log.warning("writes_unfrozen")
        self.frozen = frozen

    def _plan_pool(self, pool: Pool, now: float, report: RoundReport) -> list[Change]:
        record = self.records.get(pool.name)
        if record is None:
            return []  # Route 53 never read: nothing is known to be applied
        applied = {sid: s.weight for sid, s in record.sets.items()}
        overrides = {k.origin: v for k, v in self.overrides.items() if k.pool == pool.name}
        health = {o.id: self.health.get(o.key, Health()) for o in pool.origins}
        desired = policy.decide(
            pool,
            health,
            {o.id: applied.get(o.id) for o in pool.origins},
            overrides,
            frozen=self.frozen,
            now=now,
        )
        previous = self.desired.get(pool.name)
        was_open = previous is not None and previous.failed_open
        if desired.frozen:
            # No verdict while frozen: the pool stays as it was, failed open or not.
            desired = dataclasses.replace(desired, failed_open=was_open)
        elif desired.failed_open and not was_open:
            log.error("pool_failed_open", pool=pool.name, reason="no origin would carry weight")
        elif was_open and not desired.failed_open:
            log.warning("pool_recovered", pool=pool.name)
        self.desired[pool.name] = report.desired[pool.name] = desired
        changes = plan.diff(pool, record.sets, desired)
        if not self.overrides_known:
            held = [c for c in changes if _raises(c)]
            if held:
                log.warning(
                    "increase_held",
                    pool=pool.name,
                    origins=[c.new.set_id for c in held],
                    reason="overrides never read: a drain may be in force",
                )
                changes = [c for c in changes if not _raises(c)]
        return self._gated(pool.name, record.sets, changes, report)

    def _gated(
        self,
        pool: str,
        current: dict[str, WeightedSet],
        changes: list[Change],
        report: RoundReport,
    ) -> list[Change]:
        """The pool's changes if they pass the all-zero gate, with their guards."""
        unsafe = plan.gate(current, changes)
        if unsafe is not None:
            self.metrics.writes_refused.labels(pool).inc()
            log.error("writes_refused", pool=pool, reason=unsafe.reason)
            report.refused.append(pool)
            return []
        return changes + plan.guards(self.config.pool(pool), current, changes)

    # -- writing --------------------------------------------------------------------
    def _write_zone(self, zone_id: str, changes: list[Change], report: RoundReport) -> None:
        for batch in plan.batches(changes):
            change_id = self.change_ids()
            self._log_planned(batch, change_id)
            report.planned.extend(c for c in batch if c.reason != "guard")
            if not self.write:
                continue
            self._send(zone_id, batch, change_id, report, retry=True)

    def _send(
        self, zone_id: str, batch: list[Change], change_id: str, report: RoundReport, *, retry: bool
    ) -> None:
        try:
            r53_id = self.store.change(zone_id, batch, f"failover {change_id}")
        except ConflictError as e:
            self.metrics.write_failures.labels("conflict").inc()
            log.warning("change_conflict", change_id=change_id, zone_id=zone_id, error=str(e))
            if retry:
                self._after_conflict(zone_id, batch, change_id, report)
            else:
                report.conflicts.extend(batch)
            return
        except RejectedError as e:
            self.metrics.write_failures.labels("rejected").inc()
            pools = sorted({c.pool for c in batch})
            log.error(
                "route53_write_rejected",
                change_id=change_id,
                zone_id=zone_id,
                pools=pools,
                error=str(e),
            )
            if retry and len(pools) > 1:
                # One pool's unwritable change must not hold back the others.
                for i, name in enumerate(pools):
                    mine = [c for c in batch if c.pool == name]
                    self._send(zone_id, mine, f"{change_id}p{i}", report, retry=False)
            return
        except Route53Error as e:
            self.metrics.write_failures.labels("route53").inc()
            log.error("route53_write_failed", change_id=change_id, zone_id=zone_id, error=str(e))
            self._unsettled(batch, change_id)  # a timed-out attempt may have landed
            return
        self._applied(batch, change_id, r53_id, report)

    def _settle(self, key: OriginKey, held: WeightedSet | None) -> bool:
        """A change whose fate was unknown: if Route 53 holds it now, it was applied."""
        pending = self.unsettled.pop(key, None)
        if pending is None or held != pending[1].new:
            return False
        change_id, change = pending
        log.warning(
            "weights_applied",
            change_id=change_id,
            route53_change="unknown (answer lost)",
            changes=[_describe(change)],
        )
        return True

    def _unsettled(self, batch: list[Change], change_id: str) -> None:
        """Remember changes that may have landed; the next read of their record settles them."""
        for c in batch:
            if c.reason != "guard":
                self.unsettled[OriginKey(c.pool, c.new.set_id)] = (change_id, c)

    def _after_conflict(
        self, zone_id: str, batch: list[Change], change_id: str, report: RoundReport
    ) -> None:
        """Re-read, resend once what still matches; the rest is re-decided next round."""
        by_name = {p.name: p for p in self.config.pools}
        pools = {c.pool: by_name[c.pool] for c in batch}
        try:
            found = self.store.read(zone_id, [p.record for p in pools.values()])
        except Route53Error as e:
            log.error("route53_read_failed", zone_id=zone_id, error=str(e))
            self._unsettled(batch, change_id)  # an earlier attempt may have landed
            return
        settled: set[OriginKey] = set()
        for p in pools.values():
            settled |= self._take_record(p, found[p.record], resync=False)
        resend: list[Change] = []
        for c in batch:
            now_held = self.records[c.pool].sets.get(c.new.set_id)
            if c.reason == "guard" or OriginKey(c.pool, c.new.set_id) in settled:
                continue  # guards are re-derived below; a settled change is logged already
            if now_held == c.new:
                # Already there: our earlier attempt landed (its answer was lost) or
                # another daemon that sees the same world wrote the same thing.
                self._applied([c], change_id, "already-applied", report)
            elif now_held == c.old:
                resend.append(c)
            else:
                report.conflicts.append(c)
                log.warning(
                    "change_conflict",
                    change_id=change_id,
                    pool=c.pool,
                    origin=c.new.set_id,
                    expected=None if c.old is None else c.old.weight,
                    found=None if now_held is None else now_held.weight,
                    wanted=c.new.weight,
                )
        safe: list[Change] = []
        for name in sorted({c.pool for c in resend}):
            mine = [c for c in resend if c.pool == name and c.reason != "guard"]
            fresh = self.records[name].sets
            if plan.gate(fresh, mine) is not None:
                # The record changed under the pool so that these changes would now zero
                # it: they lost the race like a conflict, and are re-decided next round.
                report.conflicts.extend(mine)
                log.warning(
                    "change_conflict",
                    change_id=change_id,
                    pool=name,
                    reason="the record changed under the batch; re-decided next round",
                )
                continue
            safe.extend(mine + plan.guards(self.config.pool(name), fresh, mine))
        if any(c.reason != "guard" for c in safe):
            self._send(zone_id, safe, f"{change_id}r", report, retry=False)

    def _applied(
        self, batch: list[Change], change_id: str, r53_id: str, report: RoundReport
    ) -> None:
        now = self.clock()
        self.metrics.applied(now)
        batch = [c for c in batch if c.reason != "guard"]
        for c in batch:
            record = self.records.setdefault(c.pool, Record({}))
            record.sets[c.new.set_id] = c.new
            report.applied.append(c)
            key = OriginKey(c.pool, c.new.set_id)
            if key in self.drifted:
                self.drifted.discard(key)
                log.warning(
                    "drift_corrected",
                    change_id=change_id,
                    pool=c.pool,
                    origin=c.new.set_id,
                    found=None if c.old is None else c.old.weight,
                    weight=c.new.weight,
                    reason=c.reason,
                )
        log.warning(
            "weights_applied",
            change_id=change_id,
            route53_change=r53_id,
            changes=[_describe(c) for c in batch],
        )
        self.last_change = {
            "change_id": change_id,
            "route53_change": r53_id,
            "at": now,
            "changes": [_describe(c) for c in batch],
        }

    def _log_planned(self, batch: list[Change], change_id: str) -> None:
        log.info(
            "weights_planned",
            change_id=change_id,
            dry_run=not self.write,
            changes=[_describe(c) for c in batch if c.reason != "guard"],
        )

    # -- views ----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        # Read from copies: /status and /metrics run beside a round that mutates these.
        config = self.config
        records, desireds = dict(self.records), dict(self.desired)
        healths, results, overrides = dict(self.health), dict(self.results), dict(self.overrides)
        pools = []
        for p in config.pools:
            record = records.get(p.name, Record({}))
            desired = desireds.get(p.name)
            decisions = {} if desired is None else {d.key.origin: d for d in desired.decisions}
            views = []
            for o in p.origins:
                h = healths.get(o.key, Health())
                r = results.get(o.key)
                d = decisions.get(o.id)
                held = dict(record.sets).get(o.id)
                views.append(
                    OriginView(
                        id=o.id,
                        region=o.region,
                        bucket=o.bucket,
                        configured=o.weight,
                        state=h.state,
                        last_outcome=h.last_outcome,
                        latency=None if r is None else r.latency,
                        age=None if r is None else r.age,
                        desired=None if d is None else d.weight,
                        applied=None if held is None else held.weight,
                        reason="" if d is None else d.reason,
                        override=overrides.get(o.key),
                    )
                )
            pools.append(
                PoolView(
                    name=p.name,
                    record=p.record,
                    zone_id=p.zone_id,
                    origins=tuple(views),
                    failed_open=desired is not None and desired.failed_open,
                    unknown_sets=tuple(plan.unknown_sets(p, dict(record.sets))),
                )
            )
        return Snapshot(
            pools=tuple(pools),
            frozen=self.frozen,
            dry_run=not self.write,
            ready=self.ready,
            last_round=self.last_round,
            last_change=dict(self.last_change),
        )

    @property
    def ready(self) -> bool:
        """A full round has completed and the last read of Route 53 succeeded."""
        return self.rounds > 0 and self.route53_readable


def _describe(c: Change) -> dict[str, object]:
    out: dict[str, object] = {
        "pool": c.pool,
        "origin": c.new.set_id,
        "from": None if c.old is None else c.old.weight,
        "to": c.new.weight,
        "reason": c.reason,
    }
    if c.old is not None and c.old.ttl != c.new.ttl:
        out["ttl"] = [c.old.ttl, c.new.ttl]
    if c.old is not None and c.old.values != c.new.values:
        out["value"] = [list(c.old.values), list(c.new.values)]
    return out


def _raises(c: Change) -> bool:
    return c.new.weight > (0 if c.old is None else c.old.weight)


def _same_target(a: Origin, b: Origin) -> bool:
    return (a.bucket, a.region, a.canary) == (b.bucket, b.region, b.canary)
