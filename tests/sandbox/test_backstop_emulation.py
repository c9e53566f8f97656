"""The sandbox's emulation of what moto lacks: alarm evaluation, health checks on alarms, DNS by their status."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import dns.message
import dns.query
import dns.rdatatype
import pytest
from moto import mock_aws

from failover.core import backstop
from failover.model import BackstopSettings, Health, OriginKey, State
from failover.sandbox import healthchecks
from failover.sandbox.cloudwatch import Evaluator, alarm_state, check_status
from failover.sandbox.dns import DnsResponder, StaticZone, WeightedAnswer
from failover.stages.backstop import BackstopCollector, Publisher
from tests.test_backstop_core import backstop_config

SETTINGS = BackstopSettings(region="us-west-2", period_seconds=10)
KEY = OriginKey("www", "eu-west-1")


# ---- the alarm's state, as CloudWatch decides it -------------------------------------------


def state(values: list[float | None], treat: str = "missing", current: str = "OK") -> str:
    return alarm_state(
        values,
        threshold=0.5,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing=treat,
        current=current,
    )


@pytest.mark.parametrize(
    ("values", "treat", "want"),
    [
        ([None, None, None], "missing", "INSUFFICIENT_DATA"),  # a dead daemon: no data at all
        ([0.0, None, 1.0], "missing", "ALARM"),
        ([1.0, 0.0, None], "missing", "OK"),  # a missing period skipped: the last one counts
        ([1.0, None, None], "missing", "ALARM"),
        ([None, None, None], "notBreaching", "OK"),
        ([None, None, None], "breaching", "ALARM"),
        ([None, None, None], "ignore", "OK"),  # ignore: the current state is kept
        ([0.0, 0.0, 0.6], "missing", "ALARM"),  # the average of replicas past the quorum
        ([0.0, 0.0, 0.4], "missing", "OK"),
    ],
)
def test_an_alarm_evaluates_its_range_as_cloudwatch_does(
    values: list[float | None], treat: str, want: str
) -> None:
    assert state(values, treat) == want


@pytest.mark.parametrize(
    ("alarm", "insufficient", "last", "healthy"),
    [
        ("ALARM", "Healthy", True, False),
        ("OK", "Unhealthy", False, True),
        ("INSUFFICIENT_DATA", "Healthy", False, True),
        ("INSUFFICIENT_DATA", "Unhealthy", True, False),
        ("INSUFFICIENT_DATA", "LastKnownStatus", False, False),
        ("INSUFFICIENT_DATA", "LastKnownStatus", True, True),
    ],
)
def test_a_health_check_follows_its_alarm_and_its_insufficient_data_status(
    alarm: str, insufficient: str, last: bool, healthy: bool
) -> None:
    assert check_status(alarm, insufficient, last) is healthy


# ---- moto, made to keep a CLOUDWATCH_METRIC health check's alarm ------------------------


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    healthchecks.install()
    with mock_aws():
        yield (
            boto3.client("cloudwatch", region_name=SETTINGS.region),
            boto3.client("route53", region_name="us-east-1"),
        )


def test_a_health_check_keeps_its_alarm_and_a_repeated_reference_makes_no_second(
    aws: tuple[Any, Any],
) -> None:
    _, route53 = aws
    args = {
        "CallerReference": backstop.caller_reference(SETTINGS, KEY),
        "HealthCheckConfig": backstop.health_check(SETTINGS, KEY),
    }
    first = route53.create_health_check(**args)["HealthCheck"]
    again = route53.create_health_check(**args)["HealthCheck"]
    assert again["Id"] == first["Id"]
    listed = route53.list_health_checks()["HealthChecks"]
    assert len(listed) == 1
    assert backstop.health_check_follows(listed[0]["HealthCheckConfig"], SETTINGS, KEY)
    assert listed[0]["HealthCheckConfig"]["InsufficientDataHealthStatus"] == "Healthy"


def test_the_evaluator_turns_a_published_down_verdict_into_an_unhealthy_check(
    aws: tuple[Any, Any],
) -> None:
    """Injected time: the datapoints and the evaluation instants are chosen, nothing sleeps."""
    cloudwatch, route53 = aws
    cloudwatch.put_metric_alarm(**backstop.alarm(SETTINGS, KEY))
    check = route53.create_health_check(
        CallerReference="r1", HealthCheckConfig=backstop.health_check(SETTINGS, KEY)
    )["HealthCheck"]["Id"]
    now = [float(int(time.time()) // 10 * 10 - 100)]
    evaluator = Evaluator(cloudwatch, route53, clock=lambda: now[0])

    def publish(value: float, at: float) -> None:
        batch = backstop.batches([backstop.Datum(KEY, value)], at)[0]
        cloudwatch.put_metric_data(Namespace=SETTINGS.namespace, MetricData=batch)

    evaluator.evaluate()
    assert evaluator.healthy(check)  # no data: INSUFFICIENT_DATA, read as Healthy
    publish(1.0, now[0] + 3)
    now[0] += 5  # the period is not complete: it does not count yet
    evaluator.evaluate()
    assert evaluator.healthy(check)
    now[0] += 10
    evaluator.evaluate()
    assert not evaluator.healthy(check)
    alarm = cloudwatch.describe_alarms(AlarmNames=[backstop.alarm_name(SETTINGS, KEY)])
    assert alarm["MetricAlarms"][0]["StateValue"] == "ALARM"
    now[0] += 60  # the daemon died: every period of the range is missing
    evaluator.evaluate()
    assert evaluator.healthy(check)  # fail static: the set counts by its weight again


# ---- the publisher --------------------------------------------------------------------


class Recording:
    def __init__(self, real: Any) -> None:
        self.real, self.puts = real, 0

    def put_metric_data(self, **kw: Any) -> Any:
        self.puts += 1
        return self.real.put_metric_data(**kw)

    def describe_alarms(self, **kw: Any) -> Any:
        return self.real.describe_alarms(**kw)


def test_the_publisher_sends_each_verdict_and_nothing_while_blind(aws: tuple[Any, Any]) -> None:
    cloudwatch, _ = aws
    cfg = backstop_config()
    client = Recording(cloudwatch)
    pub = Publisher(client, cfg.backstop.region)
    health = {o.key: Health(state=State.DOWN) for o in cfg.all_origins()}
    got = pub.publish(cfg, health, blind=True, wall=time.time())
    assert (got.datapoints, client.puts) == (0, 0)
    got = pub.publish(cfg, health, blind=False, wall=time.time())
    assert (got.datapoints, got.requests, got.error) == (3, 1, "")
    listed = cloudwatch.list_metrics(Namespace=cfg.backstop.namespace)["Metrics"]
    assert {tuple(sorted(d["Name"] for d in m["Dimensions"])) for m in listed} == {
        ("Origin", "Pool")
    }


def test_the_metrics_show_a_disarmed_set_and_each_alarm_state(aws: tuple[Any, Any]) -> None:
    from failover.aws.route53 import Record
    from tests.factories import wset

    cloudwatch, _ = aws
    cfg = backstop_config()
    pool = cfg.pools[0]
    eu, us, ap = (o.id for o in pool.origins)
    armed = wset(pool, eu, 100)
    armed = type(armed)(**{**armed.__dict__, "extra": (("HealthCheckId", '"hc-1"'),)})
    record = Record({eu: armed, us: wset(pool, us, 100)})  # ap: no set at all
    made = backstop.alarm(cfg.backstop, pool.origins[0].key)
    cloudwatch.put_metric_alarm(**made)
    cloudwatch.set_alarm_state(  # as the evaluator leaves an alarm with no data
        AlarmName=made["AlarmName"], StateValue="INSUFFICIENT_DATA", StateReason="no data"
    )
    pub = Publisher(cloudwatch, cfg.backstop.region)
    pub.publish(cfg, {}, blind=False, wall=time.time())
    collector = BackstopCollector(lambda: cfg, lambda: {"www": record}, lambda: pub)
    samples = {
        (m.name, tuple(sorted(s.labels.items()))): s.value
        for m in collector.collect()
        for s in m.samples
    }
    assert samples[("failover_backstop_armed", (("origin", eu), ("pool", "www")))] == 1
    assert samples[("failover_backstop_armed", (("origin", us), ("pool", "www")))] == 0
    assert samples[("failover_backstop_armed", (("origin", ap), ("pool", "www")))] == 0
    insufficient = (("origin", eu), ("pool", "www"), ("state", "INSUFFICIENT_DATA"))
    assert samples[("failover_backstop_alarm_state", insufficient)] == 1


# ---- DNS, over real packets -------------------------------------------------------------


def answers(port: int, n: int = 60) -> Counter[str]:
    out: Counter[str] = Counter()
    for _ in range(n):
        q = dns.message.make_query("origin.example.com", dns.rdatatype.TXT)
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
        out[b"".join(r.answer[0][0].strings).decode()] += 1
    return out


@pytest.mark.parametrize(
    ("health", "served"),
    [
        ((None, False, True), {"a"}),  # no check: healthy; the unhealthy set is left out
        ((False, False, False), {"a", "b"}),  # none healthy: all by weight, weight 0 gets none
        ((False, False, True), {"c"}),  # weight 0 answers once every weighted set is unhealthy
    ],
)
def test_the_sandboxs_dns_answers_by_route53s_health_check_rules(
    health: tuple[bool | None, ...], served: set[str]
) -> None:
    weights = (100, 100, 0)
    zone = StaticZone(
        {
            "origin.example.com": [
                WeightedAnswer.of(w, 1, v, health=h)
                for w, v, h in zip(weights, "abc", health, strict=True)
            ]
        }
    )
    with DnsResponder(zone) as server:
        assert set(answers(server.port)) == served
