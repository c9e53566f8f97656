"""The backstop's pure rules: config, what is published, the alarm/health-check pair, the plan, Route 53's choice."""

from __future__ import annotations

import dataclasses
from typing import Any

import botocore.session
import pytest

from failover import config
from failover.core import backstop, policy
from failover.errors import ConfigError
from failover.model import BackstopSettings, Config, Health, OriginKey, Pool, State
from tests.factories import make_config, make_pool
from tests.test_config import base, set_at, toml_text

SETTINGS = BackstopSettings(region="us-west-2")


def backstop_config(**settings: Any) -> Config:
    pool = dataclasses.replace(make_pool(), backstop=True)
    return dataclasses.replace(
        make_config(pool), backstop=dataclasses.replace(SETTINGS, **settings)
    )


# ---- config ---------------------------------------------------------------------------


def test_the_region_list_is_route53s_cloudwatch_regions() -> None:
    model = botocore.session.get_session().get_service_model("route53")
    shape: Any = model.shape_for("CloudWatchRegion")
    assert set(shape.enum) == backstop.CLOUDWATCH_REGIONS


def test_a_backstop_pool_needs_a_metrics_region() -> None:
    doc = set_at(base(), "pools.0.backstop", True)
    with pytest.raises(ConfigError) as e:
        config.parse(toml_text(doc))
    assert any(p.startswith("backstop.region: missing") for p in e.value.problems)


@pytest.mark.parametrize(
    ("region", "why"),
    [
        ("us-east-1", "control plane"),
        ("eu-west-9", "not"),  # shaped like a Region, but no such Region for health checks
    ],
)
def test_the_metrics_region_is_refused_in_us_east_1_and_outside_route53s_list(
    region: str, why: str
) -> None:
    doc = set_at(set_at(base(), "pools.0.backstop", True), "backstop.region", region)
    with pytest.raises(ConfigError) as e:
        config.parse(toml_text(doc))
    problems = [p for p in e.value.problems if p.startswith("backstop.region")]
    assert problems, e.value.problems
    assert why in problems[0]


def test_a_backstop_that_is_not_a_table_is_a_clear_error() -> None:
    doc = set_at(set_at(base(), "pools.0.backstop", True), "backstop", 5)
    with pytest.raises(ConfigError) as e:
        config.parse(toml_text(doc))
    assert "backstop: expected a table, got integer" in e.value.problems


def test_a_valid_backstop_config_reads_every_key() -> None:
    doc = set_at(base(), "pools.0.backstop", True)
    doc = set_at(
        doc,
        "backstop",
        {
            "region": "eu-central-1",
            "namespace": "Edge",
            "period_seconds": 120,
            "evaluation_periods": 2,
            "quorum_fraction": 0.34,
        },
    )
    c = config.parse(toml_text(doc))
    assert c.pools[0].backstop
    assert c.backstop == BackstopSettings("eu-central-1", "Edge", 120, 2, 0.34)
    assert config.warnings(c) == []


def test_a_period_shorter_than_a_minute_is_valid_but_warned_about() -> None:
    doc = set_at(base(), "pools.0.backstop", True)
    doc = set_at(doc, "backstop", {"region": "eu-west-2", "period_seconds": 5})
    warned = config.warnings(config.parse(toml_text(doc)))
    assert any("backstop.period_seconds" in w and "multiple of 60" in w for w in warned)


# ---- publishing -----------------------------------------------------------------------


def test_each_origin_with_a_verdict_publishes_one_datum_and_unknown_ones_nothing() -> None:
    cfg = backstop_config()
    eu, us, ap = (o.key for o in cfg.pools[0].origins)
    health = {eu: Health(state=State.DOWN), us: Health(state=State.UP)}
    got = backstop.datapoints(cfg, health, blind=False)
    assert got == [backstop.Datum(eu, 1.0), backstop.Datum(us, 0.0)]
    assert ap not in {d.key for d in got}


def test_a_blind_daemon_publishes_nothing() -> None:
    cfg = backstop_config()
    health = {o.key: Health(state=State.DOWN) for o in cfg.all_origins()}
    assert backstop.datapoints(cfg, health, blind=True) == []


def test_pools_without_the_backstop_publish_nothing() -> None:
    cfg = make_config(make_pool())
    health = {o.key: Health(state=State.DOWN) for o in cfg.all_origins()}
    assert backstop.datapoints(cfg, health, blind=False) == []


def test_batches_stay_within_putmetricdatas_thousand_metrics() -> None:
    data = [backstop.Datum(OriginKey("p", f"o{i}"), 0.0) for i in range(2500)]
    got = backstop.batches(data, 0.0)
    assert [len(b) for b in got] == [1000, 1000, 500]
    first = got[0][0]
    assert first["StorageResolution"] == 60
    assert [d["Name"] for d in first["Dimensions"]] == ["Pool", "Origin"]  # no replica


# ---- the alarm and the health check -----------------------------------------------------


def test_no_data_keeps_the_last_written_weights() -> None:
    """Missing data: the alarm goes INSUFFICIENT_DATA, which the health check reads as Healthy."""
    key = OriginKey("www", "eu-west-1")
    a = backstop.alarm(backstop_config(quorum_fraction=0.5).backstop, key)
    assert (a["TreatMissingData"], a["Statistic"], a["Threshold"]) == ("missing", "Average", 0.5)
    hc = backstop.health_check(SETTINGS, key)
    assert hc["InsufficientDataHealthStatus"] == "Healthy"
    assert hc["AlarmIdentifier"] == {"Region": "us-west-2", "Name": a["AlarmName"]}
    assert backstop.health_check_follows(hc, SETTINGS, key)
    assert len(backstop.caller_reference(SETTINGS, key)) <= 64


def test_the_plan_creates_what_is_missing_and_attaches_it() -> None:
    cfg = backstop_config()
    held = {"www": dict.fromkeys((o.id for o in cfg.all_origins()), None)}
    steps = backstop.plan(cfg, {}, [], held)
    kinds = [(s.key.origin, s.kind) for s in steps]
    assert kinds == [
        (o.id, k)
        for o in cfg.all_origins()
        for k in ("create_alarm", "create_health_check", "attach")
    ]


def test_the_plan_is_empty_once_everything_is_in_place() -> None:
    cfg = backstop_config()
    s = cfg.backstop
    alarms = {backstop.alarm_name(s, o.key): backstop.alarm(s, o.key) for o in cfg.all_origins()}
    checks = [
        {"Id": f"hc-{o.id}", "HealthCheckConfig": backstop.health_check(s, o.key)}
        for o in cfg.all_origins()
    ]
    held = {"www": {o.id: f"hc-{o.id}" for o in cfg.all_origins()}}
    assert backstop.plan(cfg, alarms, checks, held) == []
    changed = dict(alarms)
    name = backstop.alarm_name(s, cfg.all_origins()[0].key)
    changed[name] = dict(changed[name], TreatMissingData="breaching")
    steps = backstop.plan(cfg, changed, checks, held)
    assert [(st.kind, "TreatMissingData" in st.detail) for st in steps] == [("update_alarm", True)]


def test_the_plan_never_replaces_a_health_check_it_did_not_make() -> None:
    cfg = backstop_config()
    held = {"www": {o.id: "hc-someone-elses" for o in cfg.all_origins()}}
    steps = backstop.plan(cfg, {}, [], held)
    assert {s.kind for s in steps if "another health check" in s.detail} == {"blocked"}
    assert not [s for s in steps if s.kind == "attach"]


# ---- Route 53's answer: each row of AWS's table ------------------------------------------
# "Weighted routing" > "Health checks and weighted routing", records with weights 1, 1, 0
# and a health check on each: health-check status of each -> which records answer.
H, U, NONE = True, False, None
Row = tuple[tuple[bool | None, ...], tuple[bool, ...]]
AWS_TABLE: list[Row] = [
    ((U, U, H), (False, False, True)),
    ((U, U, U), (True, True, False)),
    ((U, H, U), (False, True, False)),
    ((H, H, U), (True, True, False)),
    ((H, H, H), (True, True, False)),
]
# The same table for a weight-0 record without a health check (always healthy). Derived
# from the stated rules (rows not read from AWS's page: unconfirmed row for row).
AWS_TABLE_NO_CHECK_ON_ZERO: list[Row] = [
    ((U, U, NONE), (False, False, True)),
    ((U, H, NONE), (False, True, False)),
    ((H, H, NONE), (True, True, False)),
]


@pytest.mark.parametrize(("status", "answered"), AWS_TABLE + AWS_TABLE_NO_CHECK_ON_ZERO)
def test_route53_answers_with_the_records_awss_table_names(
    status: tuple[bool | None, ...], answered: tuple[bool, ...]
) -> None:
    chosen, _ = backstop.candidates(list(zip((1, 1, 0), status, strict=True)))
    assert tuple(i in chosen for i in range(3)) == answered


def test_a_set_without_a_health_check_is_always_healthy() -> None:
    assert backstop.candidates([(100, False), (100, None)]) == ([1], False)


def test_with_every_weight_zero_healthy_sets_share_evenly() -> None:
    assert backstop.candidates([(0, True), (0, False), (0, True)]) == ([0, 2], True)


# ---- the standby rule and Route 53's zero-weight rule agree ------------------------------


def standby_pool(standbys: int = 1) -> Pool:
    ids = ("primary", *(f"standby{i}" for i in range(1, standbys + 1)))
    p = make_pool(regions=ids)
    return dataclasses.replace(
        p,
        origins=tuple(dataclasses.replace(o, standby=o.id != "primary") for o in p.origins),
        backstop=True,
    )


@pytest.mark.parametrize("primary", [State.UP, State.DOWN])
@pytest.mark.parametrize("standby", [State.UP, State.DOWN])
def test_a_primary_and_its_standby_get_the_same_answer_from_the_daemon_and_from_route53(
    primary: State, standby: State
) -> None:
    """Weights frozen at idle (API down), health checks acting: Route 53 serves what the daemon would."""
    pool = standby_pool()
    idle = {"primary": 100, "standby1": 0}
    health = {"primary": Health(state=primary), "standby1": Health(state=standby)}
    d = policy.decide(pool, health, idle, {}, frozen=False, now=1000.0)
    daemon = {x.key.origin for x in d.decisions if x.weight}
    sets = [(idle[o.id], health[o.id].state is State.UP) for o in pool.origins]
    chosen, _ = backstop.candidates(sets)
    assert {pool.origins[i].id for i in chosen} == daemon


def test_with_two_idle_standbys_route53_spreads_over_both_where_the_daemon_takes_the_first() -> (
    None
):
    """A known difference (README "Backstop"): Route 53 has no order among weight-0 sets."""
    pool = standby_pool(2)
    health = {"primary": Health(state=State.DOWN)} | {
        f"standby{i}": Health(state=State.UP) for i in (1, 2)
    }
    idle = {"primary": 100, "standby1": 0, "standby2": 0}
    d = policy.decide(pool, health, idle, {}, frozen=False, now=1000.0)
    assert {x.key.origin for x in d.decisions if x.weight} == {"standby1"}
    chosen, evenly = backstop.candidates([(idle[o.id], o.id != "primary") for o in pool.origins])
    assert ({pool.origins[i].id for i in chosen}, evenly) == ({"standby1", "standby2"}, True)
