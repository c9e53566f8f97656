"""The fence decision: re-assert, bump, or refuse a superseded leader."""

from __future__ import annotations

from failover.core import fence
from failover.core.fence import Fence, Held


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
