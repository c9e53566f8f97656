"""Replicas on the in-memory table, each on its own drifting clock: votes, lease, takeover, losses."""

from __future__ import annotations

from failover.cluster.memory import MemoryTable
from failover.cluster.replica import Replica
from failover.model import ClusterSettings, Health, HealthSettings, OriginKey, State
from tests.factories import make_config, make_pool

POOL = make_pool(health=HealthSettings(hold_down=5.0))
KEYS = [o.key for o in POOL.origins]
CONFIG = make_config(POOL)
SETTINGS = ClusterSettings("t-1", 3, lease_seconds=10.0, lease_margin_seconds=2.0)
UP = {k: Health(state=State.UP) for k in KEYS}


class DriftingClock:
    """A replica's monotonic clock: its own origin and a rate a little off real time."""

    def __init__(self, world: World, rate: float, origin: float) -> None:
        self.world, self.rate, self.origin = world, rate, origin

    def __call__(self) -> float:
        return self.origin + self.rate * self.world.t


class World:
    def __init__(self, rates: tuple[float, ...] = (1.0, 1.03, 0.97)) -> None:
        self.t = 0.0
        self.table = MemoryTable()
        self.alive = [True] * len(rates)
        self.health: list[dict[OriginKey, Health]] = [dict(UP) for _ in rates]
        self.replicas = [
            Replica(
                SETTINGS,
                f"r{i}",
                self.table,
                interval=1.0,
                background=False,
                clock=DriftingClock(self, rate, 1000.0 * (i + 1)),
            )
            for i, rate in enumerate(rates)
        ]
        self.merged: dict[OriginKey, Health] = {}

    def rounds(self, n: int) -> list[str]:
        """Run n rounds of every live replica; who merged as leader in each ("" for nobody)."""
        leaders: list[str] = []
        for _ in range(n):
            leading = []
            for i, r in enumerate(self.replicas):
                if not self.alive[i]:
                    continue
                lead, health, _, _ = r.round(CONFIG, self.health[i], False, {})
                if lead:
                    leading.append(r.me)
                    self.merged = health
            assert len(leading) <= 1, leading
            leaders.append("".join(leading))
            self.t += 1.0
        return leaders

    def down_for(self, replicas: list[int], key: OriginKey) -> None:
        for i in replicas:
            self.health[i][key] = Health(state=State.DOWN)


def test_one_leader_at_a_time_and_a_minority_view_moves_nothing() -> None:
    w = World()
    leaders = w.rounds(10)
    assert set(leaders[1:]) == {"r0"}
    w.down_for([2], KEYS[0])
    w.rounds(5)
    assert w.merged[KEYS[0]].state is State.UP
    w.down_for([1], KEYS[0])
    w.rounds(2)
    assert w.merged[KEYS[0]].state is State.DOWN


def test_a_dead_leader_is_replaced_after_the_lease_on_the_contenders_own_clock() -> None:
    w = World()
    w.rounds(5)
    w.alive[0] = False
    leaders = w.rounds(12)
    assert set(leaders[:8]) == {""}  # 10 s of lease on clocks within 3 % of real time
    [leader] = set(leaders[10:])
    assert leader in ("r1", "r2")
    assert w.table.lease is not None
    assert w.table.lease.epoch == 2


def test_a_table_lost_by_all_stops_every_write_and_writing_resumes_after() -> None:
    w = World()
    w.rounds(5)
    w.table.down = True
    leaders = w.rounds(12)
    assert set(leaders[:6]) == {"r0"}  # until its deadline, 10 - 2 s after its last renewal
    assert set(leaders[8:]) == {""}
    w.table.down = False
    assert len(set(w.rounds(8)[-3:]) - {""}) == 1


def test_a_steady_cluster_costs_a_few_small_calls_per_replica_and_round() -> None:
    w = World()
    w.rounds(10)
    w.table.calls.clear()
    w.rounds(10)
    per_round = {op: n / 10 for op, n in w.table.calls.items()}
    # Each replica: one view put, one query, one lease read; the leader one renewal.
    assert per_round == {"PutItem": 4.0, "Query": 3.0, "GetItem": 3.0}
