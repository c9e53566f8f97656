"""Canary freshness judged across a pool: lag behind the freshest, never absolute age."""

from __future__ import annotations

import dataclasses

from failover.core.evidence import FUTURE_TOLERANCE, freshness
from failover.model import HealthSettings, OriginKey, Outcome, ProbeResult
from tests.factories import make_pool

H = HealthSettings(max_age=600.0)
POOL = make_pool(health=H)
A, B, C = (o.id for o in POOL.origins)


def probed(
    ages: dict[str, float | None], failing: dict[str, Outcome] | None = None, pool: str = "www"
) -> dict[OriginKey, ProbeResult]:
    failing = failing or {}
    out = {}
    for origin, age in ages.items():
        key = OriginKey(pool, origin)
        outcome = failing.get(origin, Outcome.OK)
        status = 200 if outcome is Outcome.OK else 503
        out[key] = ProbeResult(key, outcome, 0.01, status, None if status != 200 else age)
    return out


def outcomes(results: dict[OriginKey, ProbeResult]) -> dict[str, Outcome]:
    return {k.origin: r.outcome for k, r in results.items()}


def test_a_replica_lagging_the_freshest_canary_by_more_than_max_age_is_too_old() -> None:
    judged = freshness(POOL.origins, probed({A: 5.0, B: 600.0, C: 606.0})).results
    assert outcomes(judged) == {A: Outcome.OK, B: Outcome.OK, C: Outcome.TOO_OLD}
    assert "lags the pool's freshest by 601s" in judged[OriginKey("www", C)].detail


def test_when_the_source_dies_its_replicas_age_together_and_stay_healthy() -> None:
    """Every canary hours old, none behind another: the source's outage fails nothing else."""
    dead = {A: Outcome.CONNECTION}
    judged = freshness(POOL.origins, probed({A: None, B: 7200.0, C: 7205.0}, dead)).results
    assert outcomes(judged) == {A: Outcome.CONNECTION, B: Outcome.OK, C: Outcome.OK}


def test_a_failed_probe_is_never_the_freshest_canary() -> None:
    """A 5xx carries no canary: the live replicas are compared among themselves."""
    judged = freshness(
        POOL.origins, probed({A: 1.0, B: 900.0, C: 905.0}, {A: Outcome.HTTP_5XX})
    ).results
    assert outcomes(judged) == {A: Outcome.HTTP_5XX, B: Outcome.OK, C: Outcome.OK}


def test_pools_are_judged_apart() -> None:
    other = make_pool(name="img", health=H)
    results = {
        **probed({A: 5.0, B: 5.0, C: 5.0}),
        **probed({A: 900.0, B: 901.0, C: 902.0}, pool="img"),
    }
    judged = freshness(POOL.origins + other.origins, results).results
    assert all(r.outcome is Outcome.OK for r in judged.values())


def test_without_max_age_no_canary_is_judged() -> None:
    pool = make_pool(health=HealthSettings())
    judged = freshness(pool.origins, probed({A: 5.0, B: 5.0, C: 90_000.0})).results
    assert all(r.outcome is Outcome.OK for r in judged.values())


def test_max_age_is_each_origin_s_own() -> None:
    strict = dataclasses.replace(POOL.origins[2], health=HealthSettings(max_age=60.0))
    origins = (*POOL.origins[:2], strict)
    judged = freshness(origins, probed({A: 5.0, B: 300.0, C: 100.0})).results
    assert outcomes(judged) == {A: Outcome.OK, B: Outcome.OK, C: Outcome.TOO_OLD}


def test_a_canary_from_the_future_is_flagged_once_and_never_the_freshest() -> None:
    """One forged stamp a day ahead would otherwise make every honest canary stale."""
    ahead = -(FUTURE_TOLERANCE + 86_400.0)
    first = freshness(POOL.origins, probed({A: ahead, B: 700.0, C: 705.0}))
    assert outcomes(first.results) == {A: Outcome.OK, B: Outcome.OK, C: Outcome.OK}
    assert first.future == {OriginKey("www", A)}
    assert "in the future" in first.results[OriginKey("www", A)].detail
    assert [(e.name, e.fields["origin"]) for e in first.events] == [("canary_from_future", A)]
    again = freshness(
        POOL.origins, probed({A: ahead, B: 700.0, C: 705.0}), future_before=first.future
    )
    assert again.events == []  # said when it starts, not every round
    healed = freshness(
        POOL.origins, probed({A: 5.0, B: 700.0, C: 705.0}), future_before=again.future
    )
    assert healed.future == frozenset()
    assert [e.name for e in healed.events] == ["canary_time_restored"]
    assert outcomes(healed.results) == {A: Outcome.OK, B: Outcome.TOO_OLD, C: Outcome.TOO_OLD}


def test_a_stamp_slightly_ahead_is_within_tolerance_and_counts() -> None:
    """A writer's clock a little fast is normal; its canary is the freshest."""
    judged = freshness(POOL.origins, probed({A: -10.0, B: 5.0, C: 650.0}))
    assert judged.future == frozenset()
    assert outcomes(judged.results) == {A: Outcome.OK, B: Outcome.OK, C: Outcome.TOO_OLD}


def test_every_canary_from_the_future_fails_nothing() -> None:
    """The writer's clock jumped ahead: flagged, and the pool keeps serving."""
    far = -(FUTURE_TOLERANCE + 1000.0)
    judged = freshness(POOL.origins, probed({A: far, B: far, C: far}))
    assert len(judged.future) == 3
    assert all(r.outcome is Outcome.OK for r in judged.results.values())
