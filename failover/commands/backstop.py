"""`failover backstop plan|apply`: the alarms, health checks and attachments the backstop needs.

For setups without the template (deploy/cloudformation/backstop.yaml). `plan` reads
the metrics Region's alarms, Route 53's health checks and each backstop set, and
prints what is missing; `apply` makes it, in order: the alarm (PutMetricAlarm, in the
metrics Region), the CLOUDWATCH_METRIC health check (CreateHealthCheck with a stable
CallerReference, so a retry makes no second one), then the set's HealthCheckId, by a
compare-and-swap of the set as read (DELETE exactly it + CREATE it with the check).
Both are idempotent: a second run finds nothing to do. A set carrying another health
check is never touched. The daemon's rounds never create or delete health checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.exceptions

from failover.aws.route53 import RateLimiter, Route53Store
from failover.commands.shared import EXIT_FAIL, EXIT_OK, config_of
from failover.config import warnings
from failover.core import backstop
from failover.daemon import route53_client
from failover.errors import FailoverError, Route53Error
from failover.model import Change, Config, OriginKey, Reason, WeightedSet
from failover.stages.backstop import CLIENT_CONFIG, MAX_ALARM_NAMES

MARK = {
    "create_alarm": "+",
    "update_alarm": "~",
    "create_health_check": "+",
    "attach": "~",
    "blocked": "!",
}


@dataclasses.dataclass
class World:
    """What the backstop's plan is made from, read once."""

    alarms: dict[str, dict[str, Any]]
    checks: list[dict[str, Any]]
    sets: dict[str, dict[str, WeightedSet]]

    def held(self) -> dict[str, dict[str, str | None]]:
        out: dict[str, dict[str, str | None]] = {}
        for pool, sets in self.sets.items():
            out[pool] = {sid: check_id(s) for sid, s in sets.items()}
        return out


def check_id(s: WeightedSet | None) -> str | None:
    """The HealthCheckId a set carries (None: none, or no set)."""
    if s is None:
        return None
    for name, value in s.extra:
        if name == "HealthCheckId":
            got = json.loads(value)
            return got if isinstance(got, str) else None
    return None


def read(config: Config, session: Any, store: Route53Store, route53: Any) -> World:
    cloudwatch = session.client(
        "cloudwatch", region_name=config.backstop.region, config=CLIENT_CONFIG
    )
    names = sorted(
        backstop.alarm_name(config.backstop, o.key) for o in backstop.backstop_origins(config)
    )
    alarms: dict[str, dict[str, Any]] = {}
    for i in range(0, len(names), MAX_ALARM_NAMES):
        resp = cloudwatch.describe_alarms(
            AlarmNames=names[i : i + MAX_ALARM_NAMES], AlarmTypes=["MetricAlarm"]
        )
        alarms.update({a["AlarmName"]: a for a in resp.get("MetricAlarms", [])})
    checks = [
        c
        for page in route53.get_paginator("list_health_checks").paginate()
        for c in page.get("HealthChecks", [])
    ]
    sets: dict[str, dict[str, WeightedSet]] = {}
    for p in config.pools:
        if p.backstop:
            sets[p.name] = dict(store.read(p.zone_id, [p.record])[p.record].sets)
    return World(alarms, checks, sets)


def alarm_states(config: Config, session: Any = None) -> dict[OriginKey, str]:
    """Each backstop origin's alarm state now (for `failover status`); {} if none can be read."""
    if not any(p.backstop for p in config.pools):
        return {}
    session = session or boto3.Session()
    cloudwatch = session.client(
        "cloudwatch", region_name=config.backstop.region, config=CLIENT_CONFIG
    )
    keys = {
        backstop.alarm_name(config.backstop, o.key): o.key
        for o in backstop.backstop_origins(config)
    }
    names = sorted(keys)
    out: dict[OriginKey, str] = {}
    try:
        for i in range(0, len(names), MAX_ALARM_NAMES):
            resp = cloudwatch.describe_alarms(AlarmNames=names[i : i + MAX_ALARM_NAMES])
            for a in resp.get("MetricAlarms", []):
                out[keys[a["AlarmName"]]] = str(a["StateValue"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        return {}
    return out


def run(args: argparse.Namespace) -> int:
    config = config_of(args)
    if not any(p.backstop for p in config.pools):
        print("no pool sets backstop = true: nothing to do")
        return EXIT_OK
    for w in warnings(config):
        if w.startswith("backstop."):
            print(f"warning: {w}")
    session = boto3.Session()
    route53 = route53_client(session)
    store = Route53Store(route53, RateLimiter(config.daemon.route53_rate))  # type: ignore[arg-type]
    try:
        world = read(config, session, store, route53)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise FailoverError(f"backstop: cannot read what exists ({e})") from None
    steps = backstop.plan(config, world.alarms, world.checks, world.held())
    if not steps:
        print("backstop: every alarm, health check and set is in place")
        return EXIT_OK
    for s in steps:
        print(f"  {MARK[s.kind]} {s.key}: {s.kind.replace('_', ' ')}: {s.detail}")
    if args.action == "plan":
        todo = sum(s.kind != "blocked" for s in steps)
        print(f"{todo} to do; run `failover backstop apply` to make them")
        return EXIT_OK
    return _apply(config, session, store, route53, world, steps)


def _apply(
    config: Config,
    session: Any,
    store: Route53Store,
    route53: Any,
    world: World,
    steps: list[backstop.Step],
) -> int:
    settings = config.backstop
    cloudwatch = session.client("cloudwatch", region_name=settings.region, config=CLIENT_CONFIG)
    ids: dict[OriginKey, str] = {}
    for c in world.checks:
        for o in backstop.backstop_origins(config):
            if backstop.health_check_follows(c["HealthCheckConfig"], settings, o.key):
                ids.setdefault(o.key, c["Id"])
    failed = 0
    for s in steps:
        try:
            if s.kind in ("create_alarm", "update_alarm"):
                cloudwatch.put_metric_alarm(**backstop.alarm(settings, s.key))
            elif s.kind == "create_health_check":
                made = route53.create_health_check(
                    CallerReference=backstop.caller_reference(settings, s.key),
                    HealthCheckConfig=backstop.health_check(settings, s.key),
                )
                ids[s.key] = made["HealthCheck"]["Id"]
            elif s.kind == "attach" and s.key in ids:
                _attach(config, store, world.sets, s.key, ids[s.key])
            elif s.kind == "attach":
                failed += 1
                print(f"  FAILED {s.key}: attach: no health check to attach (see above)")
                continue
            else:
                failed += 1
                continue
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            failed += 1
            print(f"  FAILED {s.key}: {s.kind}: {e}")
            continue
        except Route53Error as e:
            failed += 1
            print(f"  FAILED {s.key}: {s.kind}: {e} (run plan again)")
            continue
        print(f"  done {s.key}: {s.kind.replace('_', ' ')}")
    return EXIT_FAIL if failed else EXIT_OK


def _attach(
    config: Config,
    store: Route53Store,
    sets: Mapping[str, Mapping[str, WeightedSet]],
    key: OriginKey,
    check_id: str,
) -> None:
    """Compare-and-swap one set to carry the health check: refused if it changed since read."""
    pool = config.pool(key.pool)
    held = sets[key.pool][key.origin]
    extra = tuple(sorted((*held.extra, ("HealthCheckId", json.dumps(check_id)))))
    new = dataclasses.replace(held, extra=extra)
    store.change(
        pool.zone_id,
        [Change(pool.name, held, new, Reason.BACKSTOP)],
        f"failover backstop: {key} gets health check {check_id}",
    )
