"""The backstop publisher: each period, every origin's verdict into CloudWatch, and the alarms read back.

It runs on a lane of its own in the daemon, on its own cadence (``[backstop]
period_seconds``), never in a round: a slow or failing CloudWatch delays no probe and
no write. It publishes nothing while the prober is blind (see `core.backstop`), so a
blind daemon's silence is missing data, which the alarm and the health check read as
"keep the weights". It never creates or deletes an alarm or a health check (that is
`failover backstop apply` or the template). Its metrics say whether the backstop is
armed: each set of a backstop pool carrying its health check, and each alarm's state.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import botocore.config
import botocore.exceptions
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from failover.aws.route53 import Record
from failover.core import backstop
from failover.core.batch import Batch
from failover.model import Config, Health, OriginKey

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

log = structlog.get_logger("failover")

ALARM_STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
_NO_RECORD = Record({})
MAX_ALARM_NAMES = 100  # DescribeAlarms takes at most 100 AlarmNames per call
CLIENT_CONFIG = botocore.config.Config(
    connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
)


class CloudWatch(Protocol):
    def put_metric_data(self, **kwargs: Any) -> Any: ...
    def describe_alarms(self, **kwargs: Any) -> Any: ...


@dataclass
class Published:
    """What one period's publication did."""

    datapoints: int = 0
    requests: int = 0
    error: str = ""
    alarms: dict[OriginKey, str] = field(default_factory=dict)


class Publisher:
    """Publishes one period's verdicts and reads the alarms' states; never raises."""

    def __init__(self, client: CloudWatch, region: str = "") -> None:
        self.client = client
        self.region = region
        self.alarms: dict[OriginKey, str] = {}  # last state read, per backstop origin
        self.sent = 0
        self.failed = 0
        self.paused = False  # blind: nothing published (the alarm sees missing data)
        self._lock = threading.Lock()

    def publish(
        self, config: Config, health: Mapping[OriginKey, Health], *, blind: bool, wall: float
    ) -> Published:
        out = Published()
        data = backstop.datapoints(config, health, blind=blind)
        try:
            for batch in backstop.batches(data, wall):
                self.client.put_metric_data(Namespace=config.backstop.namespace, MetricData=batch)
                out.requests += 1
                out.datapoints += len(batch)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            out.error = f"PutMetricData: {e}"
        if blind != self.paused:  # said once per blind spell, not once per period
            self.paused = blind
            if blind:
                log.warning("backstop_publishing_paused", reason="the prober is blind")
            else:
                log.info("backstop_publishing_resumed")
        try:
            out.alarms = self._alarm_states(config)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            out.error = out.error or f"DescribeAlarms: {e}"
        with self._lock:
            self.sent += out.datapoints
            if out.error:
                self.failed += 1
                log.warning("backstop_publish_failed", error=out.error)
            if out.alarms:
                self.alarms = out.alarms
        return out

    def _alarm_states(self, config: Config) -> dict[OriginKey, str]:
        keys = {
            backstop.alarm_name(config.backstop, o.key): o.key
            for o in backstop.backstop_origins(config)
        }
        names = sorted(keys)
        states: dict[OriginKey, str] = {}
        for i in range(0, len(names), MAX_ALARM_NAMES):
            resp = self.client.describe_alarms(
                AlarmNames=names[i : i + MAX_ALARM_NAMES], AlarmTypes=["MetricAlarm"]
            )
            for a in resp.get("MetricAlarms", []):
                if a["AlarmName"] in keys:
                    states[keys[a["AlarmName"]]] = str(a["StateValue"])
        return states

    def snapshot(self) -> tuple[dict[OriginKey, str], int, int]:
        with self._lock:
            return dict(self.alarms), self.sent, self.failed


class CheckMemory:
    """The HealthCheckId each backstop set was last read with, so that a set the daemon
    re-creates (after a deletion) gets it back; the round never makes or drops a check."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], str] = {}

    def rearm(
        self, config: Config, records: Mapping[str, Record], batches: Sequence[Batch]
    ) -> list[Batch]:
        for pool in (p for p in config.pools if p.backstop):
            for set_id in records.get(pool.name, _NO_RECORD).sets:
                check = attached(records.get(pool.name), set_id)
                if check is not None:
                    self.seen[(pool.name, set_id)] = check
        return [backstop.rearm(config, b, self.seen) for b in batches]


def enabled(config: Config) -> bool:
    return any(p.backstop for p in config.pools)


def client(session: Any, config: Config) -> CloudWatch:
    """A CloudWatch client in the metrics Region (never us-east-1: see config validation)."""
    made: CloudWatch = session.client(
        "cloudwatch", region_name=config.backstop.region, config=CLIENT_CONFIG
    )
    return made


def attached(record: Record | None, set_id: str) -> str | None:
    """The HealthCheckId Route 53 holds on a set (None: none, or no such set)."""
    held = None if record is None else record.sets.get(set_id)
    if held is None:
        return None
    for name, value in held.extra:
        if name == "HealthCheckId":
            got = json.loads(value)
            return got if isinstance(got, str) else None
    return None


class BackstopCollector(Collector):
    """`failover_backstop_*`: whether each backstop set is armed, each alarm's state, the publishing."""

    def __init__(
        self,
        config: Callable[[], Config],
        records: Callable[[], Mapping[str, Record]],
        publisher: Callable[[], Publisher | None],
    ) -> None:
        self.config, self.records, self.publisher = config, records, publisher

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only: the series depend on the config

    def collect(self) -> Iterator[Metric]:
        cfg, records = self.config(), dict(self.records())
        armed = GaugeMetricFamily(
            "failover_backstop_armed",
            "1 if Route 53 holds this backstop origin's set with a health check, else 0.",
            labels=["pool", "origin"],
        )
        for pool in (p for p in cfg.pools if p.backstop):
            for o in pool.origins:
                got = attached(records.get(pool.name), o.id)
                armed.add_metric([pool.name, o.id], 0.0 if got is None else 1.0)
        yield armed
        pub = self.publisher()
        states, sent, failed = ({}, 0, 0) if pub is None else pub.snapshot()
        alarm = GaugeMetricFamily(
            "failover_backstop_alarm_state",
            "1 for the state each backstop origin's alarm was last read in.",
            labels=["pool", "origin", "state"],
        )
        for o in backstop.backstop_origins(cfg):
            now = states.get(o.key)
            for state in ALARM_STATES:
                alarm.add_metric([o.pool, o.id, state], 1.0 if now == state else 0.0)
        yield alarm
        yield CounterMetricFamily(
            "failover_backstop_datapoints",
            "Verdict datapoints published to CloudWatch.",
            value=sent,
        )
        yield CounterMetricFamily(
            "failover_backstop_publish_failures",
            "Periods whose PutMetricData or DescribeAlarms failed.",
            value=failed,
        )
