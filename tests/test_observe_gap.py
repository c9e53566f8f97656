"""A gap between two rounds' probes (a paused or starved process) makes down verdicts stale."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from failover.aws.route53 import Record
from failover.core.quorum import Vote, vote_of
from failover.core.views import stale_after
from failover.metrics import Metrics
from failover.model import OriginKey, Outcome, State
from failover.stages.observe import ObserveStage
from tests.factories import Clock, ScriptedProber, make_config, make_pool, wset

POOL = make_pool()
EU = OriginKey("www", "eu-west-1")


def _observe_after(gap: float) -> tuple[ObserveStage, list[str]]:
    """eu-west-1 fails `fall` probes a second apart and is marked down; then, `gap`
    seconds after the last of them, it answers again."""
    config = make_config(POOL)
    records = {"www": Record({o.id: wset(POOL, o.id, 100) for o in POOL.origins})}
    prober, clock, metrics = ScriptedProber(), Clock(), Metrics(CollectorRegistry())
    stage = ObserveStage()

    def run() -> list[str]:
        _, said = stage.run(prober, config, records, metrics, clock=clock, wall=clock)
        return [e.name for e in said]

    prober.set(Outcome.HTTP_5XX, "eu-west-1")
    for _ in range(POOL.origins[0].health.fall):
        run()
        clock.t += 1.0
    assert stage.health[EU].state is State.DOWN
    assert vote_of(stage.health[EU]) is Vote.DOWN
    prober.set(Outcome.OK, "eu-west-1")
    clock.t += gap - 1.0
    return stage, run()


def test_a_down_verdict_from_before_a_long_gap_is_no_vote() -> None:
    limit = stale_after(make_config(POOL).daemon.interval)
    stage, said = _observe_after(limit + 1.0)
    assert "probe_gap" in said
    h = stage.health[EU]
    assert h.state is State.DOWN  # still down: `rise` is not reached
    assert h.stale
    assert vote_of(h) is Vote.ABSTAIN


def test_a_down_verdict_after_an_ordinary_round_still_votes_down() -> None:
    limit = stale_after(make_config(POOL).daemon.interval)
    stage, said = _observe_after(limit - 1.0)
    assert "probe_gap" not in said
    assert vote_of(stage.health[EU]) is Vote.DOWN


def test_a_failure_seen_after_the_gap_confirms_the_verdict_at_once() -> None:
    config = make_config(POOL)
    stage, _ = _observe_after(stale_after(config.daemon.interval) + 1.0)
    prober = ScriptedProber()
    prober.set(Outcome.HTTP_5XX, "eu-west-1")
    records = {"www": Record({o.id: wset(POOL, o.id, 100) for o in POOL.origins})}
    clock = Clock(float(stage.probed_at or 0.0) + 1.0)
    stage.run(prober, config, records, Metrics(CollectorRegistry()), clock=clock, wall=clock)
    assert vote_of(stage.health[EU]) is Vote.DOWN
