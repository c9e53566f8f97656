"""The fence on Route 53 (moto made strict): a superseded leader's batch fails whole, nothing lands."""

from __future__ import annotations

from typing import Any

import pytest

from failover.aws.route53 import RateLimiter, Route53Store
from failover.cluster.fencing import Fencer
from failover.core import fence
from failover.core.fence import Fence, Held
from failover.errors import ConflictError, FencedError
from failover.model import Change, Reason
from failover.sandbox.faults import inject_route53_fault
from failover.sandbox.route53_model import Route53ModelError, apply_changes, key_of
from tests.conftest import Zone
from tests.factories import make_pool, wset

POOL = make_pool(record="www.example.com")
A, B, C = (o.id for o in POOL.origins)
FENCE = "_failover-epoch.example.com"


def down(origin: str, was: int = 100) -> Change:
    return Change("www", wset(POOL, origin, was), wset(POOL, origin, 0), Reason.DOWN)


class Leader:
    """One replica's view of its own lease: the epoch and whether it may still write."""

    def __init__(self, epoch: int) -> None:
        self.epoch, self.may = epoch, True

    def __call__(self) -> tuple[int, bool]:
        return self.epoch, self.may


def fence_value(zone: Zone) -> Held | None:
    return zone.store.read_fence(zone.id, FENCE)


def test_the_first_leader_creates_the_fence_and_every_batch_reasserts_it(zone: Zone) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    fencer = Fencer(zone.store, Leader(1))
    fencer.change(zone.id, [down(A)], "failover c1")
    assert fence_value(zone) == Held(('"1"',), 60)
    fencer.forget()  # read again from Route 53: the re-assertion must match exactly
    fencer.change(zone.id, [down(B)], "failover c2")
    assert fence_value(zone) == Held(('"1"',), 60)
    assert zone.weights(POOL) == {A: 0, B: 0, C: 100}


def test_a_paused_old_leaders_batch_fails_whole_after_a_new_leader_bumped_the_fence(
    zone: Zone,
) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    old, new = Leader(1), Leader(2)
    first, second = Fencer(zone.store, old), Fencer(zone.store, new)
    first.change(zone.id, [down(A)], "failover c1")
    # The old leader pauses; its lease runs out and another replica takes it (epoch 2).
    second.change(zone.id, [Change("www", wset(POOL, A, 0), wset(POOL, A, 100), Reason.UP)], "c2")
    assert fence_value(zone) == Held(('"2"',), 60)
    # The old leader wakes, still believing it may write (its clock was stopped too):
    # its batch carries DELETE of fence 1, so Route 53 refuses all of it.
    with pytest.raises(ConflictError):
        first.change(zone.id, [down(B), down(C)], "failover c3")
    assert zone.weights(POOL) == {A: 100, B: 100, C: 100}
    assert fence_value(zone) == Held(('"2"',), 60)
    # Having read the fence again, it knows it is superseded and sends nothing.
    with pytest.raises(FencedError, match="superseded"):
        first.change(zone.id, [down(B)], "failover c4")


def test_no_batch_is_sent_past_the_lease_deadline(zone: Zone) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    leader = Leader(3)
    leader.may = False
    with pytest.raises(FencedError, match="deadline"):
        Fencer(zone.store, leader).change(zone.id, [down(A)], "failover c1")
    assert zone.weights(POOL) == {A: 100, B: 100, C: 100}
    assert fence_value(zone) is None


def test_the_apex_is_the_zones_name(zone: Zone) -> None:
    assert zone.store.apex(zone.id) == "example.com"
    assert fence.name(zone.store.apex(zone.id)) == FENCE


def _rrset(value: str) -> dict[str, Any]:
    return {"Name": FENCE + ".", "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": value}]}


def test_the_strict_model_takes_a_reassertion_and_refuses_a_stale_fence_delete() -> None:
    """The sandbox's and the simulation's Route 53 share this model (apply_changes)."""
    state = {key_of(_rrset('"2"')): _rrset('"2"')}
    same = [
        {"Action": "DELETE", "ResourceRecordSet": _rrset('"2"')},
        {"Action": "CREATE", "ResourceRecordSet": _rrset('"2"')},
    ]
    assert apply_changes("example.com.", state, same) == state
    stale = [
        {"Action": "DELETE", "ResourceRecordSet": _rrset('"1"')},
        {"Action": "CREATE", "ResourceRecordSet": _rrset('"1"')},
    ]
    with pytest.raises(Route53ModelError, match="do not match"):
        apply_changes("example.com.", state, stale)


def test_a_fence_value_is_one_quoted_number() -> None:
    assert Fence(FENCE, None, 12).value == '"12"'


def test_a_zone_apex_given_up_front_names_the_fence_without_asking(zone: Zone) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    fencer = Fencer(zone.store, Leader(1), apexes={zone.id: "example.com."})
    assert fencer.names == {zone.id: FENCE}
    fencer.change(zone.id, [down(A)], "failover c1")
    assert fence_value(zone) == Held(('"1"',), 60)


@pytest.mark.parametrize("lost", ["deadline", "epoch"])
def test_a_retry_after_a_backoff_asks_the_lease_again(zone: Zone, lost: str) -> None:
    """Route 53 throttles the first attempt; the lease is lost during the backoff (its
    deadline passes, or another replica's epoch is seen): no second attempt leaves."""
    zone.put(POOL, {A: 100, B: 100, C: 100})
    leader = Leader(1)

    def backoff(seconds: float) -> None:  # the lease runs out while the store waits
        if lost == "deadline":
            leader.may = False
        else:
            leader.epoch = 2

    store = Route53Store(zone.client, RateLimiter(1000.0), attempts=5, sleep=backoff)  # type: ignore[arg-type]
    with (
        inject_route53_fault(
            zone.client, "ChangeResourceRecordSets", "throttling", times=None
        ) as h,
        pytest.raises(FencedError),
    ):
        Fencer(store, leader).change(zone.id, [down(A)], "failover c1")
    assert h.injected == 1
    assert zone.weights(POOL) == {A: 100, B: 100, C: 100}
