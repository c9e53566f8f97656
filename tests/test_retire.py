"""Which sets of previous ids `failover retire` may delete, and the guard it sends with them."""

from __future__ import annotations

import dataclasses

from failover.core.strangers import deletion
from failover.model import WeightedSet
from tests.factories import make_pool, wset

POOL = dataclasses.replace(make_pool(), previous_ids=("old-a", "old-b"))
A, B, C = (o.id for o in POOL.origins)


def old(set_id: str, weight: int, of: str = A) -> WeightedSet:
    return WeightedSet(POOL.record, set_id, weight, POOL.ttl, (POOL.origin(of).endpoint,))


def record(*weights: int, **extra: WeightedSet) -> dict[str, WeightedSet]:
    sets = {o.id: wset(POOL, o.id, w) for o, w in zip(POOL.origins, weights, strict=True)}
    return {**sets, **{s.set_id: s for s in extra.values()}}


def test_a_retired_set_at_weight_zero_is_deleted_exactly_as_read_with_a_serving_set_pinned() -> (
    None
):
    ghost = old("old-a", 0)
    d = deletion(POOL, record(100, 50, 0, g=ghost))
    assert d.delete == (ghost,)
    assert d.guard == wset(POOL, A, 100)  # the heaviest owned set left serving
    assert not d.refused


def test_a_retired_set_still_carrying_weight_waits_for_the_daemon() -> None:
    d = deletion(POOL, record(100, 100, 100, g=old("old-a", 0), h=old("old-b", 30, B)))
    assert [s.set_id for s in d.delete] == ["old-a"]
    assert [s.set_id for s in d.waiting] == ["old-b"]


def test_deleting_is_refused_when_no_configured_origin_carries_weight() -> None:
    """Only a foreign set (or nothing) serves: there is nothing owned to pin, so nothing goes."""
    cdn = WeightedSet(POOL.record, "cdn", 10, POOL.ttl, ("cdn.example.net",))
    d = deletion(POOL, record(0, 0, 0, g=old("old-a", 0), c=cdn))
    assert d.delete == ()
    assert "no configured origin of pool" in d.refused


def test_sets_not_listed_as_previous_ids_are_never_deleted() -> None:
    stranger = WeightedSet(POOL.record, "old-c", 0, POOL.ttl, (POOL.origin(C).endpoint,))
    d = deletion(POOL, record(100, 100, 100, s=stranger))
    assert (d.delete, d.waiting, d.refused) == ((), (), "")


def test_nothing_to_delete_is_no_refusal_even_with_nothing_serving() -> None:
    d = deletion(POOL, record(0, 0, 0))
    assert (d.delete, d.refused) == ((), "")
