"""The cluster table on moto's DynamoDB server: lease, views, overrides, retried conflicts."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from failover import overrides as docs
from failover.cluster.overrides import TableOverrides
from failover.cluster.table import ConditionFailed, TableError
from failover.core import lease, views
from failover.core.lease import Item
from failover.core.quorum import Vote
from failover.core.views import View
from failover.errors import OverrideConflictError
from failover.model import Action, OriginKey, Override
from tests.cluster.tables import Faults, create_table, open_table


@pytest.fixture
def table_name(endpoint: str) -> str:
    return create_table()


class Errors:
    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()

    def table_error(self, op: str) -> None:
        self.ops[op] += 1


def test_of_racing_contenders_exactly_one_takes_the_lease(table_name: str) -> None:
    won: list[str] = []
    start = threading.Barrier(6)

    def contend(me: str) -> None:
        t = open_table(table_name)
        s = lease.observe(lease.new(me, 30, 5), t.read_lease(), 0.0)
        w = lease.next_write(s, 0.0)
        assert w is not None
        start.wait(timeout=10)
        try:
            t.write_lease(w)
        except ConditionFailed:
            return
        won.append(me)

    threads = [threading.Thread(target=contend, args=(f"r{i}",)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=20)
    assert len(won) == 1
    assert open_table(table_name).read_lease() == Item(won[0], 1, 0)


def test_a_renewal_holds_only_against_the_item_it_read(table_name: str) -> None:
    t = open_table(table_name)
    s = lease.observe(lease.new("a", 30, 5), t.read_lease(), 0.0)
    w = lease.next_write(s, 0.0)
    assert w is not None
    t.write_lease(w)
    s = lease.written(s, w, True, 0.1)
    renew = lease.next_write(s, 2.0)
    assert renew is not None
    t.write_lease(renew)
    assert t.read_lease() == Item("a", 1, 1)
    with pytest.raises(ConditionFailed):
        t.write_lease(renew)  # the same renewal again: the item moved on


def test_views_are_published_read_back_and_shrink(table_name: str) -> None:
    t = open_table(table_name)
    down = {OriginKey("p", f"o{i}"): Vote.DOWN for i in range(40)}
    big = views.encode(View("r1", 1, False, down), shard_bytes=100)
    t.publish(big, previous_shards=0)
    t.publish(views.encode(View("r2", 5, True)), previous_shards=0)
    got = views.decode(t.read_views())
    assert got == [View("r1", 1, False, down), View("r2", 5, True)]
    small = views.encode(View("r1", 2, False))
    t.publish(small, previous_shards=len(big))
    assert len(t.read_views()) == 2
    assert views.decode(t.read_views())[0] == View("r1", 2, False)


def test_a_replicated_write_conflict_is_retried(table_name: str) -> None:
    errors = Errors()
    t = open_table(table_name, observer=errors)
    faults = Faults(t.client, "PutItem", "ReplicatedWriteConflictException", times=2)
    t.publish(views.encode(View("r1", 1, False)), previous_shards=0)
    assert faults.injected == 2
    assert errors.ops["PutItem"] == 2
    assert views.decode(t.read_views()) == [View("r1", 1, False)]


def test_an_error_that_outlasts_the_retries_is_a_table_error(table_name: str) -> None:
    t = open_table(table_name, attempts=2)
    Faults(t.client, "GetItem", "InternalServerError", times=5, status=500)
    with pytest.raises(TableError, match="InternalServerError"):
        t.read_lease()


def test_an_unknown_table_is_a_table_error_at_once(endpoint: str) -> None:
    t = open_table("no-such-table")
    with pytest.raises(TableError, match="ResourceNotFound"):
        t.read_lease()


def drain(origin: str) -> Override:
    key = OriginKey("www", origin)
    return Override(key, Action.DRAIN, "ops", 1.0, "test")


def test_concurrent_operators_never_lose_a_drain(table_name: str) -> None:
    store = TableOverrides(open_table(table_name))
    other = TableOverrides(open_table(table_name))
    assert store.read() == ({}, "")
    _, version = store.read()
    other.write({drain("eu").key: drain("eu")}, version)  # the other operator was first
    with pytest.raises(OverrideConflictError):
        store.write({drain("us").key: drain("us")}, version)
    docs.update(store, lambda cur: {**cur, drain("us").key: drain("us")})
    assert set(store.load()) == {OriginKey("www", "eu"), OriginKey("www", "us")}
    assert store.read()[1] == "2"


def test_racing_operators_each_keep_their_drain(table_name: str) -> None:
    start = threading.Barrier(4)

    def operator(origin: str) -> None:
        store = TableOverrides(open_table(table_name))
        start.wait(timeout=10)
        docs.update(store, lambda cur: {**cur, drain(origin).key: drain(origin)}, attempts=10)

    names = ["a", "b", "c", "d"]
    threads = [threading.Thread(target=operator, args=(n,)) for n in names]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    got = TableOverrides(open_table(table_name)).load()
    assert {k.origin for k in got} == set(names)
