"""Runs N replicas of the real round and cluster core through a scenario, on drifting clocks.

Each replica has its own monotonic clock (a rate a few per cent off true time), its
own prober (its own network path: faults may strike it alone), its own handle on
the shared table and its own path to the one Route 53. Replicas run on one true
timeline: the replica due soonest runs its whole round next. A leader paused
mid-send stops between its lease check and its batch reaching Route 53 while the
others run on; it then sends the batch it had prepared, as a process resumed does.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from failover.aws.route53 import RateLimiter, Route53Store
from failover.cluster.fencing import Fencer
from failover.cluster.replica import ClusterMetrics, Replica
from failover.metrics import Metrics
from failover.model import ClusterSettings, Config, Origin, OriginKey, ProbeResult
from failover.round import Runner
from failover.sim import cluster_world as cw
from failover.sim.cluster_oracle import ClusterOracle, Send
from failover.sim.route53 import FakeRoute53, fqdn
from failover.sim.run import UNKNOWN_SET, ZONES, Result, _upsert, captured
from failover.sim.scenario import Fault, world_config
from failover.sim.world import MemoryOverrides, Route53Faults, SimProber

LEASE = 30.0
MARGIN = 5.0
DRIFT = 0.03  # each replica's clock rate within ±3 % of true time


@dataclass
class ClusterResult(Result):
    """A cluster run's figures: those of a single daemon's, and the cluster's own."""

    replicas: int = 3
    takeovers: int = 0  # lease writes that took the lease (a new epoch)
    paused_sends: int = 0  # batches a paused leader sent on waking
    fenced: int = 0  # batches Route 53 refused on the fence, or the fence read refused
    # Batches of an epoch that landed after a later epoch was taken, before the new
    # leader had written their zone (the fence is bumped by a new leader's first write).
    stale_landed: int = 0

    @property
    def replay(self) -> str:
        return (
            f"python -m failover.sim --replicas {self.replicas} "
            f"--seed {self.seed} --hours {self.hours:g}"
        )

    def summary(self) -> str:
        return (
            super().summary()
            + f"; {self.replicas} replicas, {self.takeovers} takeovers, "
            + f"{self.paused_sends} batches sent by a resumed leader, {self.fenced} fenced, "
            + f"{self.stale_landed} landed before the new leader's first write"
        )


@dataclass
class Node:
    """One replica process: its clock and its current life (a kill starts a new one)."""

    name: str
    clock: cw.DriftClock
    runner: Runner
    replica: Replica
    prober: SimProber
    store: Route53Store
    next_local: float
    dead_until: float | None = None  # true time of its restart while killed
    paused_until: float = float("-inf")  # true time it wakes from a pause between rounds
    armed: Fault | None = None  # a pause waiting for this replica's next send
    events: list[dict[str, Any]] = field(default_factory=list)


def cluster_config(replicas: int = 3) -> Config:
    """The single daemon's world, with `[cluster]`."""
    return dataclasses.replace(
        world_config(),
        cluster=ClusterSettings(
            "sim-table", replicas, lease_seconds=LEASE, lease_margin_seconds=MARGIN
        ),
    )


class ClusterSimulation:
    """One seeded run of `replicas` replicas."""

    def __init__(
        self,
        seed: int,
        hours: float,
        replicas: int = 3,
        kinds: tuple[str, ...] | None = None,
        drift: float = DRIFT,
    ) -> None:
        self.config = cluster_config(replicas)
        self.interval = self.config.daemon.interval
        self.names = [f"r{i + 1}" for i in range(replicas)]
        self.scenario = cw.generate(seed, hours, self.config, self.names, kinds)
        self.rng = random.Random(seed * 7919 + 1)
        self.rates = cw.rates(seed, self.names, drift)
        self.active: list[Fault] = []
        self.pending = sorted(self.scenario.faults, key=lambda f: f.start, reverse=True)
        self.frontier = 0.0
        self.table = cw.TableState()
        self.overrides = MemoryOverrides(self.now)
        owned = {p.record: {o.id for o in p.origins} for p in self.config.pools}
        self.r53 = FakeRoute53(self.now, Route53Faults(lambda: self.active, self.rng), owned)
        self._seed_route53()
        self.result = ClusterResult(seed, hours, replicas=replicas)
        self._ids = 0
        self.nodes = {n: self._node(n, i, 0.0) for i, n in enumerate(self.names)}
        self.actor = self.nodes[self.names[0]]
        self.busy: set[str] = set()
        store = self.actor.store
        cycle = sum(
            min(store.backoff_max, store.backoff * 2**k) * 1.5 for k in range(store.attempts)
        )
        self.oracle = ClusterOracle(
            self.config, self.r53, self.table, ZONES, write_cycle=2 * cycle + self.interval
        )
        self.oracle.drift = drift

    # -- the world ------------------------------------------------------------------------
    def now(self) -> float:
        """True time, as the replica now running has reached it."""
        return self.actor.clock.cursor if hasattr(self, "actor") else 0.0

    def _seed_route53(self) -> None:
        for zone_id, name in ZONES.items():
            self.r53.create_zone(zone_id, name)
        for p in self.config.pools:
            changes = [_upsert(p.record, o.id, o.weight, p.ttl, o.endpoint) for o in p.origins]
            if p.name == "www":
                changes.append(_upsert(p.record, UNKNOWN_SET, 7, p.ttl, "legacy.example.org"))
            self.r53.human(p.zone_id, changes)
        self.r53.unseen.clear()

    def _change_id(self) -> str:
        self._ids += 1
        return f"sim{self._ids:08d}"

    def _node(self, name: str, index: int, cursor: float, old: Node | None = None) -> Node:
        offset = 1_000.0 * (index + 1)
        clock = old.clock if old is not None else cw.DriftClock(self.rates[name], offset, cursor)
        rng = random.Random(self.scenario.seed * 101 + index)
        sources = {p.name: p.canary_source for p in self.config.pools if p.canary_source}
        prober = SimProber(clock, lambda: cw.probe_faults(self.active, name), rng, sources)
        watched = _Watched(prober, lambda results: self.oracle.observe(name, results, self.now()))
        table = cw.SimTable(self.table, name, self.now, lambda: self.active, rng)
        registry = CollectorRegistry()
        metrics = Metrics(registry)
        replica = Replica(
            self.config.cluster or ClusterSettings("sim-table", len(self.names)),
            name,
            table,
            interval=self.interval,
            background=False,
            clock=clock,
            metrics=ClusterMetrics(registry),
        )
        limiter = RateLimiter(self.config.daemon.route53_rate, clock=clock, sleep=clock.sleep)
        store = Route53Store(
            cw.ReplicaRoute53(self.r53, name, self._before_send),  # type: ignore[arg-type]
            limiter,
            observer=metrics,
            sleep=clock.sleep,
            clock=clock,
            rand=rng.random,
        )
        runner = Runner(
            self.config,
            watched,
            store,
            self.overrides,
            metrics,
            clock=clock,
            wall=clock,
            change_ids=self._change_id,
            cluster=replica,
        )
        runner.writer.fencer = Fencer(store, replica.may_write, apexes=ZONES)
        # Replicas start a fraction of an interval apart, each on its own cadence.
        first = clock() + (index * self.interval / len(self.names) if old is None else 0.0)
        return Node(name, clock, runner, replica, prober, store, first)

    # -- faults ---------------------------------------------------------------------------
    def _leader(self) -> str:
        item = self.table.items.get(("lease", "lease"))
        holder = "" if item is None else str(item["holder"])
        return holder if holder in self.nodes else self.rng.choice(self.names)

    def _advance(self, t: float) -> None:
        self.frontier = max(self.frontier, t)
        while self.pending and self.pending[-1].start <= self.frontier:
            self._begin(self.pending.pop())
        if any(f.end <= self.frontier for f in self.active):
            self.active = [f for f in self.active if f.end > self.frontier]

    def _begin(self, f: Fault) -> None:
        if f.replica == cw.LEADER:
            f = dataclasses.replace(f, replica=self._leader())
        self.result.faults[f.label] += 1
        self.active.append(f)
        self.oracle.fault(f)
        node = self.nodes.get(f.replica)
        if node is None:
            return
        if f.kind == "kill" and node.dead_until is None and node.name not in self.busy:
            node.dead_until = f.end
            self.oracle.killed(node.name, f.start)
        elif f.kind == "pause":
            node.armed = f

    def _before_send(self, name: str, comment: str) -> None:
        """A batch leaving `name`: a pause armed for it strikes here, before Route 53."""
        node = self.nodes[name]
        checked = node.clock.cursor
        f, node.armed = node.armed, None
        if f is not None:
            wake = checked + f.down
            self.result.paused_sends += 1
            self._run_until(wake)
            self.actor = node
            node.clock.cursor = max(node.clock.cursor, wake)
        self.oracle.sent(Send(name, _epoch(comment), checked, f is not None))

    # -- running --------------------------------------------------------------------------
    def _due(self, node: Node) -> float:
        if node.dead_until is not None:
            return node.dead_until
        due = max(node.clock.true_of(node.next_local), node.clock.cursor, node.paused_until)
        if node.armed is not None:
            due = min(due, max(node.clock.cursor, node.armed.start + cw.ARMED * self.interval))
        return due

    def _step(self, node: Node, t: float) -> None:
        self._advance(t)
        if node.dead_until is not None:
            if t < node.dead_until:
                return
            index = self.names.index(node.name)
            node.clock.cursor = max(node.clock.cursor, t)
            node = self.nodes[node.name] = self._node(node.name, index, t, old=node)
        node.clock.cursor = max(node.clock.cursor, t)
        armed = node.armed
        if armed is not None and t >= armed.start + cw.ARMED * self.interval:
            # No batch to stop in: the pause strikes between rounds.
            node.armed = None
            node.paused_until = t + armed.down
            node.next_local = node.clock.t + armed.down * node.clock.rate
            return
        was = self.actor
        self.actor = node
        self.busy.add(node.name)
        events: list[dict[str, Any]] = []
        with captured(events):
            report = node.runner.run_round()
        self.busy.discard(node.name)
        self.result.rounds += 1
        self.oracle.check(
            node.name,
            report,
            events,
            self.now(),
            {n.name for n in self.nodes.values() if n.dead_until is not None},
        )
        node.next_local += self.interval
        while node.next_local < node.clock():
            node.next_local += self.interval
            self.result.missed += 1
        self.actor = was if was.name in self.busy else node

    def _run_until(self, until: float) -> None:
        while True:
            ready = [n for n in self.nodes.values() if n.name not in self.busy]
            if not ready:
                return
            node = min(ready, key=self._due)
            t = self._due(node)
            if t >= until:
                self._advance(until)
                return
            self._step(node, t)

    def run(self) -> ClusterResult:
        started = time.perf_counter()
        self._run_until(self.scenario.end)
        return self._finish(time.perf_counter() - started)

    def _finish(self, seconds: float) -> ClusterResult:
        r = self.result
        self.oracle.finish(self.scenario.faults)
        r.seconds = seconds
        r.violations = list(self.oracle.violations)
        r.failover_max = max(self.oracle.failover_seconds, default=0.0)
        mine = [w for w in self.r53.written if w.by_daemon]
        r.batches = len(mine)
        r.changes = sum(
            1
            for w in mine
            for c in w.changes
            if c["Action"] != "DELETE" and c["ResourceRecordSet"].get("Weight") is not None
        )
        r.route53_calls = dataclasses.replace(self.r53.stats).calls
        r.takeovers = len(self.table.takes)
        r.fenced = self.oracle.fenced
        r.stale_landed = self.oracle.stale_landed
        return r


class _Watched:
    """A replica's prober whose results the oracle counts as they come, not at round end
    (a round that pauses mid-send ends after the others' rounds that ran meanwhile)."""

    def __init__(
        self, prober: SimProber, seen: Callable[[dict[OriginKey, ProbeResult]], None]
    ) -> None:
        self.prober, self.seen = prober, seen

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        results = self.prober.probe_all(origins)
        self.seen(results)
        return results


def _epoch(comment: str) -> int:
    """The epoch a batch comment names (`failover <change id> epoch N`); 0 if none."""
    head, _, tail = comment.rpartition(" epoch ")
    return int(tail) if head and tail.isdigit() else 0


def simulate_cluster(
    seed: int, hours: float, replicas: int = 3, kinds: Sequence[str] | None = None
) -> ClusterResult:
    """Run one seeded cluster simulation of `hours` simulated hours."""
    return ClusterSimulation(
        seed, hours, replicas, tuple(kinds) if kinds is not None else None
    ).run()


__all__ = ["ClusterResult", "ClusterSimulation", "fqdn", "simulate_cluster"]
