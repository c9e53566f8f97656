"""The quorum merge: verdicts come only from a quorum of the configured replicas' live views."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from failover.core.quorum import Ballot, Verdict, Vote, advance, majority, merge, vote_of
from failover.model import Health, HealthSettings, OriginKey, State

A, B = OriginKey("www", "eu"), OriginKey("www", "us")


def ballot(
    name: str, votes: dict[OriginKey, Vote], *, live: bool = True, blind: bool = False
) -> Ballot:
    return Ballot(name, votes, live, blind)


def test_majority_of_configured_replicas() -> None:
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_down_needs_a_quorum_of_down_votes() -> None:
    one = merge(
        [A, B], [ballot("r1", {A: Vote.DOWN}), ballot("r2", {A: Vote.ABSTAIN}), ballot("r3", {})], 2
    )
    assert one.verdicts == {A: Verdict.KEEP, B: Verdict.UP}
    assert one.disagreements == 1
    assert not one.lost
    two = merge(
        [A, B], [ballot("r1", {A: Vote.DOWN}), ballot("r2", {A: Vote.DOWN}), ballot("r3", {})], 2
    )
    assert two.verdicts[A] is Verdict.DOWN
    assert two.down == [A]


def test_a_partial_view_on_one_replica_moves_nothing() -> None:
    """One replica cut from two Regions votes them down; the two others see them up."""
    cut = ballot("r1", {A: Vote.DOWN, B: Vote.DOWN})
    merged = merge([A, B], [cut, ballot("r2", {}), ballot("r3", {})], 2)
    assert merged.verdicts == {A: Verdict.UP, B: Verdict.UP}
    assert merged.disagreements == 2


def test_dead_and_blind_views_do_not_count_and_the_quorum_never_shrinks() -> None:
    ballots = [
        ballot("r1", {A: Vote.DOWN}),
        ballot("r2", {A: Vote.DOWN}, live=False),
        ballot("r3", {A: Vote.DOWN}, blind=True),
    ]
    merged = merge([A, B], ballots, 2)
    assert merged.lost
    assert merged.counted == 1
    assert set(merged.verdicts.values()) == {Verdict.KEEP}


def test_abstentions_keep_the_state() -> None:
    merged = merge([A], [ballot("r1", {A: Vote.ABSTAIN}), ballot("r2", {A: Vote.DOWN})], 2)
    assert merged.verdicts[A] is Verdict.KEEP


def test_vote_of_local_health() -> None:
    assert vote_of(Health(state=State.UP)) is Vote.UP
    assert vote_of(Health(state=State.DOWN)) is Vote.DOWN
    assert vote_of(Health(state=State.DOWN, stale=True)) is Vote.ABSTAIN
    assert vote_of(Health()) is Vote.ABSTAIN


votes = st.sampled_from([Vote.UP, Vote.DOWN, Vote.ABSTAIN])


@given(
    st.lists(st.tuples(votes, st.booleans(), st.booleans()), min_size=0, max_size=7),
    st.integers(min_value=1, max_value=7),
)
def test_no_verdict_without_quorum_agreeing(
    views: list[tuple[Vote, bool, bool]], quorum: int
) -> None:
    """Whatever the views, DOWN (or UP) needs `quorum` counted views saying so."""
    ballots = [
        ballot(f"r{i}", {A: v}, live=live, blind=blind) for i, (v, live, blind) in enumerate(views)
    ]
    merged = merge([A], ballots, quorum)
    counted = [v for v, live, blind in views if live and not blind]
    if len(counted) < quorum:
        assert merged.lost
        assert merged.verdicts[A] is Verdict.KEEP
    elif merged.verdicts[A] is Verdict.DOWN:
        assert counted.count(Vote.DOWN) >= quorum
    elif merged.verdicts[A] is Verdict.UP:
        assert counted.count(Vote.UP) >= quorum
    else:
        assert counted.count(Vote.DOWN) < quorum
        assert counted.count(Vote.UP) < quorum


def test_merged_health_follows_verdicts_from_what_route53_holds() -> None:
    s = HealthSettings(hold_down=30.0, slow_start=60.0)
    h = advance(None, Verdict.KEEP, 10.0, s, applied_fraction=1.0)
    assert h.state is State.UNKNOWN
    h = advance(h, Verdict.DOWN, 20.0, s, applied_fraction=1.0)
    assert (h.state, h.down_since) == (State.DOWN, 20.0)
    assert advance(h, Verdict.KEEP, 25.0, s, 0.0) == h
    up = advance(h, Verdict.UP, 90.0, s, applied_fraction=0.0)
    assert (up.state, up.up_since) == (State.UP, 90.0)  # back through slow start
    resumed = advance(None, Verdict.UP, 5.0, s, applied_fraction=1.0)
    assert resumed.state is State.UP
    assert resumed.up_since is None
    held_at_zero = advance(None, Verdict.UP, 5.0, s, applied_fraction=0.0)
    assert held_at_zero.up_since == 5.0
