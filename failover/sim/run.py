"""Runs the real Runner through a generated scenario on a fake clock and judges every round."""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from failover.aws.route53 import RateLimiter, Route53Store
from failover.metrics import Metrics
from failover.model import Action, Config, OriginKey, Override, Pool, quote_txt
from failover.round import Runner
from failover.sim.oracle import Oracle, RoundFacts, Violation
from failover.sim.route53 import FakeRoute53, fqdn
from failover.sim.scenario import (
    INSTANT_KINDS,
    PROBE_KINDS,
    WINDOW_KINDS,
    Fault,
    Scenario,
    generate,
    world_config,
)
from failover.sim.world import MemoryOverrides, Route53Faults, SimClock, SimProber

ZONES = {"Z1SIMWWW": "example.com", "Z2SIMIMG": "example.net"}
UNKNOWN_SET = "legacy-origin"  # a weighted set under www's name that the config does not know
# The sets the config does not own, by pool: (set id, weight, value: an origin id stands
# for that origin's bucket endpoint). www keeps an untrusted set naming no bucket, and a
# ghost of its renamed primary naming the primary's bucket: it counts as serving only
# while the primary is up, so it never keeps the standbys from taking over. docs trusts its CDN set, which names no bucket, and its old id is in its
# `previous_ids`: the daemon owns it, to retire it. api and img have none: their records
# alone can reach all zero, which is what the gate and the guards are there to prevent.
FOREIGN = {
    "www": ((UNKNOWN_SET, 7, "legacy.example.org"), ("www-eu-west-1-old", 20, "eu-west-1")),
    "docs": (("docs-cdn", 5, "cdn.example.org"), ("docs-us-east-1-old", 30, "us-east-1")),
}


@dataclass
class Result:
    """What a simulation run did and found."""

    seed: int
    hours: float
    rounds: int = 0
    missed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    changes: int = 0  # record sets Route 53 accepted from the daemon
    batches: int = 0
    route53_calls: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    failover_max: float = 0.0
    late_logs: list[str] = field(default_factory=list)  # changes logged under another change id
    seconds: float = 0.0

    @property
    def replay(self) -> str:
        return f"python -m failover.sim --seed {self.seed} --hours {self.hours:g}"

    def summary(self) -> str:
        kinds = ", ".join(f"{k}={n}" for k, n in sorted(self.faults.items()))
        return (
            f"seed {self.seed}: {self.hours:g} simulated hours, {self.rounds} rounds, "
            f"{sum(self.faults.values())} faults injected ({kinds}), "
            f"{self.changes} changes written in {self.batches} batches, "
            f"{len(self.violations)} violations, "
            f"in {self.seconds:.1f}s"
        )


@contextmanager
def captured(events: list[dict[str, Any]]) -> Iterator[None]:
    """Send every structlog event into `events` (and nowhere else) for the duration."""
    old = structlog.get_config()

    def collect(logger: object, method: str, event_dict: Any) -> Any:
        event_dict["log_level"] = method
        events.append(event_dict)
        raise structlog.DropEvent

    structlog.configure(processors=[collect], cache_logger_on_first_use=False)
    try:
        yield
    finally:
        structlog.configure(**old)


class Simulation:
    """One seeded run: the scenario's faults applied to the world, round after round."""

    def __init__(
        self,
        seed: int,
        hours: float,
        config: Config | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> None:
        self.config = config or world_config()
        self.scenario: Scenario = generate(seed, hours, self.config, kinds)
        self.clock = SimClock()
        self.start = self.clock()
        self.rng = random.Random(seed * 7919 + 1)
        self.active: list[Fault] = []
        owned = {
            p.record: {o.id for o in p.origins} | set(p.previous_ids) for p in self.config.pools
        }
        self.r53 = FakeRoute53(self.clock, Route53Faults(lambda: self.active, self.rng), owned)
        sources = {p.name: p.canary_source for p in self.config.pools if p.canary_source}
        self.prober = SimProber(self.clock, lambda: self.active, self.rng, sources)
        self.overrides = MemoryOverrides(
            self.clock, lambda: self.active, late=self.config.daemon.interval
        )
        self.served_at_start = 0  # the store's good reads when this daemon started
        self.result = Result(seed, hours)
        self._ids = 0
        self._seed_route53()
        self.runner, self.metrics, store = self._new_runner()
        interval = self.config.daemon.interval
        cycle = sum(
            min(store.backoff_max, store.backoff * 2**k) * 1.5 for k in range(store.attempts)
        )
        # One write cycle: every retry's back-off, a conflict's re-read and resend, and the
        # rate limiter's waits for the calls of a round.
        self.oracle = Oracle(self.config, self.r53, self.start, write_cycle=2 * cycle + interval)

    # -- the world at the start ---------------------------------------------------------
    def _seed_route53(self) -> None:
        for zone_id, name in ZONES.items():
            self.r53.create_zone(zone_id, name)
        for p in self.config.pools:
            changes = [
                _upsert(p.record, o.id, 0 if o.standby else o.weight, p.ttl, o.endpoint)
                for o in p.origins
            ]
            if p.backstop:  # each set armed with its CLOUDWATCH_METRIC health check
                for c, o in zip(changes, p.origins, strict=True):
                    c["ResourceRecordSet"]["HealthCheckId"] = f"hc-{p.name}-{o.id}"
            endpoints = {o.id: o.endpoint for o in p.origins}
            changes += [
                _upsert(p.record, sid, weight, p.ttl, endpoints.get(value, value))
                for sid, weight, value in FOREIGN.get(p.name, ())
            ]
            if p.name == "www":
                changes.append(
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": fqdn(p.record),
                            "Type": "A",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": "192.0.2.10"}],
                        },
                    }
                )
            self.r53.human(p.zone_id, changes)
        self.r53.unseen.clear()

    def _change_id(self) -> str:
        self._ids += 1
        return f"sim{self._ids:08d}"

    def _new_runner(self) -> tuple[Runner, Metrics, Route53Store]:
        self.started_at = self.clock()
        metrics = Metrics(CollectorRegistry())
        d = self.config.daemon
        limiter = RateLimiter(d.route53_rate, clock=self.clock, sleep=self.clock.sleep)
        store = Route53Store(
            self.r53,  # type: ignore[arg-type]
            limiter,
            observer=metrics,
            sleep=self.clock.sleep,
            clock=self.clock,
            rand=self.rng.random,
        )
        runner = Runner(
            self.config,
            self.prober,
            store,
            self.overrides,
            metrics,
            clock=self.clock,
            change_ids=self._change_id,
        )
        return runner, metrics, store

    # -- running ------------------------------------------------------------------------
    def run(self) -> Result:
        started = time.perf_counter()
        events: list[dict[str, Any]] = []
        interval = self.config.daemon.interval
        pending = list(self.scenario.faults)
        pending.reverse()
        tick = 0
        dry_run = False
        with captured(events):
            while tick * interval < self.scenario.end:
                self.clock.t = max(self.clock.t, self.start + tick * interval)
                now = self.clock() - self.start
                changed = False
                while pending and pending[-1].start <= now:
                    changed |= self._begin(pending.pop())
                ended = [f for f in self.active if f.end <= now]
                if ended:
                    self.active = [f for f in self.active if f.end > now]
                    changed |= any(f.kind in WINDOW_KINDS for f in ended)
                if changed:
                    dry_run = self._apply_windows(dry_run)
                seen = len(self.r53.written)
                events.clear()
                report = self.runner.run_round()
                self.result.rounds += 1
                self.oracle.check(
                    RoundFacts(
                        report=report,
                        probed_at=self.prober.probed_at,
                        ended_at=self.clock(),
                        events=events,
                        written=self.r53.written[seen:],
                        # What the store holds, and what the daemon last read of it (kept
                        # while the store cannot be read): both are in force.
                        overrides={**self.overrides.current, **self.runner.overrides.current},
                        dry_run=dry_run,
                        metrics=self.metrics,
                        # Raises wait for a first read only for the grace (then they go on,
                        # loudly): only within it is a raise of a drained origin a violation.
                        overrides_unread=self.overrides.served == self.served_at_start
                        and self.clock() - self.started_at < self.config.daemon.overrides_grace,
                        unread=frozenset(
                            p.name for p in self.config.pools if p.name not in self.runner.records
                        ),
                        sources_down=self._sources_down(now),
                    )
                )
                tick += 1
                while self.start + tick * interval < self.clock():
                    tick += 1  # the round overran: the scheduler skips to the next tick
                    self.result.missed += 1
        return self._finish(time.perf_counter() - started)

    def _sources_down(self, now: float) -> frozenset[OriginKey]:
        """Canary sources whose Region is down while nothing else disturbs their pool.

        Nothing else: no other fault of the pool's origins (nor a cut-off prober, a drain
        or a pin) active or ended within the time health takes to settle, so that a pool
        failing open, or its source coming back, can only be the source outage's doing.
        """
        down: set[OriginKey] = set()
        for f in self.active:
            if f.kind != "source_down":
                continue
            for pool in self.config.pools:
                source = (pool.name, pool.canary_source)
                if not pool.canary_source or source not in f.origins:
                    continue
                if pool.origin(pool.canary_source).health.max_age <= 0:
                    continue
                if not self._disturbed(pool, f, now):
                    down.add(OriginKey(*source))
        return frozenset(down)

    def _disturbed(self, pool: Pool, outage: Fault, now: float) -> bool:
        h = pool.origins[0].health
        interval = self.config.daemon.interval
        settle = h.hold_down_max + h.slow_start + (h.fall + h.rise + 2) * interval
        mine = {(pool.name, o.id) for o in pool.origins}
        for f in self.scenario.faults:
            if f is outage or f.kind not in (*PROBE_KINDS, "drain", "pin"):
                continue
            touches = f.kind == "cutoff" or bool(f.origins & mine)
            if touches and f.start <= now and f.end + settle >= now:
                return True
        return False

    def _begin(self, f: Fault) -> bool:
        self.result.faults[f.label] += 1
        if f.kind not in INSTANT_KINDS:
            self.active.append(f)
            return f.kind in WINDOW_KINDS
        if f.kind == "restart":
            self.runner, self.metrics, _ = self._new_runner()
            self.served_at_start = self.overrides.served
            self.oracle.restarted()
            return True  # the new daemon needs its dry-run setting again
        ((pool_name, origin_id),) = f.origins
        pool = self.config.pool(pool_name)
        if f.kind == "human_ttl":
            # Weighted sets share one TTL: a person changes all of the name's at once.
            group = [
                dict(rr, TTL=f.weight)
                for k, rr in self.r53.sets(pool.zone_id).items()
                if k[:2] == (fqdn(pool.record), "TXT") and rr.get("Weight") is not None
            ]
            if group:
                changes = [{"Action": "UPSERT", "ResourceRecordSet": rr} for rr in group]
                self.r53.human(pool.zone_id, changes)
            return False
        held = self.r53.sets(pool.zone_id).get((fqdn(pool.record), "TXT", origin_id))
        if held is None:
            return False
        if f.kind == "health_check":
            check = f"hc-{origin_id}-{int(f.start)}"
            self.r53.human(
                pool.zone_id,
                [{"Action": "UPSERT", "ResourceRecordSet": dict(held, HealthCheckId=check)}],
            )
            return False
        if f.kind == "human_delete":
            self.r53.human(pool.zone_id, [{"Action": "DELETE", "ResourceRecordSet": held}])
            return False
        weight = f.weight if f.weight != held["Weight"] else (f.weight + 1) % 256
        self.r53.human(
            pool.zone_id, [{"Action": "UPSERT", "ResourceRecordSet": dict(held, Weight=weight)}]
        )
        return False

    def _apply_windows(self, dry_run: bool) -> bool:
        overrides: dict[OriginKey, Override] = {}
        for f in self.active:
            if f.kind in ("drain", "pin"):
                ((pool_name, origin_id),) = f.origins
                key = OriginKey(pool_name, origin_id)
                action = Action.DRAIN if f.kind == "drain" else Action.PIN
                overrides[key] = Override(
                    key, action, "sim@ops", self.clock(), f"simulated {f.kind}"
                )
        if overrides != self.overrides.current:
            self.overrides.save(overrides)
        want = any(f.kind == "dry_run" for f in self.active)
        if want != (not self.runner.write):
            daemon = dataclasses.replace(self.config.daemon, dry_run=want)
            self.runner.reconfigure(dataclasses.replace(self.config, daemon=daemon))
        return want

    def _finish(self, seconds: float) -> Result:
        r = self.result
        r.seconds = seconds
        r.violations = list(self.oracle.violations)
        r.late_logs = list(self.oracle.late_logs)
        r.failover_max = max(self.oracle.failover_seconds, default=0.0)
        mine = [w for w in self.r53.written if w.by_daemon]
        r.batches = len(mine)
        r.changes = sum(1 for w in mine for c in w.changes if c["Action"] != "DELETE")
        r.route53_calls = Counter(self.r53.stats.calls)
        return r


def _upsert(record: str, set_id: str, weight: int, ttl: int, value: str) -> dict[str, Any]:
    return {
        "Action": "UPSERT",
        "ResourceRecordSet": {
            "Name": fqdn(record),
            "Type": "TXT",
            "SetIdentifier": set_id,
            "Weight": weight,
            "TTL": ttl,
            "ResourceRecords": [{"Value": quote_txt(value)}],
        },
    }


def simulate(seed: int, hours: float, kinds: tuple[str, ...] | None = None) -> Result:
    """Run one seeded simulation of `hours` simulated hours (a narrower fault mix if given)."""
    return Simulation(seed, hours, kinds=kinds).run()
