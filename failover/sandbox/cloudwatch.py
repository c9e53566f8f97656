"""What moto's CloudWatch and Route 53 lack: alarms evaluated from their metric, health checks that follow them.

moto stores metric data and alarms but never evaluates an alarm, and its Route 53
health checks are never anything but healthy. ``Evaluator`` runs beside the sandbox's
moto server: every ``tick`` seconds it reads each alarm (``DescribeAlarms``) and its
metric (``GetMetricStatistics``), decides the state as CloudWatch would, writes it back
(``SetAlarmState``), and derives each CLOUDWATCH_METRIC health check's status from its
alarm. Periods are whatever the alarms say: seconds in the sandbox, minutes in
production. `healthy(check_id)` is what the sandbox's DNS server asks.

The rules emulated (CloudWatch User Guide, "Evaluating an alarm" and "Configuring how
CloudWatch alarms treat missing data"): an alarm looks at its last ``EvaluationPeriods``
datapoints and goes to ALARM when ``DatapointsToAlarm`` of them breach; AWS: "Whenever
an alarm evaluates whether to change state, CloudWatch attempts to retrieve a higher
number of data points than the number specified as Evaluation Periods" - the
evaluation range, here `EXTRA_PERIODS` more (AWS's exact count depends on the period:
unconfirmed); with ``missing``, missing periods are skipped, and "If all data points in
the alarm evaluation range are missing, the alarm transitions to INSUFFICIENT_DATA".
Only complete periods count. A health check reads ALARM as Unhealthy, OK as Healthy and
INSUFFICIENT_DATA as its ``InsufficientDataHealthStatus`` (LastKnownStatus: the last
status, Healthy for a new check).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

EXTRA_PERIODS = 2
METRICS_REGION = "us-west-2"  # the backstop's alarms: any Route 53 CloudWatch Region but us-east-1
BACKSTOP_PERIOD = 1  # seconds: the sandbox's alarm period (60 in production)
# The [backstop] table of a sandbox config (`Sandbox.config_toml(backstop=True)`).
BACKSTOP_TABLE = [
    "",
    "[backstop]",
    f'region = "{METRICS_REGION}"',
    f"period_seconds = {BACKSTOP_PERIOD}",
]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def alarm_state(
    values: Sequence[float | None],
    *,
    threshold: float,
    comparison: str,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    treat_missing: str,
    current: str,
) -> str:
    """The state an alarm goes to, from its evaluation range (oldest first, None = missing)."""
    breaching = COMPARE[comparison]
    marks: list[bool | None] = [None if v is None else breaching(v, threshold) for v in values]
    if treat_missing == "breaching":
        marks = [True if m is None else m for m in marks]
    elif treat_missing == "notBreaching":
        marks = [False if m is None else m for m in marks]
    present = [m for m in marks if m is not None]
    if not present:
        return current if treat_missing == "ignore" else "INSUFFICIENT_DATA"
    last = present[-evaluation_periods:]
    if sum(last) >= datapoints_to_alarm:
        return "ALARM"
    if treat_missing == "ignore" and len(last) < evaluation_periods:
        return current
    return "OK"


def check_status(alarm: str, insufficient: str, last: bool) -> bool:
    """A CLOUDWATCH_METRIC health check's status (True = healthy) from its alarm's state."""
    if alarm == "ALARM":
        return False
    if alarm == "OK":
        return True
    if insufficient == "Unhealthy":
        return False
    if insufficient == "LastKnownStatus":
        return last
    return True


class Evaluator:
    """Evaluates every alarm and health check on a thread of its own until closed."""

    def __init__(
        self,
        cloudwatch: Any,
        route53: Any,
        *,
        tick: float = 0.2,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time  # noqa: PLC0415 - the default clock only

        self.cloudwatch, self.route53 = cloudwatch, route53
        self.tick = tick
        self.clock = clock or time.time
        self._status: dict[str, bool] = {}
        self.unhealthy_at: dict[str, float] = {}  # when each check last turned unhealthy
        self._changed = threading.Condition()
        self.evaluations = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sandbox-alarms", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.evaluate()
            except Exception:  # noqa: BLE001, S112 - moto stopping under us: try again next tick
                continue

    def evaluate(self) -> None:
        """One pass: every alarm's state, then every health check's status."""
        now = self.clock()
        states: dict[tuple[str, str], str] = {}
        region = self.cloudwatch.meta.region_name
        for alarm in self._alarms():
            state = self._state(alarm, now)
            states[(region, alarm["AlarmName"])] = state
            if state != alarm["StateValue"]:
                self.cloudwatch.set_alarm_state(
                    AlarmName=alarm["AlarmName"],
                    StateValue=state,
                    StateReason=f"sandbox evaluation at {now:.1f}",
                )
        status: dict[str, bool] = {}
        for check in self._checks():
            cfg = check["HealthCheckConfig"]
            ident = cfg.get("AlarmIdentifier") or {}
            alarm_state_ = states.get((ident.get("Region", ""), ident.get("Name", "")))
            if cfg.get("Type") != "CLOUDWATCH_METRIC" or alarm_state_ is None:
                continue
            last = self._status.get(check["Id"], True)
            status[check["Id"]] = check_status(
                alarm_state_, cfg.get("InsufficientDataHealthStatus") or "LastKnownStatus", last
            )
        with self._changed:
            for check_id, healthy in status.items():
                if self._status.get(check_id, True) and not healthy:
                    self.unhealthy_at[check_id] = now
            self._status = status
            self.evaluations += 1
            self._changed.notify_all()

    def _alarms(self) -> list[dict[str, Any]]:
        pages = self.cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmTypes=["MetricAlarm"]
        )
        return [a for page in pages for a in page.get("MetricAlarms", [])]

    def _checks(self) -> list[dict[str, Any]]:
        return list(self.route53.list_health_checks().get("HealthChecks", []))

    def _state(self, alarm: dict[str, Any], now: float) -> str:
        period = int(alarm["Period"])
        evaluations = int(alarm["EvaluationPeriods"])
        end = math.floor(now / period) * period  # the last complete period ends here
        values: list[float | None] = []
        for k in range(evaluations + EXTRA_PERIODS, 0, -1):
            start = end - k * period
            values.append(self._average(alarm, start, start + period))
        return alarm_state(
            values,
            threshold=float(alarm["Threshold"]),
            comparison=alarm["ComparisonOperator"],
            evaluation_periods=evaluations,
            datapoints_to_alarm=int(alarm.get("DatapointsToAlarm") or evaluations),
            treat_missing=alarm.get("TreatMissingData") or "missing",
            current=alarm["StateValue"],
        )

    def _average(self, alarm: dict[str, Any], start: float, end: float) -> float | None:
        got = self.cloudwatch.get_metric_statistics(
            Namespace=alarm["Namespace"],
            MetricName=alarm["MetricName"],
            Dimensions=alarm.get("Dimensions", []),
            StartTime=dt.datetime.fromtimestamp(start, dt.UTC),
            EndTime=dt.datetime.fromtimestamp(end, dt.UTC),
            Period=int(end - start),
            Statistics=["Sum", "SampleCount"],
        )["Datapoints"]
        count = sum(p["SampleCount"] for p in got)
        return sum(p["Sum"] for p in got) / count if count else None

    def healthy(self, check_id: str) -> bool:
        """A health check's status as Route 53 would hold it (unknown checks: healthy)."""
        with self._changed:
            return self._status.get(check_id, True)

    def statuses(self) -> dict[str, bool]:
        with self._changed:
            return dict(self._status)

    def wait_for(self, predicate: Callable[[dict[str, bool]], bool], timeout: float) -> bool:
        """Wait (bounded) until the statuses satisfy `predicate`."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self._status), timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_evaluator(
    session: Any, endpoint: str, config: Any, route53: Any
) -> tuple[Any, Evaluator]:
    """A CloudWatch client on moto in the metrics Region, and a running evaluator."""
    from failover.sandbox import healthchecks  # noqa: PLC0415 - moto is loaded by now

    healthchecks.install()  # process-wide, like route53_strict: health checks keep their alarm
    cloudwatch = session.client(
        "cloudwatch", region_name=METRICS_REGION, endpoint_url=endpoint, config=config
    )
    evaluator = Evaluator(cloudwatch, route53, tick=BACKSTOP_PERIOD / 5)
    evaluator.start()
    return cloudwatch, evaluator


def health_of(evaluator: Evaluator | None, check_id: str | None) -> bool | None:
    """A set's health-check status as Route 53 holds it (None: the set has no check)."""
    if check_id is None:
        return None
    return True if evaluator is None else evaluator.healthy(check_id)
