"""The daemon publishes verdicts on a cadence of its own: a round stuck on a dependency does not stop it."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.config import load
from failover.daemon import Daemon
from failover.metrics import Metrics
from failover.model import Health, State
from failover.round import RoundReport
from failover.stages.backstop import Publisher
from tests.conftest import Zone
from tests.e2e_support import free_port, make_buckets, wait_for, write_config
from tests.test_backstop_core import backstop_config


def datapoints(cloudwatch: Any, namespace: str, origin: str) -> float:
    now = dt.datetime.now(dt.UTC)
    got = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="OriginDown",
        Dimensions=[{"Name": "Pool", "Value": "www"}, {"Name": "Origin", "Value": origin}],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount"],
    )["Datapoints"]
    return float(sum(p["SampleCount"] for p in got))


def test_verdicts_keep_being_published_while_a_round_is_stuck(zone: Zone, tmp_path: Path) -> None:
    buckets = make_buckets(f"bks-{uuid.uuid4().hex[:8]}")
    path = tmp_path / "c.toml"
    write_config(path, zone.id, buckets, free_port(), tmp_path)
    namespace = f"D{uuid.uuid4().hex[:10]}"
    text = path.read_text().replace("ttl = 5\n", "ttl = 5\nbackstop = true\n", 1)
    text = text.replace(
        "[[pools]]",
        f'[backstop]\nregion = "us-west-2"\nnamespace = "{namespace}"\nperiod_seconds = 1\n'
        "[[pools]]",
        1,
    )
    path.write_text(text)
    config = load(str(path), {})
    daemon = Daemon(config, lambda: config, metrics=Metrics(CollectorRegistry()))
    real_round = daemon.runner.run_round
    stuck = threading.Event()
    release = threading.Event()

    def round_() -> RoundReport:
        if stuck.is_set():
            release.wait(20)
            return RoundReport()
        return real_round()

    daemon.runner.run_round = round_  # type: ignore[method-assign]
    cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
    origin = next(iter(buckets))
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_for("a first datapoint", lambda: datapoints(cloudwatch, namespace, origin) >= 1)
        stuck.set()  # from now on every round hangs
        before = datapoints(cloudwatch, namespace, origin)
        wait_for(
            "datapoints while the round hangs",
            lambda: datapoints(cloudwatch, namespace, origin) >= before + 2,
        )
    finally:
        release.set()
        daemon.stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


class Refusing:
    def put_metric_data(self, **kw: Any) -> Any:
        raise AssertionError("a blind daemon publishes nothing")

    def describe_alarms(self, **kw: Any) -> Any:
        return {"MetricAlarms": []}


class Accepting(Refusing):
    def put_metric_data(self, **kw: Any) -> Any:
        return {}


def test_a_blind_spell_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    cfg = backstop_config()
    pub = Publisher(Refusing(), cfg.backstop.region)
    down = {o.key: Health(state=State.DOWN) for o in cfg.all_origins()}
    with capture_logs() as logs:
        for _ in range(3):
            pub.publish(cfg, down, blind=True, wall=0.0)
        pub.client = Accepting()
        pub.publish(cfg, down, blind=False, wall=0.0)
    names = [e["event"] for e in logs]
    assert names == ["backstop_publishing_paused", "backstop_publishing_resumed"]
