"""The backstop's pure rules: what to publish, the alarms and health checks, and Route 53's choice.

When Route 53's API (its control plane, in us-east-1) refuses every write, the daemon
cannot lower a dead Region's weight. The backstop leaves that to Route 53's data plane:
each owned weighted set of an opted-in pool carries a health check of type
``CLOUDWATCH_METRIC`` that follows one CloudWatch alarm on its origin's verdict metric,
which every non-blind daemon publishes (1 = down). This module computes, from values
only: the datapoints of one period, how they are batched, each alarm's and health
check's definition, what ``failover backstop plan`` must create or attach, and which
sets Route 53 answers with once health checks are in play.

What no data means is decided by a pair of settings, chosen so that a dead or blind
daemon fails static (Route 53 keeps answering from the last written weights):

- the alarm's ``TreatMissingData`` is ``missing``: AWS: "missing - If all data points in
  the alarm evaluation range are missing, the alarm transitions to INSUFFICIENT_DATA"
  (CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data"); the
  silence stays visible as its own state (an alert fires on it) instead of passing for
  OK (``notBreaching``) or for an outage (``breaching``);
- the health check's ``InsufficientDataHealthStatus`` is ``Healthy``: AWS: "Healthy:
  Route 53 considers the health check to be healthy" when "CloudWatch has insufficient
  data about the metric to determine the alarm state" (HealthCheckConfig, Route 53 API
  Reference). A silent daemon then takes nothing out: every set counts by its weight
  alone. ``LastKnownStatus`` would hold an Unhealthy verdict for ever once the daemon
  stopped, whatever the Region did next; ``Unhealthy`` would take out every set whose
  publisher died.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from failover.core.batch import Batch
from failover.model import BackstopSettings, Config, Health, Origin, OriginKey, Pool, State

METRIC = "OriginDown"
STATISTIC = "Average"  # one of the statistics a CLOUDWATCH_METRIC health check accepts
COMPARISON = "GreaterThanOrEqualToThreshold"
TREAT_MISSING_DATA = "missing"
INSUFFICIENT_DATA_HEALTH_STATUS = "Healthy"
# PutMetricData: "Each request is also limited to no more than 1000 different metrics"
# and "limited to 1 MB in size for HTTP POST requests" (CloudWatch API Reference). A
# datum here is under 300 bytes, so 1,000 of them stay far below 1 MB.
MAX_METRICS_PER_REQUEST = 1000
# Route 53's CloudWatchRegion values (botocore 1.44.8's route53 model): the Regions
# whose alarms a CLOUDWATCH_METRIC health check can follow.
CLOUDWATCH_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "ap-east-1",
        "me-south-1",
        "me-central-1",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "eu-north-1",
        "sa-east-1",
        "cn-northwest-1",
        "cn-north-1",
        "af-south-1",
        "eu-south-1",
        "eu-south-2",
        "us-gov-west-1",
        "us-gov-east-1",
        "us-iso-east-1",
        "us-iso-west-1",
        "us-isob-east-1",
        "ap-southeast-4",
        "il-central-1",
        "ca-west-1",
        "ap-southeast-5",
        "mx-central-1",
        "us-isof-south-1",
        "us-isof-east-1",
        "ap-southeast-7",
        "ap-east-2",
        "eu-isoe-west-1",
        "ap-southeast-6",
        "us-isob-west-1",
        "eusc-de-east-1",
    }
)
CONTROL_PLANE_REGION = "us-east-1"  # where Route 53's record-changing API is served from


def region_problem(region: str) -> str | None:
    """Why `region` cannot hold the backstop's metrics and alarms, or None."""
    if region == CONTROL_PLANE_REGION:
        return (
            f'"{region}" hosts Route 53\'s control plane: the backstop is for when it is '
            "impaired, so its alarms must live in another Region"
        )
    if region not in CLOUDWATCH_REGIONS:
        return f'"{region}" is not a Region Route 53 health checks can read alarms from'
    return None


def period_problem(seconds: int) -> str | None:
    """Why a period is not a standard-resolution alarm period (a warning: the sandbox's
    emulated CloudWatch accepts any), or None."""
    if seconds % 60:
        return (
            f"{seconds} s is not a multiple of 60: a CLOUDWATCH_METRIC health check needs a "
            "standard-resolution alarm; only the sandbox's emulated CloudWatch evaluates it"
        )
    return None


def backstop_origins(config: Config) -> tuple[Origin, ...]:
    return tuple(o for p in config.pools if p.backstop for o in p.origins)


# ---- publishing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Datum:
    key: OriginKey
    value: float  # 1.0 = down, 0.0 = up


def datapoints(config: Config, health: Mapping[OriginKey, Health], *, blind: bool) -> list[Datum]:
    """One datum per backstop origin with a verdict; none at all while the prober is blind.

    An origin with no verdict yet (unknown) publishes nothing: missing data is what
    keeps the alarm from acting on a daemon that knows nothing.
    """
    if blind:
        return []
    out = []
    for o in backstop_origins(config):
        state = health.get(o.key, Health()).state
        if state is State.DOWN:
            out.append(Datum(o.key, 1.0))
        elif state is State.UP:
            out.append(Datum(o.key, 0.0))
    return out


def dimensions(key: OriginKey) -> list[dict[str, str]]:
    """The metric's dimensions: pool and origin only (no replica: replicas share one metric)."""
    return [{"Name": "Pool", "Value": key.pool}, {"Name": "Origin", "Value": key.origin}]


def batches(
    data: Sequence[Datum], timestamp: float, limit: int = MAX_METRICS_PER_REQUEST
) -> list[list[dict[str, Any]]]:
    """PutMetricData's MetricData lists, each within the per-request metric limit."""
    items = [
        {
            "MetricName": METRIC,
            "Dimensions": dimensions(d.key),
            "Timestamp": timestamp,
            "Value": d.value,
            "Unit": "None",
            "StorageResolution": 60,  # standard resolution: what Route 53 can follow
        }
        for d in data
    ]
    return [items[i : i + limit] for i in range(0, len(items), limit)]


# ---- alarms and health checks ---------------------------------------------------------


def alarm_name(settings: BackstopSettings, key: OriginKey) -> str:
    return f"{settings.namespace}-{key.pool}-{key.origin}-down"[:255]


def alarm(settings: BackstopSettings, key: OriginKey) -> dict[str, Any]:
    """PutMetricAlarm's arguments for one origin (Average of every publisher's verdict)."""
    return {
        "AlarmName": alarm_name(settings, key),
        "AlarmDescription": f"origin {key} judged down by the failover daemons (backstop)",
        "Namespace": settings.namespace,
        "MetricName": METRIC,
        "Dimensions": dimensions(key),
        "Statistic": STATISTIC,
        "Period": settings.period_seconds,
        "EvaluationPeriods": settings.evaluation_periods,
        "DatapointsToAlarm": settings.evaluation_periods,
        "Threshold": settings.quorum_fraction,
        "ComparisonOperator": COMPARISON,
        "TreatMissingData": TREAT_MISSING_DATA,
        "ActionsEnabled": False,  # Route 53 reads the state; nothing else acts on it
    }


ALARM_FIELDS = (
    "Namespace",
    "MetricName",
    "Statistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
)


def alarm_differs(want: Mapping[str, Any], held: Mapping[str, Any]) -> list[str]:
    """The alarm fields whose held value is not the wanted one (dimensions included)."""
    out = [f for f in ALARM_FIELDS if held.get(f) != want.get(f)]
    dims = sorted((d["Name"], d["Value"]) for d in held.get("Dimensions", []))
    if dims != sorted((d["Name"], d["Value"]) for d in want["Dimensions"]):
        out.append("Dimensions")
    return out


def health_check(settings: BackstopSettings, key: OriginKey) -> dict[str, Any]:
    """CreateHealthCheck's HealthCheckConfig for one origin's alarm."""
    return {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Region": settings.region, "Name": alarm_name(settings, key)},
        "InsufficientDataHealthStatus": INSUFFICIENT_DATA_HEALTH_STATUS,
    }


def caller_reference(settings: BackstopSettings, key: OriginKey) -> str:
    """A CallerReference stable for one origin's health check (at most 64 characters).

    Route 53 answers a repeated CreateHealthCheck with the same reference and settings
    with the existing check, so a retried `backstop apply` creates no second one.
    """
    digest = hashlib.sha256(f"{settings.region}/{alarm_name(settings, key)}".encode()).hexdigest()
    return f"failover-{digest[:40]}"


def health_check_follows(
    config: Mapping[str, Any], settings: BackstopSettings, key: OriginKey
) -> bool:
    """Whether a listed health check's config follows this origin's alarm."""
    ident = config.get("AlarmIdentifier") or {}
    return (
        config.get("Type") == "CLOUDWATCH_METRIC"
        and ident.get("Region") == settings.region
        and ident.get("Name") == alarm_name(settings, key)
    )


# ---- a re-created set gets its health check back -------------------------------------------


def rearm(config: Config, batch: Batch, seen: Mapping[tuple[str, str], str]) -> Batch:
    """The batch with each set it creates anew in a backstop pool carrying the health check
    it was last seen with (a set deleted by hand comes back armed, not disarmed)."""
    changes = []
    for c in batch.changes:
        check = seen.get((c.pool, c.new.set_id))
        armed = any(k == "HealthCheckId" for k, _ in c.new.extra)
        if c.old is None and check and not armed and config.pool(c.pool).backstop:
            extra = tuple(sorted((*c.new.extra, ("HealthCheckId", json.dumps(check)))))
            changes.append(dataclasses.replace(c, new=dataclasses.replace(c.new, extra=extra)))
        else:
            changes.append(c)
    return dataclasses.replace(batch, changes=tuple(changes))


# ---- the plan of `failover backstop` ----------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One thing `backstop apply` does (or cannot do) for one origin."""

    key: OriginKey
    kind: str  # create_alarm, update_alarm, create_health_check, attach, blocked
    detail: str


def plan(
    config: Config,
    alarms: Mapping[str, Mapping[str, Any]],
    checks: Iterable[Mapping[str, Any]],
    held: Mapping[str, Mapping[str, str | None]],
) -> list[Step]:
    """What is missing for every backstop origin, in the order apply makes it.

    `alarms`: the metrics Region's alarms by name; `checks`: Route 53's health checks
    (``Id`` and ``HealthCheckConfig``); `held`: for each pool, each set id Route 53
    holds and its HealthCheckId (None: none).
    """
    settings = config.backstop
    listed = list(checks)
    steps: list[Step] = []
    for pool in (p for p in config.pools if p.backstop):
        for o in pool.origins:
            steps += _origin_steps(settings, pool, o, alarms, listed, held.get(pool.name, {}))
    return steps


def _origin_steps(
    settings: BackstopSettings,
    pool: Pool,
    o: Origin,
    alarms: Mapping[str, Mapping[str, Any]],
    checks: list[Mapping[str, Any]],
    held: Mapping[str, str | None],
) -> list[Step]:
    key = o.key
    name = alarm_name(settings, key)
    steps = []
    if name not in alarms:
        steps.append(Step(key, "create_alarm", f"alarm {name} in {settings.region}"))
    else:
        diff = alarm_differs(alarm(settings, key), alarms[name])
        if diff:
            steps.append(Step(key, "update_alarm", f"alarm {name}: {', '.join(diff)} differ"))
    mine = [c["Id"] for c in checks if health_check_follows(c["HealthCheckConfig"], settings, key)]
    check_id = mine[0] if mine else None
    if check_id is None:
        steps.append(Step(key, "create_health_check", f"CLOUDWATCH_METRIC health check on {name}"))
    if o.id not in held:
        steps.append(
            Step(
                key,
                "blocked",
                f"Route 53 holds no set {o.id} of {pool.record}: run the daemon first",
            )
        )
        return steps
    attached = held[o.id]
    if attached is None:
        steps.append(Step(key, "attach", f"set {o.id} of {pool.record} gets the health check"))
    elif attached not in mine:
        steps.append(
            Step(
                key,
                "blocked",
                f"set {o.id} of {pool.record} carries another health check ({attached}): "
                "detach it by hand first",
            )
        )
    return steps


# ---- Route 53's answer with health checks ----------------------------------------------


def candidates(sets: Sequence[tuple[int, bool | None]]) -> tuple[list[int], bool]:
    """The sets Route 53 picks an answer from, and whether it picks evenly among them.

    Each set is (weight, health): True healthy, False unhealthy, None no health check.
    AWS (Route 53 Developer Guide, "How Amazon Route 53 chooses records when health
    checking is configured"): "If a record in a group of records that have the same name
    and type doesn't have an associated health check, Route 53 always considers it
    healthy"; "If none of the records in a group of records are healthy, Route 53 needs
    to return something in response to DNS queries, but it has no basis for choosing one
    record over another. In this circumstance, Route 53 considers all the records in the
    group to be healthy and selects one based on the routing policy"; and for weighted
    records with weight 0 ("Weighted routing", "Health checks and weighted routing"):
    "Route 53 initially considers only the nonzero weighted records, if any" and "If all
    the records that have a weight greater than 0 are unhealthy, then Route 53 considers
    the zero-weighted records". A record with weight 0 otherwise never answers.
    """
    healthy = [h is not False for _, h in sets]
    nonzero = [i for i, (w, _) in enumerate(sets) if w > 0]
    chosen = [i for i in nonzero if healthy[i]]
    if chosen:
        return chosen, False
    zero = [i for i, (w, _) in enumerate(sets) if w == 0 and healthy[i]]
    if zero:
        return zero, True
    if nonzero:  # none healthy: all treated as healthy, chosen by weight (zero gets nothing)
        return nonzero, False
    return list(range(len(sets))), True  # every weight 0, every set unhealthy: evenly
