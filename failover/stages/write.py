"""The writer: sends a plan's batches on its own lane; conflicts re-read and re-decided there."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from failover.aws.route53 import Record
from failover.core import events, plan
from failover.core.events import Event
from failover.core.plan import Batch
from failover.errors import ConflictError, FencedError, RejectedError, Route53Error
from failover.model import Change, Config, Guard, OriginKey, WeightedSet
from failover.stages.lane import Lane
from failover.stages.records import RecordsStage

# How long a write may take before it is reported late. Route 53 itself is not waited
# for by anything but the write: probing goes on, and no other write starts meanwhile.
WRITE_DEADLINE = 30.0


class Fenced(Protocol):
    def change(
        self, zone_id: str, changes: Sequence[Change], comment: str, guards: Sequence[Guard] = ()
    ) -> str: ...

    def unfenced(self, zones: Iterable[str]) -> list[str]: ...


class Writer(Protocol):
    def read(self, zone_id: str, names: Sequence[str]) -> dict[str, Record]: ...

    def change(
        self, zone_id: str, changes: Sequence[Change], comment: str, guards: Sequence[Guard] = ()
    ) -> str: ...


@dataclass(frozen=True)
class Landed:
    change_id: str
    route53_change: str
    changes: tuple[Change, ...]
    accepted: float  # the writer's monotonic clock when Route 53 accepted it


@dataclass
class Outcome:
    """What sending a plan came to, for the round to take in."""

    landed: list[Landed] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)
    in_doubt: list[tuple[str, Change]] = field(default_factory=list)
    fresh: dict[str, Record] = field(default_factory=dict)  # by pool: records read again
    fresh_as: dict[str, tuple[str, str]] = field(default_factory=dict)  # pool → (zone, name)
    failures: list[str] = field(default_factory=list)  # conflict, rejected, route53
    events: list[Event] = field(default_factory=list)


class WriteStage:
    """Sends one plan at a time; the round takes the outcome when it is done."""

    def __init__(self, store: Writer, *, background: bool, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self.lane: Lane[Outcome] = Lane("route53-write", background=background, clock=clock)
        self.sending: frozenset[OriginKey] = frozenset()
        self.running: Config | None = None  # the config in force now, which a reload changes
        # Cluster mode: batches go through the leader's fence (see failover/cluster/fencing.py).
        self.fencer: Fenced | None = None

    def reconfigure(self, config: Config) -> None:
        """A reload: from now on only what this config owns is written, even mid-send."""
        self.running = config

    def start(self, config: Config, batches: Sequence[tuple[str, Batch]]) -> None:
        self.running = config
        self.sending = frozenset(
            OriginKey(c.pool, c.new.set_id) for _, b in batches for c in b.changes
        )
        self.lane.start(lambda: self._send_all(config, batches), WRITE_DEADLINE)

    def unfenced(self, config: Config) -> list[str]:
        """Cluster mode: the zones whose fence this leader has not yet bumped."""
        if self.fencer is None:
            return []
        return self.fencer.unfenced(sorted({p.zone_id for p in config.pools}))

    def fence(self, change_id: str, zones: Sequence[str]) -> None:
        """A new leader's first writes: each zone's fence bumped by a batch of its own."""
        self.lane.start(lambda: self._fence_all(change_id, zones), WRITE_DEADLINE)

    def _fence_all(self, change_id: str, zones: Sequence[str]) -> Outcome:
        out = Outcome()
        for zone_id in zones:
            if self.fencer is None:
                break
            try:
                self.fencer.change(zone_id, (), f"failover {change_id}")
            except FencedError as e:
                out.failures.append("fenced")
                out.events.append(
                    events.error(
                        "write_refused_fenced", change_id=change_id, zone_id=zone_id, reason=str(e)
                    )
                )
            except Route53Error as e:
                out.failures.append("route53")
                out.events.append(
                    events.error(
                        "fence_bump_failed", change_id=change_id, zone_id=zone_id, error=str(e)
                    )
                )
            else:
                out.events.append(events.info("fence_bumped", change_id=change_id, zone_id=zone_id))
        return out

    def collect(self) -> Outcome | None:
        late = self.lane.late()
        future = self.lane.take()
        if future is None:
            if late is None:
                return None
            return Outcome(events=[events.error("route53_write_late", seconds=round(late, 3))])
        self.sending = frozenset()
        return future.result()

    # -- on the lane --------------------------------------------------------------------
    def _send_all(self, config: Config, batches: Sequence[tuple[str, Batch]]) -> Outcome:
        out = Outcome()
        for change_id, batch in batches:
            self._send(config, batch, change_id, out, retry=True)
        return out

    def _send(
        self, config: Config, batch: Batch, change_id: str, out: Outcome, *, retry: bool
    ) -> None:
        zone_id = batch.zone_id
        batch, refused = owned(self.running or config, batch)
        if refused:
            out.events.append(
                events.error(
                    "write_refused_unowned",
                    change_id=change_id,
                    zone_id=zone_id,
                    pools=refused,
                    reason="sets the running config does not own are never written",
                )
            )
        if not batch.changes:
            return
        try:
            send = self.store.change if self.fencer is None else self.fencer.change
            r53_id = send(zone_id, batch.changes, f"failover {change_id}", batch.guards)
        except FencedError as e:
            out.failures.append("fenced")
            out.events.append(
                events.error(
                    "write_refused_fenced", change_id=change_id, zone_id=zone_id, reason=str(e)
                )
            )
            return
        except ConflictError as e:
            out.failures.append("conflict")
            out.events.append(
                events.warning(
                    "change_conflict", change_id=change_id, zone_id=zone_id, error=str(e)
                )
            )
            if retry:
                self._after_conflict(config, batch, change_id, out)
            else:
                out.conflicts.extend(batch.changes)
            return
        except RejectedError as e:
            out.failures.append("rejected")
            pools = batch.pools
            out.events.append(
                events.error(
                    "route53_write_rejected",
                    change_id=change_id,
                    zone_id=zone_id,
                    pools=pools,
                    error=str(e),
                )
            )
            if retry and len(pools) > 1:
                # One pool's unwritable change must not hold back the others.
                for i, name in enumerate(pools):
                    self._send(config, batch.only(name), f"{change_id}p{i}", out, retry=False)
            return
        except Route53Error as e:
            out.failures.append("route53")
            out.events.append(
                events.error(
                    "route53_write_failed", change_id=change_id, zone_id=zone_id, error=str(e)
                )
            )
            out.in_doubt.extend((change_id, c) for c in batch.changes)  # it may have landed
            return
        out.landed.append(Landed(change_id, r53_id, batch.changes, self.clock()))

    def _after_conflict(self, config: Config, batch: Batch, change_id: str, out: Outcome) -> None:
        """Re-read, resend once what still matches; the rest is re-decided next round."""
        pools = {name: config.pool(name) for name in batch.pools}
        try:
            found = self.store.read(batch.zone_id, [p.record for p in pools.values()])
        except Route53Error as e:
            out.events.append(
                events.error("route53_read_failed", zone_id=batch.zone_id, error=str(e))
            )
            out.in_doubt.extend((change_id, c) for c in batch.changes)  # an attempt may have landed
            return
        fresh = {name: found[p.record] for name, p in pools.items()}
        out.fresh.update(fresh)
        out.fresh_as.update({name: (p.zone_id, p.record) for name, p in pools.items()})
        decided = plan.after_conflict(
            config, batch, {n: r.sets for n, r in fresh.items()}, change_id
        )
        out.events.extend(decided.events)
        out.conflicts.extend(decided.lost)
        if decided.already:
            out.landed.append(Landed(change_id, "already-applied", decided.already, self.clock()))
        if decided.resend is not None:
            self._send(config, decided.resend, f"{change_id}r", out, retry=False)


def owned(config: Config, batch: Batch) -> tuple[Batch, list[str]]:
    """The batch less every pool with a change or guard on a set `config` does not own.

    A set is owned when its pool is configured in the batch's zone, under the pool's
    record name, with an origin of that id. A pool's changes and guards go or stay
    together (the gate judged them together).
    """
    pools = {p.name: p for p in config.pools}

    def mine(pool_name: str, sets: Sequence[WeightedSet | None]) -> bool:
        p = pools.get(pool_name)
        if p is None or p.zone_id != batch.zone_id:
            return False
        ids = {o.id for o in p.origins} | set(p.previous_ids)  # previous ids: retired
        return all(s is None or (s.name == p.record and s.set_id in ids) for s in sets)

    bad = {c.pool for c in batch.changes if not mine(c.pool, [c.old, c.new])}
    bad |= {g.pool for g in batch.guards if not mine(g.pool, [g.held])}
    if not bad:
        return batch, []
    kept = Batch(
        batch.zone_id,
        tuple(c for c in batch.changes if c.pool not in bad),
        tuple(g for g in batch.guards if g.pool not in bad),
    )
    return kept, sorted(bad)


def planned(batches: Sequence[tuple[str, Batch]], *, dry_run: bool) -> list[Event]:
    """The events announcing batches before they are sent, each under its change id."""
    return [
        events.info(
            "weights_planned",
            change_id=change_id,
            dry_run=dry_run,
            changes=[plan.describe(c) for c in b.changes],
        )
        for change_id, b in batches
    ]


@dataclass
class Absorbed:
    """An outcome as the round takes it in: what to say, report and show."""

    events: list[Event] = field(default_factory=list)
    applied: list[Change] = field(default_factory=list)
    last_change: dict[str, object] = field(default_factory=dict)  # the last batch that landed
    landed_at: bool = False


def absorb(out: Outcome, reader: RecordsStage, config: Config, wall: float) -> Absorbed:
    """Take an outcome into the records: fresh reads first, then what landed, then doubts."""
    done = Absorbed(events=list(out.events))
    settled: set[OriginKey] = set()
    pools = {p.name: p for p in config.pools}
    for name, record in out.fresh.items():
        pool = pools.get(name)
        if pool is None or out.fresh_as.get(name) != (pool.zone_id, pool.record):
            continue  # read under a name or zone the running config no longer gives it
        said, keys = reader.take(pool, record, resync=False)
        done.events.extend(said)
        settled |= keys
    for change_id, c in out.in_doubt:
        reader.in_doubt(change_id, [c])
    for landed in out.landed:
        # A change settled by the fresh read was logged as applied there already.
        changes = [c for c in landed.changes if OriginKey(c.pool, c.new.set_id) not in settled]
        if not changes:
            continue
        done.applied.extend(changes)
        done.events.extend(
            events.warning(
                "drift_corrected",
                change_id=landed.change_id,
                pool=c.pool,
                origin=c.new.set_id,
                found=None if c.old is None else c.old.weight,
                weight=c.new.weight,
                reason=c.reason.value,
            )
            for c in reader.written(changes)
        )
        described = [plan.describe(c) for c in changes]
        done.events.append(
            events.warning(
                "weights_applied",
                change_id=landed.change_id,
                route53_change=landed.route53_change,
                changes=described,
            )
        )
        done.last_change = {
            "change_id": landed.change_id,
            "route53_change": landed.route53_change,
            "at": wall,
            "changes": described,
        }
    return done
