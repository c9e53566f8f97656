"""The cluster's invariants, judged from what the world saw: one writer, quorum, bound, no flip-flop.

Like the single daemon's oracle it never asks the core what it thinks: it counts each
replica's failed probes itself, reads the table's lease history, the batches the fake
Route 53 accepted (and every send a replica made), and the rounds' reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from failover.model import Config, OriginKey, ProbeResult
from failover.sim import cluster_world as cw
from failover.sim.oracle import Violation
from failover.sim.route53 import FakeRoute53, Written, fqdn, key_of
from failover.sim.scenario import Fault
from failover.stages.report import RoundReport

CLUSTER_INVARIANTS = {
    "one_writer": "a replica sends no batch once another has taken the lease (a later epoch)",
    "no_superseded_write": "no batch of an epoch lands once a later epoch has written its zone",
    "no_down_on_minority": "an origin goes down only when a quorum of replicas saw it fail",
    "failover_within_bound": "a fault a quorum sees is in Route 53 within the bound",
    "no_flip_flop": "in an episode of steady faults an origin's weight turns at most once",
    "round_never_raises": "a round never raises",
}
# Faults of one replica that keep its view out of the leader's count.
OUT_OF_COUNT = frozenset({"table_cut", "kill", "pause", "blind"})
# Route 53 faults delay any write; the table down stops every lease renewal.
DELAYING = frozenset({"throttle", "lost_response", "r53_timeout", "busy", "r53_down"})


@dataclass(frozen=True)
class Send:
    """A ChangeResourceRecordSets call leaving a replica (each retry is one)."""

    replica: str
    epoch: int
    checked: float  # true time: when it left, or when it paused on its way out
    paused: bool


@dataclass
class Streak:
    """One replica's run of failed probes of one origin, as the oracle counts it."""

    count: int = 0
    start: float = 0.0
    exempted: bool = False  # a blind round during it: its timing measures nothing
    out_at: float = float("-inf")  # when it last reached `fall`


@dataclass
class Quorum:
    """One origin's fault as a quorum of replicas sees it."""

    since: float | None = None  # true time the quorum-th replica's streak began
    done: bool = False  # measured or reported for this fault
    excused: bool = False
    # The replicas' streaks (replica, start) the measure runs from: once fewer than a
    # quorum of them go on, the fault as measured is over, even if others now fail.
    streaks: frozenset[tuple[str, float]] = frozenset()


@dataclass
class ClusterOracle:
    config: Config
    r53: FakeRoute53
    table: cw.TableState
    zones: Mapping[str, str]  # zone id → apex
    write_cycle: float
    drift: float = 0.03
    violations: list[Violation] = field(default_factory=list)
    failover_seconds: list[float] = field(default_factory=list)
    fenced: int = 0
    stale_landed: int = 0  # batches of an epoch landing after a later one was taken
    _seen_r53: int = 0
    _seen_written: int = 0
    _zone_epoch: dict[str, int] = field(default_factory=dict)
    _faults: list[Fault] = field(default_factory=list)
    _failed_open: list[tuple[float, str]] = field(default_factory=list)  # a minute apart
    _open_seen: dict[str, float] = field(default_factory=dict)
    _kills: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        cluster = self.config.cluster
        if cluster is None:
            raise ValueError("the cluster oracle judges a config with [cluster]")
        self.cluster = cluster
        self.quorum = cluster.needed
        self.origins = {o.key: o for o in self.config.all_origins()}
        self.streaks: dict[str, dict[OriginKey, Streak]] = {}
        self.faults_of: dict[OriginKey, Quorum] = {k: Quorum() for k in self.origins}

    # -- what the world tells it -----------------------------------------------------------
    def fault(self, f: Fault) -> None:
        self._faults.append(f)

    def killed(self, replica: str, at: float) -> None:
        self._kills.append((replica, at))
        for s in self.streaks.get(replica, {}).values():
            s.count, s.exempted = 0, False  # a new life counts from nothing

    def _fail(self, invariant: str, at: float, detail: str) -> None:
        self.violations.append(Violation(invariant, round(at, 1), detail))

    def _taken_before(self, at: float) -> int:
        """The highest epoch the table had given out at true time `at`."""
        for w in reversed(self.table.takes):
            if w.at <= at:
                return w.item.epoch
        return 0

    def sent(self, s: Send) -> None:
        """One writer: no batch leaves once the lease could be another's.

        That is, after a later epoch was taken, or after the lease could have been
        taken: the sender's last lease write plus the lease on the fastest clock
        (a contender waits the lease on its own clock from a read after that write).
        """
        renewed = self.table.renewed.get((s.replica, s.epoch))
        expires = (renewed or 0.0) + self.cluster.lease_seconds / (1 + self.drift)
        if s.epoch and s.checked > expires:
            self._fail(
                "one_writer",
                s.checked,
                f"{s.replica} sent a batch of epoch {s.epoch} {s.checked - (renewed or 0):.1f}s "
                f"after its last lease write (the lease could be another's after "
                f"{expires - (renewed or 0):.1f}s)",
            )
            return
        later = self._taken_before(s.checked)
        if s.epoch < later:
            self._fail(
                "one_writer",
                s.checked,
                f"{s.replica} sent a batch of epoch {s.epoch} after epoch {later} was taken"
                + (" (then paused)" if s.paused else ""),
            )

    # -- after every round ----------------------------------------------------------------
    def check(
        self,
        replica: str,
        report: RoundReport,
        events: Iterable[Mapping[str, Any]],
        now: float,
        dead: set[str],
    ) -> None:
        for inv, detail in self.r53.violations[self._seen_r53 :]:
            self._fail(inv, now, f"{replica}: {detail}")
        self._seen_r53 = len(self.r53.violations)
        if report.error:
            self._fail("round_never_raises", now, f"{replica}: {report.error}")
        for e in events:
            if e.get("event") == "write_refused_fenced":
                self.fenced += 1
        for pool, desired in report.desired.items():
            if desired.failed_open and now - self._open_seen.get(pool, -1e9) > 60.0:
                self._open_seen[pool] = now
                self._failed_open.append((now, pool))
        # Each batch once, in the order Route 53 took them (a paused round ends late).
        written = self.r53.written[self._seen_written :]
        self._seen_written = len(self.r53.written)
        self._landed(written)
        self._check_down(replica, written, now)
        self._check_bound(now, dead)

    def _zone(self, w: Written) -> str:
        for c in w.changes:
            name = key_of(c["ResourceRecordSet"])[0]
            for zone_id, apex in self.zones.items():
                if name == fqdn(apex) or name.endswith("." + fqdn(apex)):
                    return zone_id
        return ""

    def _landed(self, written: Sequence[Written]) -> None:
        """No superseded write lands: an epoch's batch after a later epoch wrote the zone."""
        for w in written:
            if not w.by_daemon:
                continue
            head, _, tail = w.comment.rpartition(" epoch ")
            epoch = int(tail) if head and tail.isdigit() else 0
            zone = self._zone(w)
            last = self._zone_epoch.get(zone, 0)
            if epoch < self._taken_before(w.at):
                self.stale_landed += 1
            if epoch < last:
                self._fail(
                    "no_superseded_write",
                    w.at,
                    f"{w.comment} landed in {zone} after epoch {last} wrote there",
                )
            self._zone_epoch[zone] = max(last, epoch)

    def observe(self, replica: str, results: Mapping[OriginKey, ProbeResult], now: float) -> None:
        """One replica's probes, as they return: its own count of each origin's failures."""
        blind = bool(results) and all(
            r.outcome.transport_failure or r.outcome.own_fault for r in results.values()
        )
        mine = self.streaks.setdefault(replica, {k: Streak() for k in self.origins})
        for key, r in results.items():
            s = mine[key]
            max_age = self.origins[key].health.max_age
            # A canary older than max_age fails (the world's stale canaries are each
            # alone in their pool, so the daemon's judgement against the pool agrees).
            old = max_age > 0 and r.age is not None and r.age > max_age
            if r.outcome.healthy and not old:
                s.count, s.exempted = 0, False
                continue
            if blind or r.outcome.own_fault:
                s.exempted |= s.count > 0
                continue
            if s.count == 0:
                s.start = now
            s.count += 1
            if s.count >= self.origins[key].health.fall:
                s.out_at = now

    def _check_down(self, replica: str, written: Sequence[Written], now: float) -> None:
        """A weight that lands at 0 needs a quorum of replicas that saw `fall` failures.

        Judged on what Route 53 accepted (a batch found already applied after a conflict
        is reported by the round that found it, not the one that wrote it).
        """
        interval = self.config.daemon.interval
        for w in written:
            for key, was, new in self._moves(w):
                o = self.origins.get(key)
                # A standby at 0 is idle (a primary serves) as often as down, and a batch
                # carries no reason to tell them apart; the primaries are the rule's subject.
                if o is None or new != 0 or not was or o.standby:
                    continue
                h = o.health
                window = (
                    h.hold_down_max + (h.fall + h.rise + 4) * interval + self.cluster.lease_seconds
                )
                saw = sorted(
                    name
                    for name, streaks in self.streaks.items()
                    if w.at - streaks[key].out_at <= window
                )
                if len(saw) < self.quorum:
                    self._fail(
                        "no_down_on_minority",
                        now,
                        f"{w.comment} ({replica}) set {key} to 0; only {saw or 'no replica'} "
                        f"saw it fail (quorum {self.quorum})",
                    )

    # -- the bound ------------------------------------------------------------------------
    def bound(self, o: OriginKey, takeover: bool) -> float:
        """fall x interval + timeout + one interval (+ a write cycle), on the slowest clock;
        plus the lease and the rounds a new leader needs to see views move, on a takeover."""
        h = self.origins[o].health
        interval = self.config.daemon.interval / (1 - self.drift)
        base = h.fall * interval + h.timeout + interval + self.write_cycle
        if takeover:
            base += self.cluster.lease_seconds / (1 - self.drift) + 2 * interval
        return base

    def _disturbed(self, since: float, now: float, kinds: Iterable[str]) -> bool:
        wanted = set(kinds)
        return any(
            f.kind in wanted and f.start <= now and f.end >= since for f in self._faults[-50:]
        )

    def _out_of_count(self, replica: str, now: float) -> bool:
        """Whether the leader may not count the replica's view: it was cut from the table,
        killed, paused or blind recently (a view must advance again before it counts)."""
        recent = now - 2 * self.config.daemon.interval - 5.0
        return any(
            f.replica == replica and f.kind in OUT_OF_COUNT and f.start <= now and f.end >= recent
            for f in self._faults[-50:]
        )

    def _check_bound(self, now: float, dead: set[str]) -> None:
        lease = self.cluster.lease_seconds
        failing: dict[OriginKey, list[tuple[float, str]]] = {}
        for name, streaks in self.streaks.items():
            if name in dead or self._out_of_count(name, now):
                continue
            for key, s in streaks.items():
                if s.count > 0 and not s.exempted:
                    failing.setdefault(key, []).append((s.start, name))
        pools_out = {
            p.name
            for p in self.config.pools
            if all(len(failing.get(o.key, ())) >= self.quorum for o in p.origins)
        }
        for key, was in self.faults_of.items():
            starts = sorted(failing.get(key, ()))
            going = {(name, start) for start, name in starts}
            q = was
            if len(starts) < self.quorum or len(q.streaks & going) < self.quorum:
                # Replicas whose failing streaks take turns (a flap a little shorter than
                # `fall`, seen out of phase) are no quorum's fault: none reaches `fall`.
                q = self.faults_of[key] = Quorum()
                if len(starts) < self.quorum:
                    continue
            pool = self.config.pool(key.pool)
            weight = self.r53.weight(pool.zone_id, pool.record, key.origin)
            if q.since is None:
                # From the quorum-th replica's first failing probe, or from when a replica
                # whose streak ran on out of the count came back into it.
                q.since = max(starts[self.quorum - 1][0], now - self.config.daemon.interval)
                q.streaks = frozenset(going)
                q.done = weight == 0  # already out: nothing to measure
            if q.done:
                continue
            since = q.since
            q.excused |= (
                key.pool in pools_out
                or any(t >= since - lease and p == key.pool for t, p in self._failed_open)
                or self._disturbed(since - lease, now, DELAYING | {"table_down", "table_lost"})
            )
            takeover = self._disturbed(
                since - lease, now, ("kill", "pause", "table_cut", "table_down")
            ) or any(w.kind == "take" and w.at >= since - lease for w in self.table.takes)
            if weight == 0:
                q.done = True
                if not q.excused:
                    self.failover_seconds.append(now - since)
                continue
            if now - since > self.bound(key, takeover) and not q.excused:
                q.done = True
                self._fail(
                    "failover_within_bound",
                    now,
                    f"{key}: a quorum has seen it fail since {since:.0f}s, Route 53 still "
                    f"holds {weight} (bound {self.bound(key, takeover):.0f}s)",
                )

    # -- at the end -----------------------------------------------------------------------
    def finish(self, faults: Sequence[Fault]) -> None:
        """No flip-flop: in an episode of steady faults, each origin turns at most once."""
        episodes: dict[int, list[Fault]] = {}
        for f in faults:
            episodes.setdefault(f.episode, []).append(f)
        starts = sorted((min(f.start for f in fs), e) for e, fs in episodes.items())
        bounds = {
            e: (start, starts[i + 1][0] if i + 1 < len(starts) else float("inf"))
            for i, (start, e) in enumerate(starts)
        }
        for e, fs in episodes.items():
            if any(f.kind not in cw.STEADY_KINDS for f in fs):
                continue
            lo, hi = bounds[e]
            struck: dict[OriginKey, int] = {}
            for f in faults:
                for pool, origin in cw.touched(f, self.config):
                    k = OriginKey(pool, origin)
                    # A fault of an earlier episode whose recovery (hold-down, slow start,
                    # rise) runs into this one strikes it too: its climb back is no turn.
                    if f.episode == e or (f.start < hi and f.end + self._settle(k) > lo):
                        # An unsteady fault of an earlier episode still running (a partial
                        # outage, a flap) may turn the origin any number of times: seed
                        # 3001's img/eu-west-1, under a partial outage for 75 minutes.
                        steady = f.kind in cw.STEADY_KINDS
                        struck[k] = struck.get(k, 0) + (1 if steady else 2)
            struck = self._standbys_follow(struck)
            opened = {p for t, p in self._failed_open if lo <= t < hi}
            for key, turns in self._turns(lo, hi).items():
                if struck.get(key, 0) > 1 or key.pool in opened or turns <= 1:
                    continue
                self._fail(
                    "no_flip_flop",
                    lo,
                    f"{key} turned {turns} times in episode {e} ({sorted({f.kind for f in fs})})",
                )

    def _standbys_follow(self, struck: dict[OriginKey, int]) -> dict[OriginKey, int]:
        """A standby turns when an origin ahead of it in its pool fails or comes back, as
        well as on its own faults: each strike ahead of it counts as one of its own.

        Seed 3003: www's primary down, its first standby up; the standby's own outage
        takes it down and back up, the primary's return down again, three turns.
        """
        out = dict(struck)
        for p in self.config.pools:
            ahead = 0
            for o in (*p.primaries, *p.standbys):
                k = OriginKey(p.name, o.id)
                if o.standby and ahead:
                    out[k] = out.get(k, 0) + ahead
                ahead += struck.get(k, 0)
        return out

    def _settle(self, key: OriginKey) -> float:
        """How long an origin's weight may go on moving after a fault on it ends."""
        h = self.origins[key].health
        interval = self.config.daemon.interval
        return h.hold_down_max + h.slow_start + (h.fall + h.rise + 2) * interval

    def _moves(self, w: Written) -> Iterator[tuple[OriginKey, int | None, int | None]]:
        """Each set a daemon's batch wrote: its key, the weight it deleted, the one it made."""
        if not w.by_daemon:
            return
        names = {fqdn(p.record): p.name for p in self.config.pools}
        old = {
            key_of(c["ResourceRecordSet"]): c["ResourceRecordSet"].get("Weight")
            for c in w.changes
            if c["Action"] == "DELETE"
        }
        for c in w.changes:
            if c["Action"] == "DELETE":
                continue
            rr = c["ResourceRecordSet"]
            name, _, set_id = key_of(rr)
            yield OriginKey(names.get(name, name), set_id), old.get(key_of(rr)), rr.get("Weight")

    def _turns(self, lo: float, hi: float) -> dict[OriginKey, int]:
        last: dict[OriginKey, int] = {}
        turns: dict[OriginKey, int] = {}
        for w in self.r53.written:
            if not lo <= w.at < hi:
                continue
            for key, was, new in self._moves(w):
                if new is None or was is None or new == was:
                    continue
                way = 1 if new > was else -1
                if key in last and last[key] != way:
                    turns[key] = turns.get(key, 0) + 1
                last[key] = way
        return turns
