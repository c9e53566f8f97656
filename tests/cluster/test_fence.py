"""The fence decision: re-assert, bump, or refuse a superseded leader."""

from __future__ import annotations

from typing import Any

from failover.core import fence, plan
from failover.core.batch import MAX_CHARS, MAX_ELEMENTS, cost
from failover.core.fence import Fence, Held
from failover.model import Health, State
from tests.factories import make_config, make_pool, wset


def test_fence_name_and_value() -> None:
    assert fence.name("Example.com.") == "_failover-epoch.example.com"
    f = fence.decide("_failover-epoch.example.com", Held(('"3"',), 60), 3)
    assert isinstance(f, Fence)
    assert f.value == '"3"'
    assert not f.bumps


def test_a_new_leader_bumps_and_a_first_leader_creates() -> None:
    f = fence.decide("n", Held(('"3"',), 60), 4)
    assert isinstance(f, Fence)
    assert f.bumps
    assert f.held == Held(('"3"',), 60)
    first = fence.decide("n", None, 1)
    assert isinstance(first, Fence)
    assert first.held is None
    assert first.bumps


def test_a_superseded_leader_is_refused() -> None:
    why = fence.decide("n", Held(('"7"',), 60), 6)
    assert isinstance(why, str)
    assert "superseded" in why
    assert isinstance(fence.decide("n", None, 0), str)


def test_a_damaged_fence_is_replaced() -> None:
    f = fence.decide("n", Held(('"x"',), 300), 2)
    assert isinstance(f, Fence)
    assert f.bumps
    assert f.held is not None
    assert f.held.epoch is None


def test_every_planned_request_keeps_room_for_the_fence() -> None:
    """At scale a request is packed to Route 53's limits; the fence must still fit in it."""
    pools = [
        make_pool(f"p{i:03d}", record=f"p{i:03d}.example.com", regions=("eu-west-1", "us-east-1"))
        for i in range(400)
    ]
    config = make_config(*pools)
    records = {p.name: {o.id: wset(p, o.id, 100) for o in p.origins} for p in pools}
    health = {
        o.key: Health(state=State.DOWN if o.region == "eu-west-1" else State.UP)
        for p in pools
        for o in p.origins
    }
    args: dict[str, Any] = {"overrides_known": True, "frozen": False, "was_open": {}, "now": 0.0}
    alone = plan.make(config, records, health, {}, **args)
    fenced = plan.make(config, records, health, {}, reserve=fence.RESERVE, **args)
    assert len(fenced.changes) == len(alone.changes) == 400
    for b in fenced.batches:
        units = [*b.changes, *b.guards]
        assert sum(cost(u)[0] for u in units) + fence.RESERVE[0] <= MAX_ELEMENTS
        assert sum(cost(u)[1] for u in units) + fence.RESERVE[1] <= MAX_CHARS
    assert len(fenced.batches) >= len(alone.batches)
