"""The lease's promise, checked over arbitrary schedules: never two replicas allowed to write at once.

Replicas run the pure lease machine against a model table (conditional writes checked
when they land), each on its own monotonic clock running at a rate within 5 % of real
time, pausing and acting in any order, with writes that take time to land and to be
answered. The margin (5 s of 30) covers rate differences up to M / (2D - M) = 9 %.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from failover.core import lease
from failover.core.lease import Item, Lease

D, M = 30.0, 5.0


@dataclass
class Replica:
    name: str
    rate: float
    offset: float
    state: Lease

    def clock(self, t: float) -> float:
        return self.offset + self.rate * t

    def real(self, own: float) -> float:
        return (own - self.offset) / self.rate


Step = tuple[int, float, float, float, bool]
# Waits near the lease's edges, where a wrong deadline would show, and anything else.
waits = st.one_of(st.sampled_from([0.0, 0.5, 2.0, 24.0, 25.5, 27.0, 29.5, 31.0]), st.floats(0, 40))
steps = st.lists(
    st.tuples(
        st.integers(0, 2),  # who acts
        waits,  # real seconds that pass first (a pause, or a round)
        st.floats(0.0, 3.0),  # how long the write takes to land
        st.floats(0.0, 3.0),  # and its answer to come back
        st.booleans(),  # the answer is lost (the write may still have landed)
    ),
    min_size=1,
    max_size=60,
)


def play(
    rates: list[float], offsets: list[float], schedule: list[Step], margin: float
) -> list[tuple[str, float, float]]:
    """Each time a replica learns it holds the lease: who, and from when to its deadline (real time)."""
    replicas = [
        Replica(f"r{i}", rates[i], offsets[i], lease.new(f"r{i}", D, margin)) for i in range(3)
    ]
    table: Item | None = None
    t = 0.0
    windows: list[tuple[str, float, float]] = []
    for who, wait, land, answer, lost in schedule:
        r = replicas[who]
        t += wait
        r.state = lease.observe(r.state, table, r.clock(t))
        write = lease.next_write(r.state, r.clock(t))
        if write is None:
            continue
        t += land
        ok = table == write.expect
        if ok:
            table = write.new
        t += answer
        if lost:
            continue  # no answer: nothing learnt, nothing held from it
        r.state = lease.written(r.state, write, ok, r.clock(t))
        if ok and r.state.held is not None:
            windows.append((r.name, t, r.real(r.state.deadline)))
    return windows


def overlaps(windows: list[tuple[str, float, float]]) -> list[tuple[str, str]]:
    return [
        (a, b)
        for i, (a, a0, a1) in enumerate(windows)
        for b, b0, b1 in windows[i + 1 :]
        if a != b and a1 > b0 and b1 > a0
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0.95, 1.05), min_size=3, max_size=3),
    st.lists(st.floats(0.0, 1e6), min_size=3, max_size=3),
    steps,
)
def test_no_two_replicas_may_write_at_the_same_moment(
    rates: list[float], offsets: list[float], schedule: list[Step]
) -> None:
    assert overlaps(play(rates, offsets, schedule, M)) == []


def test_without_the_margin_a_slow_holder_and_a_fast_contender_would_overlap() -> None:
    """What the margin is for: the same check finds the overlap once it is taken away."""
    rates, offsets = [0.9, 1.1, 1.0], [0.0, 500.0, 9.0]
    schedule: list[Step] = [
        (0, 0.0, 0.1, 0.1, False),
        (1, 0.0, 0.0, 0.0, False),
        (1, 27.5, 0.1, 0.1, False),
    ]
    assert overlaps(play(rates, offsets, schedule, 0.0)) == [("r0", "r1")]
    assert overlaps(play(rates, offsets, schedule, M)) == []
