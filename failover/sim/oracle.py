"""The invariants of the safety rules, judged after every round from what the world saw.

The oracle never asks the daemon's core what it thinks: it keeps its own count of the
probes each origin failed, reads what the fake Route 53 accepted, and reads the log events
and metrics the round left behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from failover.metrics import Metrics
from failover.model import Action, Config, Origin, OriginKey, Override, ProbeResult
from failover.round import RoundReport
from failover.sim.route53 import FakeRoute53, Written, fqdn, key_of
from failover.sim.takeover import Takeover

INVARIANTS = {
    "never_all_zero": "no record is ever written (or offered to the gate) with every weight at 0",
    "no_write_while_frozen": "no write while writes are frozen (no probe gave evidence: each a "
    "transport failure or refused for the daemon's own credentials or clock)",
    "no_write_in_dry_run": "no write in dry-run",
    "failover_within_bound": "an origin failing `fall` probes is at 0 in Route 53 within "
    "fall x interval + timeout + one write cycle (unless frozen, pinned, failed open, "
    "Route 53 refusing with the retry in metrics and logs, or a human edit not yet read)",
    "fails_open_with_configured_weights": "a pool whose origins all fail keeps its configured "
    "weights, its standbys idle at 0",
    "healthy_never_taken_out": "an origin that keeps answering healthily is never taken out "
    "unless drained (a standby going idle is not taken out: it sits at 0 while a primary serves)",
    "hold_down_respected": "no origin comes back into service before its hold-down",
    "taken_out_on_evidence": "an origin is taken out for being down only after `fall` "
    "failed probes in a row that count (a round in which nothing answered counts for nothing)",
    "drain_kept_unread": "a drained origin is never raised by a daemon that could not read "
    "the overrides since it started",
    "retries_visible": "Route 53 refusals show in metrics as well as in logs",
    "every_change_logged": "every change Route 53 accepted has its weights_applied event",
    "round_never_raises": "nothing raises out of a round",
    "no_lost_update": "a human change nobody has read is never overwritten",
    "unknown_set_untouched": "weighted sets the config does not know are never touched",
    "source_outage_contained": "while the canary-source Region is down (max_age set, its "
    "replicas answering), the pool never fails open and the daemon never puts the source back",
    "unowned_attributes_kept": "a swap repeats every attribute the daemon does not own "
    "(HealthCheckId, …) exactly",
    "health_check_kept": "no daemon write drops or changes a set's HealthCheckId (a backstop "
    "set stays armed)",
    "ttl_change_alone": "a TTL is never changed in the batch that changes a weight",
    "live_takes_over": "traffic never stays on dead origins while a live one could take it: "
    "once every owned set of a pool carrying weight has failed `fall` probes, a live origin "
    "(a standby included) at 0 or a foreign set that can serve (naming a live origin's bucket, "
    "or trusted) means a write cycle later the pool no longer rests on the dead ones only",
    "conflicts_settle": "a compare-and-swap refused as a conflict is resolved by a re-read: "
    "no more than 6 rounds in a row conflict with no human change between",
}
CONFLICT_ROUNDS = 6  # rounds in a row that may conflict after one human change
TROUBLE = frozenset(
    {"route53_throttled", "route53_write_failed", "route53_read_failed", "change_conflict"}
)
LOG_WAIT = 600.0  # seconds an accepted change may wait for its event while Route 53 is in trouble
REFUSALS = (
    ("ChangeResourceRecordSets", "throttled"),
    ("ChangeResourceRecordSets", "busy"),
    ("ChangeResourceRecordSets", "error"),
    ("ChangeResourceRecordSets", "conflict"),
    ("ListResourceRecordSets", "throttled"),
    ("ListResourceRecordSets", "error"),
)


@dataclass
class Violation:
    invariant: str
    at: float  # seconds since the simulation started
    detail: str


@dataclass
class Track:
    """What the oracle remembers of one origin."""

    streak: int = 0
    streak_start: float = 0.0
    last_failure: float | None = None
    out: bool = False  # went down (fall failures) and not yet written back in service
    down_at: float = 0.0
    late: bool = False  # already reported (or measured) for this streak
    exempted: bool = False  # an exemption (frozen, pinned, failed open...) during this streak
    ok: int = 0  # healthy probes in a row since this daemon started


@dataclass
class RoundFacts:
    """Everything one round left behind, handed to the oracle."""

    report: RoundReport
    probed_at: float
    ended_at: float
    events: Sequence[Mapping[str, Any]]
    written: Sequence[Written]
    overrides: Mapping[OriginKey, Override]
    dry_run: bool
    metrics: Metrics
    unread: frozenset[str] = frozenset()  # pools whose record the daemon has never read
    overrides_unread: bool = False  # no read of the overrides store succeeded for this daemon
    # Canary sources whose Region is down, in pools nothing else disturbs (the world's truth).
    sources_down: frozenset[OriginKey] = frozenset()


@dataclass
class Oracle:
    config: Config
    r53: FakeRoute53
    start: float
    write_cycle: float
    violations: list[Violation] = field(default_factory=list)
    tracks: dict[OriginKey, Track] = field(default_factory=dict)
    failover_seconds: list[float] = field(default_factory=list)
    _seen_r53: int = 0
    _refusals: float = 0.0
    _conflicting: int = 0  # rounds in a row with a conflict and no human change
    _humans: int = 0  # human changes seen so far
    _pending: list[tuple[tuple[str, str, int], str, float, bool]] = field(default_factory=list)
    late_logs: list[str] = field(default_factory=list)
    _source_weights: dict[OriginKey, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.origins = {o.key: o for o in self.config.all_origins()}
        self.tracks = {k: Track() for k in self.origins}
        self.takeover = Takeover(self.config, self.r53, self.write_cycle)

    def restarted(self) -> None:
        """A new daemon has no memory of failures: its count starts again."""
        for t in self.tracks.values():
            t.streak, t.late, t.ok = 0, False, 0
        self._refusals = 0.0  # a new process starts its counters at 0

    def _fail(self, invariant: str, at: float, detail: str) -> None:
        self.violations.append(Violation(invariant, round(at - self.start, 1), detail))

    def check(self, f: RoundFacts) -> None:
        now = f.probed_at
        for inv, detail in self.r53.violations[self._seen_r53 :]:
            self._fail(inv, now, detail)
        self._seen_r53 = len(self.r53.violations)
        report = f.report
        if report.error:
            self._fail("round_never_raises", now, report.error)
        events = {e["event"] for e in f.events}
        mine = [w for w in f.written if w.by_daemon]
        # No evidence in the round: every probe a transport failure or refused for the
        # daemon's own fault (credentials, clock).
        frozen = bool(report.results) and all(
            r.outcome.transport_failure or r.outcome.own_fault for r in report.results.values()
        )
        if mine and f.dry_run:
            self._fail("no_write_in_dry_run", now, mine[0].comment)
        if mine and frozen:
            self._fail("no_write_while_frozen", now, mine[0].comment)
        for pool in report.refused:
            self._fail("never_all_zero", now, f"the gate had to refuse pool {pool}")
        self._check_logged(mine, f.events, now)
        self._check_conflicts(events, now)
        trouble = bool(events & TROUBLE)
        if trouble:
            refusals = _refusals(f.metrics)
            if refusals <= self._refusals:
                self._fail("retries_visible", now, f"{sorted(events & TROUBLE)} but no metric")
            self._refusals = refusals
        self._observe(report.results, now, blind=frozen, unread=f.unread)
        self._check_applied(report, f.overrides, now, f.overrides_unread)
        exempt = frozen or f.dry_run or trouble
        self._check_down(report, f.overrides, now, exempt, mine)
        # Raises wait until the overrides are read: a pool cannot fail open before.
        self._check_failed_open(report, now, exempt or f.overrides_unread)
        self._check_source_outage(f, mine, now)
        for detail in self.takeover.check(
            self.tracks, f.overrides, now, exempt or f.overrides_unread, f.unread
        ):
            self._fail("live_takes_over", now, detail)

    def _check_logged(
        self, mine: Sequence[Written], events: Iterable[Mapping[str, Any]], now: float
    ) -> None:
        """Each accepted change needs a weights_applied event, under the batch's change id.

        When the answer to an accepted batch is lost and the re-read fails too, the round
        cannot know the change landed; it learns it a later round and logs it then, under
        that round's change id. That is counted (`late_logs`), and a change whose event
        never comes within `LOG_WAIT` seconds is a violation.
        """
        logged: dict[tuple[str, str, int], str] = {}
        for e in events:
            if e["event"] == "weights_applied":
                for c in e["changes"]:
                    logged[(str(c["pool"]), str(c["origin"]), int(c["to"]))] = str(e["change_id"])
        names = {p.record + ".": p.name for p in self.config.pools}
        for w in mine:
            change_id = w.comment.removeprefix("failover ")
            deleted = {
                key_of(c["ResourceRecordSet"]): c["ResourceRecordSet"]
                for c in w.changes
                if c["Action"] == "DELETE"
            }
            for c in w.changes:
                if c["Action"] == "DELETE":
                    continue
                if deleted.get(key_of(c["ResourceRecordSet"])) == c["ResourceRecordSet"]:
                    continue  # a guard: the set rewritten unchanged to pin it, not a change
                name, _, set_id = key_of(c["ResourceRecordSet"])
                want = (names.get(name, name), set_id, int(c["ResourceRecordSet"]["Weight"]))
                self._pending.append((want, change_id, now, w.lost))
        still = []
        for want, change_id, at, lost in self._pending:
            got = logged.get(want)
            if got is None:
                if now - at <= LOG_WAIT:
                    still.append((want, change_id, at, lost))
                else:
                    self._fail("every_change_logged", now, f"{change_id}: {want} has no event")
            elif got.rstrip("r") != change_id.rstrip("r"):
                self.late_logs.append(f"{want} accepted as {change_id}, logged as {got}")
        self._pending = still

    def _observe(
        self,
        results: Mapping[OriginKey, ProbeResult],
        now: float,
        blind: bool,
        unread: frozenset[str] = frozenset(),
    ) -> None:
        for key, r in results.items():
            t = self.tracks[key]
            if r.outcome.healthy:
                t.streak, t.late, t.exempted = 0, False, False
                t.ok += 1
                continue
            t.ok = 0
            if r.outcome.own_fault or blind or key.pool in unread:
                # S3 refusing the daemon's own credentials or clock says nothing about
                # the origin; a round in which nothing gave evidence says nothing either
                # (and freezes writes); a daemon that has not read the pool's record yet (just
                # restarted, Route 53 unreadable) gathers no evidence. Either way the
                # streak goes on, but its time no longer measures us.
                t.exempted |= t.streak > 0
                continue
            if t.streak == 0:
                t.streak_start = now
            t.streak += 1
            t.last_failure = now
            if t.streak >= self.origins[key].health.fall and not t.out:
                t.out, t.down_at = True, now

    def _check_applied(
        self,
        report: RoundReport,
        overrides: Mapping[OriginKey, Override],
        now: float,
        overrides_unread: bool = False,
    ) -> None:
        interval = self.config.daemon.interval
        for c in report.applied:
            key = OriginKey(c.pool, c.new.set_id)
            o = self.origins.get(key)
            if o is None:
                continue
            t = self.tracks[key]
            was = None if c.old is None else c.old.weight
            ov = overrides.get(key)
            drained = ov is not None and ov.action is Action.DRAIN
            # Failing open restores configured weights, drains included (DESIGN: even a
            # forced drain fails open): that is the pool rule, not a forgotten drain.
            if (
                overrides_unread
                and drained
                and c.new.weight > (was or 0)
                and c.reason != "failed_open"
            ):
                self._fail(
                    "drain_kept_unread",
                    now,
                    f"{key} raised {was} -> {c.new.weight} ({c.reason}) while drained, "
                    "the overrides never read",
                )
            if c.new.weight == 0 and (was is None or was > 0) and c.reason == "down" and not t.out:
                # The oracle's own count: `out` is set once `fall` counted failures ran.
                self._fail(
                    "taken_out_on_evidence",
                    now,
                    f"{key} set to 0 as down after {t.streak} counted failures "
                    f"(fall {o.health.fall})",
                )
            # A healthy standby goes idle once a primary serves; one deleted by hand comes
            # back idle: neither takes anything out of service.
            idle = o.standby and (c.reason == "standby" or (was is None and c.reason == "missing"))
            if c.new.weight == 0 and (was is None or was > 0) and not idle:
                window = o.health.hold_down_max + (o.health.rise + 2) * interval
                recent = t.last_failure is not None and now - t.last_failure <= window
                if not recent and not drained:
                    self._fail(
                        "healthy_never_taken_out",
                        now,
                        f"{key} set to 0 ({c.reason}); last failure {t.last_failure}",
                    )
            if (
                c.new.weight > 0
                and not was
                and c.reason in ("up", "slow_start", "active")
                and t.out
            ):
                if now - t.down_at < o.health.hold_down - 1e-6:
                    self._fail(
                        "hold_down_respected",
                        now,
                        f"{key} back after {now - t.down_at:.1f}s < {o.health.hold_down}s",
                    )
                t.out = False

    def _check_conflicts(self, events: set[str], now: float) -> None:
        """A conflict that no person caused again, round after round, is a write that can never land."""
        human = self.r53.human_changes != self._humans
        self._humans = self.r53.human_changes
        conflict = "change_conflict" in events
        self._conflicting = self._conflicting + 1 if conflict and not human else 0
        if self._conflicting == CONFLICT_ROUNDS:
            self._fail("conflicts_settle", now, f"{CONFLICT_ROUNDS} rounds of change_conflict")

    def _check_down(
        self,
        report: RoundReport,
        overrides: Mapping[OriginKey, Override],
        now: float,
        exempt: bool,
        mine: Sequence[Written],
    ) -> None:
        for key, t in self.tracks.items():
            o = self.origins[key]
            if t.streak < o.health.fall:
                continue
            weight = self.r53.weight(o_zone(self.config, o), _record(self.config, o), o.id)
            if weight == 0:
                if not t.late and not t.exempted and mine:
                    # From the first failing probe (the fault began up to an interval before).
                    interval = self.config.daemon.interval
                    self.failover_seconds.append(now - t.streak_start + interval)
                t.late = True  # measured once per streak
                continue
            desired = report.desired.get(o.pool)
            ov = overrides.get(key)
            unseen = any(
                k[2] == o.id and k[0] == _record(self.config, o) + "." for k in self.r53.unseen
            )
            excused = (
                exempt
                or unseen
                or (ov is not None and ov.action is Action.PIN)
                or (desired is not None and desired.failed_open)
            )
            t.exempted |= excused  # its failover time is not a measure of the daemon's speed
            if excused or t.late:
                continue
            t.late = True
            self._fail(
                "failover_within_bound",
                now,
                f"{key} failed {t.streak} probes since {t.streak_start - self.start:.0f}s, "
                f"Route 53 still holds {weight}",
            )

    def _check_failed_open(self, report: RoundReport, now: float, exempt: bool) -> None:
        if exempt:
            return
        for pool in self.config.pools:
            desired = report.desired.get(pool.name)
            if desired is None or not desired.failed_open:
                continue
            for o in pool.origins:
                unseen = any(k[2] == o.id and k[0] == pool.record + "." for k in self.r53.unseen)
                held = self.r53.weight(pool.zone_id, pool.record, o.id)
                want = 0 if o.standby else o.weight  # standbys stay idle when failing open
                if held != want and not unseen:
                    self._fail(
                        "fails_open_with_configured_weights",
                        now,
                        f"{o.key} at {held}, configured {o.weight} (standby: {o.standby})",
                    )

    def _check_source_outage(self, f: RoundFacts, mine: Sequence[Written], now: float) -> None:
        """The canary source is down and its replicas answer: every replica's canary is
        as old as the source's last write, none behind another. The pool must keep serving
        from them: failing open would put the dead source back at its configured weight."""
        if f.dry_run:
            return
        for key in f.sources_down:
            desired = f.report.desired.get(key.pool)
            if desired is not None and desired.failed_open:
                self._fail(
                    "source_outage_contained", now, f"{key.pool} failed open while {key} is down"
                )
            record = fqdn(self.config.pool(key.pool).record)
            for w in mine:
                for c in w.changes:
                    rrset = c["ResourceRecordSet"]
                    if c["Action"] == "DELETE" or key_of(rrset) != (record, "TXT", key.origin):
                        continue
                    was = self._source_weights.get(key)
                    if rrset["Weight"] > 0 and was == 0:
                        self._fail(
                            "source_outage_contained",
                            now,
                            f"{key} raised to {rrset['Weight']} while its Region is down",
                        )
        self._source_weights = {
            key: self.r53.weight(o_zone(self.config, self.origins[key]), record_of, key.origin)
            for key in f.sources_down
            if (record_of := self.config.pool(key.pool).record)
        }


def o_zone(config: Config, o: Origin) -> str:
    return config.pool(o.pool).zone_id


def _record(config: Config, o: Origin) -> str:
    return config.pool(o.pool).record


def _refusals(metrics: Metrics) -> float:
    get = metrics.registry.get_sample_value
    total = 0.0
    for op, outcome in REFUSALS:
        total += get("failover_route53_requests_total", {"operation": op, "outcome": outcome}) or 0
    return total
