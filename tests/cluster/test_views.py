"""View items: compact, sharded under DynamoDB's item limit, readable one schema apart, live by seq."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from failover.core import views
from failover.core.quorum import Vote
from failover.core.views import Unreadable, View
from failover.model import OriginKey


def test_a_steady_view_is_one_small_item() -> None:
    items = views.encode(View("eu-west-1", 7, False, {}))
    assert len(items) == 1
    assert items[0]["sk"] == "eu-west-1#0"
    assert items[0]["schema"] == views.SCHEMA
    assert len(json.dumps(items[0])) < 200


def test_a_region_of_10000_down_origins_is_sharded_below_400kb() -> None:
    down = {
        OriginKey(f"pool-{i // 10:04d}", f"origin-eu-west-1-{i:05d}"): Vote.DOWN
        for i in range(10_000)
    }
    items = views.encode(View("r1", 3, False, down))
    assert len(items) >= 1
    for item in items:
        assert len(json.dumps(item).encode()) < 400 * 1024
    assert {i["shards"] for i in items} == {len(items)}
    [back] = views.decode(items)
    assert isinstance(back, View)
    assert back.votes == down


def test_many_shards_when_the_budget_is_small() -> None:
    down = {OriginKey("p", f"o{i}"): Vote.DOWN for i in range(50)}
    items = views.encode(View("r1", 3, True, down), shard_bytes=100)
    assert len(items) > 5
    [back] = views.decode(items)
    assert isinstance(back, View)
    assert back.votes == down
    assert back.blind


def test_shards_of_different_rounds_are_not_read_as_one_view() -> None:
    down = {OriginKey("p", f"o{i}"): Vote.DOWN for i in range(50)}
    old = views.encode(View("r1", 3, False, down), shard_bytes=100)
    new = views.encode(View("r1", 4, False, down), shard_bytes=100)
    [torn] = views.decode([new[0], *old[1:]])
    assert isinstance(torn, Unreadable)
    assert "not of round 4" in torn.why


def test_a_reader_takes_items_one_schema_newer_and_reads_unknown_codes_as_abstain() -> None:
    item = views.encode(View("r2", 9, False, {OriginKey("p", "a"): Vote.DOWN}))[0]
    newer = dict(item, schema=views.SCHEMA + 1, extra="ignored")
    newer["body"] = json.dumps({"d": {"p": ["a"]}, "z": {"p": ["b"]}})
    [back] = views.decode([newer])
    assert isinstance(back, View)
    assert back.votes == {OriginKey("p", "a"): Vote.DOWN, OriginKey("p", "b"): Vote.ABSTAIN}
    [far] = views.decode([dict(item, schema=views.SCHEMA + 2)])
    assert isinstance(far, Unreadable)


def test_a_view_is_live_only_once_its_seq_has_moved_on_the_readers_clock() -> None:
    v1, v2 = View("r1", 1, False), View("r1", 2, False)
    seen = views.watch({}, [v1], now=100.0)
    assert not views.live(seen["r1"], 100.0, 10.0)  # a last view of a dead replica never counts
    seen = views.watch(seen, [v1], now=105.0)
    assert not views.live(seen["r1"], 105.0, 10.0)
    seen = views.watch(seen, [v2], now=106.0)
    assert views.live(seen["r1"], 116.0, 10.0)
    seen = views.watch(seen, [v2], now=120.0)
    assert not views.live(seen["r1"], 120.0, 10.0)  # stuck: no longer live
    [b] = views.ballots([v2], seen, 110.0, 10.0)
    assert b.live
    assert b.counts


keys = st.builds(OriginKey, st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))


@given(
    st.dictionaries(keys, st.sampled_from([Vote.DOWN, Vote.ABSTAIN]), max_size=40),
    st.integers(50, 2000),
)
def test_encode_then_decode_gives_the_view_back(votes: dict[OriginKey, Vote], budget: int) -> None:
    view = View("r", 5, False, votes)
    [back] = views.decode(views.encode(view, shard_bytes=budget))
    assert back == view
