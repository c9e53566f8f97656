"""The cluster simulation's world: drifting clocks, the shared table, each replica's path, its faults."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from failover.cluster.table import ConditionFailed, TableError
from failover.core import lease as leases
from failover.core import views
from failover.core.lease import Item
from failover.model import Config, Origin, Outcome
from failover.sim.route53 import FakeRoute53
from failover.sim.scenario import Fault, Scenario, _fault, _log_uniform
from failover.sim.world import SimClock

# Faults of one replica: its path to one or two Regions cut, its prober blind, its path
# to the table cut, the leader paused past its lease, a replica killed and restarted.
# The table down for every replica, and its answers lost after a write was applied.
REPLICA_KINDS = ("path_cut", "blind", "table_cut", "pause", "kill", "minority")
TABLE_KINDS = ("table_down", "table_lost")
CLUSTER_KINDS = (*REPLICA_KINDS, *TABLE_KINDS)
# The faults of the single-daemon mix that the cluster run combines with its own.
SHARED_KINDS = (
    "outage",
    "partial",
    "flap",
    "stale",
    "cutoff",
    "throttle",
    "lost_response",
    "busy",
)
CLUSTER_WEIGHTS = {
    "outage": 6,
    "partial": 2,
    "flap": 2,
    "stale": 1,
    "cutoff": 1,
    "throttle": 1,
    "lost_response": 1,
    "path_cut": 5,
    "blind": 2,
    "table_cut": 3,
    "pause": 3,
    "kill": 3,
    "table_down": 2,
    "table_lost": 1,
    "minority": 2,
}
CLUSTER_DESCRIPTIONS = {
    "path_cut": "one replica's path to one or two Regions cut: it alone sees their origins fail",
    "blind": "one replica's prober cut off: every probe of it a transport failure",
    "table_cut": "one replica cannot reach the table (the leader, often)",
    "pause": "the leader paused past its lease (mid-send when it has a batch), then resumed",
    "kill": "a replica killed (the leader, often), restarted later under the same name",
    "table_down": "the table unreachable for every replica",
    "table_lost": "the table applies writes but some answers are lost",
    "minority": "two replicas out of the count (killed, blind or cut from the table) while "
    "the third's path to a Region is cut: one view alone must move nothing",
}
# Faults whose effect is steady while they last: an origin they move should move once
# each way. Random or periodic faults (partial, flap) and origins struck twice in one
# episode are left out of the flip-flop check.
STEADY_KINDS = frozenset(
    {"outage", "stale", "cutoff", "throttle", "lost_response", "busy", *CLUSTER_KINDS}
)
LEADER = "*leader"
ARMED = 8  # rounds a pause waits for the leader's next batch before striking between rounds  # a fault aimed at whoever leads when it starts


class DriftClock(SimClock):
    """A replica's monotonic clock: `offset + rate x true`, over the replica's own true time.

    `cursor` is the replica's position on the world's true timeline; sleeping or
    waiting on a probe moves it on. The rate differs from 1 by a few per cent.
    """

    def __init__(self, rate: float, offset: float, cursor: float = 0.0) -> None:
        self.rate, self.offset, self.cursor = rate, offset, cursor
        super().__init__(offset + rate * cursor)

    @property
    def t(self) -> float:
        return self.offset + self.rate * self.cursor

    @t.setter
    def t(self, local: float) -> None:
        self.cursor = max(self.cursor, (local - self.offset) / self.rate)

    def true_of(self, local: float) -> float:
        return (local - self.offset) / self.rate


@dataclass
class LeaseWrite:
    """A lease write the table applied: when (true time), by whom, and what."""

    at: float
    replica: str
    kind: str
    item: Item


@dataclass
class TableState:
    """The cluster table's items, shared by every replica's handle, and its history."""

    items: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)
    takes: list[LeaseWrite] = field(default_factory=list)  # the writes that took it (epochs)
    renewed: dict[tuple[str, int], float] = field(default_factory=dict)  # last write, by term
    renewals: int = 0
    calls: int = 0
    refused: int = 0


class SimTable:
    """One replica's handle on the table (the `TablePort` of `failover.cluster.replica`).

    Conditional writes behave as DynamoDB's: "a condition that must be satisfied in
    order for a conditional update to succeed" (API reference, ConditionCheck).
    Strongly consistent reads see every write acknowledged before them. The active
    faults refuse a call (`table_down`, `table_cut` on this replica) or lose the
    answer of a write that was applied (`table_lost`).
    """

    def __init__(
        self,
        state: TableState,
        replica: str,
        now: Callable[[], float],
        active: Callable[[], Sequence[Fault]],
        rng: random.Random,
    ) -> None:
        self.state, self.replica, self.now, self.active, self.rng = (
            state,
            replica,
            now,
            active,
            rng,
        )
        self.name = "sim-table"

    def _reach(self, op: str) -> None:
        self.state.calls += 1
        for f in self.active():
            if f.kind == "table_down" or (f.kind == "table_cut" and f.replica == self.replica):
                self.state.refused += 1
                raise TableError(f"{self.name}: {op}: EndpointConnectionError: unreachable")

    def _lost(self, op: str) -> None:
        for f in self.active():
            if f.kind == "table_lost" and self.rng.random() < f.p:
                raise TableError(f"{self.name}: {op}: ReadTimeoutError: answer lost")

    def read_lease(self) -> Item | None:
        self._reach("GetItem")
        item = self.state.items.get(("lease", "lease"))
        if item is None:
            return None
        return Item(str(item["holder"]), int(str(item["epoch"])), int(str(item["renewal"])))

    def write_lease(self, write: leases.Write) -> None:
        self._reach("PutItem")
        held = self.state.items.get(("lease", "lease"))
        now = (
            None
            if held is None
            else Item(str(held["holder"]), int(str(held["epoch"])), int(str(held["renewal"])))
        )
        if now != write.expect:
            raise ConditionFailed(f"{self.name}: PutItem: the condition failed")
        new = write.new
        self.state.items[("lease", "lease")] = {
            "holder": new.holder,
            "epoch": new.epoch,
            "renewal": new.renewal,
            "schema": views.SCHEMA,
        }
        if write.kind != "release":
            self.state.renewed[(self.replica, new.epoch)] = self.now()
        if write.kind == "take":
            self.state.takes.append(LeaseWrite(self.now(), self.replica, write.kind, new))
        else:
            self.state.renewals += 1
        self._lost("PutItem")

    def read_views(self) -> list[dict[str, object]]:
        self._reach("Query")
        return [dict(v) for (pk, _), v in sorted(self.state.items.items()) if pk == views.PK]

    def publish(self, items: Sequence[Mapping[str, object]], previous_shards: int) -> None:
        self._reach("PutItem")
        for item in [*items[1:], *items[:1]]:
            self.state.items[(views.PK, str(item["sk"]))] = dict(item)
        replica = str(items[0]["replica"])
        for shard in range(len(items), previous_shards):
            self.state.items.pop((views.PK, views.sort_key(replica, shard)), None)
        self._lost("PutItem")


class ReplicaRoute53:
    """One replica's path to the shared Route 53: the place a paused leader stops.

    `before_send(replica)` runs before each ChangeResourceRecordSets leaves: the
    simulation pauses the replica there (running the others meanwhile) when a pause
    is armed for it, between its lease check and its batch reaching Route 53.
    """

    def __init__(
        self, fake: FakeRoute53, replica: str, before_send: Callable[[str, str], None]
    ) -> None:
        self.fake, self.replica, self.before_send = fake, replica, before_send

    def list_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        return self.fake.list_resource_record_sets(**kw)

    def change_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        self.before_send(self.replica, str(kw["ChangeBatch"].get("Comment", "")))
        return self.fake.change_resource_record_sets(**kw)

    def get_change(self, **kw: Any) -> dict[str, Any]:
        return self.fake.get_change(**kw)


def probe_faults(active: Sequence[Fault], me: str) -> list[Fault]:
    """The faults one replica's prober meets: everyone's, and its own as probe faults."""
    out: list[Fault] = []
    for f in active:
        if f.kind == "path_cut" and f.replica == me:
            out.append(replace(f, kind="outage"))
        elif f.kind == "blind" and f.replica == me:
            out.append(replace(f, kind="cutoff"))
        elif f.kind not in CLUSTER_KINDS:
            out.append(f)
    return out


def rates(seed: int, names: Sequence[str], drift: float) -> dict[str, float]:
    """Each replica's clock rate, within ±`drift` of true time; the spread always spans it."""
    rng = random.Random(seed * 31 + 7)
    out = {n: 1.0 + rng.uniform(-drift, drift) for n in names}
    if len(names) >= 2:
        out[names[0]], out[names[-1]] = 1.0 - drift, 1.0 + drift
    return out


def generate(
    seed: int,
    hours: float,
    config: Config,
    names: Sequence[str],
    kinds: tuple[str, ...] | None = None,
) -> Scenario:
    """Episodes of one to three overlapping faults, numbered, each aimed at one replica or all.

    A pause is paired with an outage that starts with it, so that the leader has a
    batch to send when it stops; kills and table cuts strike the leader half the time.
    """
    rng = random.Random(seed)
    scenario = Scenario(seed, hours)
    origins = [o for p in config.pools for o in p.origins]
    regions = sorted({o.region for o in origins})
    mix = [k for k in CLUSTER_WEIGHTS if kinds is None or k in kinds]
    weights = [CLUSTER_WEIGHTS[k] for k in mix]
    lease = config.cluster.lease_seconds if config.cluster is not None else 30.0
    t = rng.uniform(60.0, 300.0)
    episode = 0
    while t < scenario.end:
        length = _log_uniform(rng, 60.0, 2 * 3600.0)
        for _ in range(rng.choices((1, 2, 3), (5, 3, 2))[0]):
            kind = rng.choices(mix, weights)[0]
            start = t + rng.uniform(0.0, length / 2)
            end = min(start + _log_uniform(rng, 30.0, length), scenario.end)
            for f in _one(rng, kind, start, end, origins, regions, config, names, lease):
                scenario.faults.append(replace(f, episode=episode))
        episode += 1
        t += length + _log_uniform(rng, 120.0, 3600.0)
    scenario.faults.sort(key=lambda f: f.start)
    return scenario


def _one(
    rng: random.Random,
    kind: str,
    start: float,
    end: float,
    origins: list[Origin],
    regions: list[str],
    config: Config,
    names: Sequence[str],
    lease: float,
) -> list[Fault]:
    def of_regions(picked: Sequence[str]) -> frozenset[tuple[str, str]]:
        return frozenset((o.pool, o.id) for o in origins if o.region in picked)

    someone = rng.choice(names)
    if kind == "path_cut":
        picked = rng.sample(regions, rng.choice((1, 2)))
        outcome = rng.choice((Outcome.TIMEOUT, Outcome.CONNECTION))
        return [Fault(kind, start, end, of_regions(picked), outcome, replica=someone)]
    if kind == "blind":
        return [Fault(kind, start, end, replica=someone)]
    if kind == "kill":
        who = LEADER if rng.random() < 0.5 else someone
        return [Fault(kind, start, min(end, start + rng.uniform(20.0, 6 * lease)), replica=who)]
    if kind == "table_cut":
        who = LEADER if rng.random() < 0.5 else someone
        cut = Fault(kind, start, min(end, start + rng.uniform(20.0, 6 * lease)), replica=who)
        if who != LEADER or rng.random() < 0.3:
            return [cut]
        # Cut while the leader has a batch it cannot land: a Region fails just before
        # and Route 53 refuses its changes for a while (PriorRequestNotComplete), so the leader tries again round
        # after round, and must stop at its own deadline.
        region = rng.choice(regions)
        fail = rng.choice((Outcome.HTTP_5XX, Outcome.TIMEOUT))
        failing = Fault(
            "outage", start - 40.0, start + rng.uniform(120.0, 900.0), of_regions([region]), fail
        )
        refusing = Fault("busy", start - 20.0, start + rng.uniform(45.0, 90.0), p=1.0)
        return [cut, failing, refusing]
    if kind == "minority":
        # The quorum never shrinks to whoever is left: two replicas out, the third's
        # partial view alone, for long enough that a leader would act on it.
        seer, *out = rng.sample(list(names), 3) if len(names) >= 3 else (someone,)
        length = rng.uniform(120.0, 900.0)
        picked = rng.sample(regions, rng.choice((1, 2)))
        outcome = rng.choice((Outcome.TIMEOUT, Outcome.CONNECTION))
        faults = [
            Fault("path_cut", start, start + length, of_regions(picked), outcome, replica=seer)
        ]
        for other in out:
            how = rng.choice(("kill", "blind", "table_cut"))
            faults.append(Fault(how, start - 5.0, start + length + 60.0, replica=other))
        return faults
    if kind == "pause":
        # The classic fencing case. An outage of a Region makes the leader send a batch;
        # it stops on the way out, past its lease. The outage is short: the new leader
        # takes the Region out (bumping the fence) and, the outage over, puts it back,
        # so the batch the old leader resumes with matches the weights again and only
        # the fence can refuse it.
        region = rng.choice(regions)
        fail = rng.choice((Outcome.HTTP_5XX, Outcome.HTTP_403, Outcome.TIMEOUT))
        pause = rng.uniform(3.0, 6.0) * lease
        return [
            Fault(kind, start, start + pause + 300.0, replica=LEADER, down=pause),
            Fault("outage", start, start + rng.uniform(45.0, 80.0), of_regions([region]), fail),
        ]
    if kind == "table_down":
        return [Fault(kind, start, min(end, start + rng.uniform(20.0, 900.0)))]
    if kind == "table_lost":
        return [Fault(kind, start, min(end, start + 600.0), p=rng.uniform(0.1, 0.5))]
    return [_fault(rng, kind, start, end, origins, regions, config)]


def touched(f: Fault, config: Config) -> frozenset[tuple[str, str]]:
    """The origins a fault for every replica makes fail (cutoff: none, it freezes)."""
    if f.replica or f.kind in CLUSTER_KINDS or f.kind == "cutoff":
        return frozenset()
    return f.origins
