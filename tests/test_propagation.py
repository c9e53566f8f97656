"""Following accepted changes with GetChange until INSYNC, at the lowest rate-limit priority."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.aws.route53 import RateLimiter, Route53Store
from failover.metrics import Metrics
from failover.model import HealthSettings, Outcome
from failover.overrides import FileStore
from failover.round import Runner
from failover.sandbox.route53_client import ModelClient
from failover.sandbox.route53_model import Route53Model
from failover.stages.lane import Lane
from failover.stages.propagation import GIVE_UP_AFTER, POLL_EVERY, PropagationStage
from failover.stages.write import Landed
from failover.stages.write import Outcome as WriteOutcome
from tests.factories import ScriptedProber, make_config, make_pool

H = HealthSettings(timeout=0.5, fall=2, rise=2, hold_down=10.0)
POOL = make_pool(record="www.example.com", health=H, zone_id="Z1")
A = POOL.origins[0].id
INSYNC_AFTER = 20.0


class Time:
    """One monotonic clock for the model, the limiter, the store and the round."""

    def __init__(self) -> None:
        self.t = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


class World:
    def __init__(self, tmp: Path, rate: float = 5.0) -> None:
        self.time = Time()
        self.model = Route53Model(clock=self.time, insync_after=INSYNC_AFTER)
        self.model.create_zone("Z1", "example.com")
        self.model.seed("Z1", [_rrset(o.id, o.endpoint) for o in POOL.origins])
        self.metrics = Metrics(CollectorRegistry())
        self.limiter = RateLimiter(rate, clock=self.time, sleep=self.time.sleep)
        self.store = Route53Store(
            ModelClient(self.model),  # type: ignore[arg-type]
            self.limiter,
            observer=self.metrics,
            sleep=self.time.sleep,
            clock=self.time,
        )
        self.prober = ScriptedProber()
        self.runner = Runner(
            make_config(POOL),
            self.prober,
            self.store,
            FileStore(tmp / "overrides.json"),
            self.metrics,
            clock=self.time,
            wall=self.time,
        )

    def rounds(self, n: int) -> None:
        for _ in range(n):
            assert self.runner.run_round().error == ""
            self.time.t += 1.0

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def polls(self) -> float:
        return self.sample("failover_route53_requests_total", operation="GetChange", outcome="ok")


def _rrset(set_id: str, endpoint: str) -> dict[str, Any]:
    return {
        "Name": "www.example.com.",
        "Type": "TXT",
        "SetIdentifier": set_id,
        "Weight": 100,
        "TTL": POOL.ttl,
        "ResourceRecords": [{"Value": f'"{endpoint}"'}],
    }


def test_a_change_is_polled_while_pending_and_its_propagation_observed_once(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    w.rounds(2)
    w.prober.set(Outcome.HTTP_5XX, A)
    with capture_logs() as logs:
        for _ in range(10):
            w.rounds(1)
            if any(e["event"] == "weights_applied" for e in logs):
                break
        applied = next(e for e in logs if e["event"] == "weights_applied")
        w.rounds(40)
    in_sync = [e for e in logs if e["event"] == "change_in_sync"]
    assert len(in_sync) == 1
    assert in_sync[0]["change_id"] == applied["change_id"]
    assert in_sync[0]["route53_change"] == applied["route53_change"]
    # Polled every POLL_EVERY seconds from acceptance; the first poll at or past 20 s
    # is the one that finds it INSYNC.
    polls_needed = int(INSYNC_AFTER // POLL_EVERY) + (INSYNC_AFTER % POLL_EVERY > 0)
    assert in_sync[0]["seconds"] == pytest.approx(polls_needed * POLL_EVERY)
    assert w.polls() == polls_needed  # PENDING polls, then one INSYNC, then none
    assert w.sample("failover_route53_propagation_seconds_count") == 1
    assert w.sample("failover_route53_propagation_seconds_sum") == pytest.approx(
        polls_needed * POLL_EVERY
    )
    assert w.runner.propagation.followed == {}
    assert w.time.slept == []  # no read, write or poll ever waited for a token


def test_settle_makes_the_next_poll_find_the_change_in_sync(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.rounds(2)
    w.prober.set(Outcome.HTTP_5XX, A)
    with capture_logs() as logs:
        w.rounds(3)
        applied = next(e for e in logs if e["event"] == "weights_applied")
        w.model.settle(applied["route53_change"])
        w.rounds(int(POLL_EVERY) + 2)
    in_sync = [e for e in logs if e["event"] == "change_in_sync"]
    assert [e["change_id"] for e in in_sync] == [applied["change_id"]]
    assert w.polls() == 1


def test_a_poll_takes_a_token_only_from_a_full_bucket_and_never_waits() -> None:
    time = Time()
    limiter = RateLimiter(5.0, clock=time, sleep=time.sleep)
    assert limiter.try_acquire()  # full: the poll goes, leaving burst - 1
    assert not limiter.try_acquire()  # not full: the next poll waits for its turn
    for _ in range(4):
        assert limiter.acquire() == 0.0  # reads and writes still find their tokens
    assert not limiter.try_acquire()
    time.t += 1.0  # the bucket refills
    assert limiter.try_acquire()
    assert time.slept == []


def test_no_poll_is_made_while_reads_and_writes_keep_the_bucket_from_full(
    tmp_path: Path,
) -> None:
    w = World(tmp_path)
    landed = Landed("abc", "CFOLLOWED00001", (), w.time())
    stage = PropagationStage(w.store, background=False, clock=w.time)
    stage.follow([landed])
    w.time.t += POLL_EVERY
    w.limiter.acquire()  # a read just took a token
    stage.start(w.time())
    stage.collect()
    assert w.polls() == 0
    assert (
        w.sample("failover_route53_requests_total", operation="GetChange", outcome="client_error")
        == 0
    )
    assert "CFOLLOWED00001" in stage.followed  # still due: polled at its next turn
    assert w.time.slept == []


def test_no_poll_starts_while_a_write_is_in_flight(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.runner.propagation.follow([Landed("abc", "C0000000000001", (), w.time())])
    w.time.t += POLL_EVERY
    release = threading.Event()
    lane: Lane[WriteOutcome] = Lane("route53-write", background=True, clock=w.time)
    w.runner.writer.lane = lane

    def write() -> WriteOutcome:
        release.wait(10)
        return WriteOutcome()

    lane.start(write, 30.0)
    try:
        assert w.runner.run_round().error == ""
        assert w.polls() == 0
        assert w.runner.propagation.lane.idle
    finally:
        release.set()


def test_changes_without_a_route53_id_are_not_followed(tmp_path: Path) -> None:
    w = World(tmp_path)
    stage = PropagationStage(w.store, background=False, clock=w.time)
    said = stage.follow(
        [
            Landed("a", "already-applied", (), w.time()),
            Landed("b", "unknown (answer lost)", (), w.time()),
        ]
    )
    assert said == []
    assert stage.followed == {}


def test_the_oldest_change_is_dropped_with_a_log_past_the_cap(tmp_path: Path) -> None:
    w = World(tmp_path)
    stage = PropagationStage(w.store, background=False, clock=w.time, cap=3)
    said = stage.follow([Landed(f"id{i}", f"C{i:013d}", (), w.time()) for i in range(5)])
    assert [(e.name, e.fields["change_id"]) for e in said] == [
        ("change_follow_dropped", "id0"),
        ("change_follow_dropped", "id1"),
    ]
    assert list(stage.followed) == [f"C{i:013d}" for i in (2, 3, 4)]


def test_a_change_route53_does_not_know_is_retried_then_given_up(tmp_path: Path) -> None:
    w = World(tmp_path)
    stage = PropagationStage(w.store, background=False, clock=w.time)
    stage.follow([Landed("gone", "CNOSUCHCHANGE0", (), w.time())])
    said = []
    for _ in range(int(GIVE_UP_AFTER // POLL_EVERY) + 2):
        w.time.t += POLL_EVERY
        said += stage.collect()
        stage.start(w.time())
    names = [e.name for e in said]
    assert "change_poll_failed" in names
    assert names[-1] == "change_follow_dropped"
    assert stage.followed == {}
    failed = w.sample(
        "failover_route53_requests_total", operation="GetChange", outcome="client_error"
    )
    assert failed == names.count("change_poll_failed")
