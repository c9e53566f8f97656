"""The lease state machine: taken only after a full unchanged duration, written under a deadline."""

from __future__ import annotations

import pytest

from failover.core import lease
from failover.core.lease import Item


def test_a_missing_lease_is_taken_at_once_with_epoch_1() -> None:
    s = lease.observe(lease.new("a", 30, 5), None, 0.0)
    w = lease.next_write(s, 0.0)
    assert w is not None
    assert w.expect is None
    assert w.new == Item("a", 1, 0)
    s = lease.written(s, w, ok=True, now=0.2)
    assert s.may_write(0.2)
    assert s.deadline == 25.0
    assert s.epoch == 1


def test_the_deadline_counts_from_when_the_renewal_was_sent() -> None:
    s = lease.observe(lease.new("a", 30, 5), None, 0.0)
    s = lease.written(s, lease.next_write(s, 0.0), True, 0.1)  # type: ignore[arg-type]
    w = lease.next_write(s, 10.0)
    assert w is not None
    assert w.kind == "renew"
    assert w.new == Item("a", 1, 1)
    assert w.expect == Item("a", 1, 0)
    s = lease.written(s, w, True, now=19.0)  # the answer came late: the send time counts
    assert s.deadline == 35.0
    assert s.may_write(34.9)
    assert not s.may_write(35.0)


def test_a_contender_waits_the_whole_duration_of_an_unchanged_item() -> None:
    held = Item("a", 4, 17)
    s = lease.observe(lease.new("b", 30, 5), held, 100.0)
    assert lease.next_write(s, 129.9) is None
    s = lease.observe(s, Item("a", 4, 18), 120.0)  # renewed: the wait starts over
    assert lease.next_write(s, 149.0) is None
    w = lease.next_write(s, 150.0)
    assert w is not None
    assert w.new == Item("b", 5, 0)
    assert w.expect == Item("a", 4, 18)


def test_a_released_lease_is_taken_at_once_and_the_epoch_goes_up() -> None:
    s = lease.observe(lease.new("b", 30, 5), Item(lease.RELEASED, 4, 3), 0.0)
    w = lease.next_write(s, 0.0)
    assert w is not None
    assert w.new == Item("b", 5, 0)


def test_a_refused_renewal_ends_writing_at_once() -> None:
    s = lease.observe(lease.new("a", 30, 5), None, 0.0)
    s = lease.written(s, lease.next_write(s, 0.0), True, 0.1)  # type: ignore[arg-type]
    w = lease.next_write(s, 2.0)
    assert w is not None
    s = lease.written(s, w, ok=False, now=2.1)
    assert not s.may_write(2.1)
    assert lease.next_write(s, 3.0) is None  # nothing until the item is read again


def test_a_holder_that_cannot_reach_the_table_stops_at_its_deadline() -> None:
    s = lease.observe(lease.new("a", 30, 5), None, 0.0)
    s = lease.written(s, lease.next_write(s, 0.0), True, 0.1)  # type: ignore[arg-type]
    assert s.may_write(24.9)
    assert not s.may_write(25.0)


def test_someone_elses_item_ends_our_hold() -> None:
    s = lease.observe(lease.new("a", 30, 5), None, 0.0)
    s = lease.written(s, lease.next_write(s, 0.0), True, 0.1)  # type: ignore[arg-type]
    s = lease.observe(s, Item("b", 2, 0), 3.0)
    assert not s.may_write(3.0)


def test_release_gives_it_up_under_a_condition() -> None:
    s = lease.observe(lease.new("a", 30, 5), None, 0.0)
    s = lease.written(s, lease.next_write(s, 0.0), True, 0.1)  # type: ignore[arg-type]
    w = lease.release(s, 1.0)
    assert w is not None
    assert w.new.holder == lease.RELEASED
    assert w.expect == Item("a", 1, 0)
    s = lease.written(s, w, True, 1.1)
    assert not s.may_write(1.1)
    assert lease.release(s, 2.0) is None


def test_a_margin_not_below_the_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        lease.new("a", 5, 5)
