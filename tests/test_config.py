"""Configuration: every rule, where problems are reported, loading, and fuzzed documents."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from failover import config
from failover import config_schema as schema
from failover.errors import ConfigError
from failover.model import (
    BackstopSettings,
    Config,
    DaemonSettings,
    HealthSettings,
    KvsSettings,
    Origin,
    Pool,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


# ---- building documents -------------------------------------------------------------------


def toml_value(v: object) -> str:
    """One value as TOML text (inline tables and arrays, so any nesting fits on one line)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if abs(v) < 10**4000 else hex(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, datetime.date | datetime.time):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)} = {toml_value(x)}" for k, x in v.items())
        return "{" + ", ".join(items) + "}"
    raise TypeError(v)


def toml_text(doc: dict[str, Any]) -> str:
    return "\n".join(
        f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}" for k, v in doc.items()
    )


def base() -> dict[str, Any]:
    """A small valid document: one pool of two origins."""
    return {
        "pools": [
            {
                "name": "www",
                "record": "origin.example.com",
                "zone_id": "Z0123456789ABC",
                "origins": [
                    {"id": "eu", "bucket": "example-www-eu-west-1", "region": "eu-west-1"},
                    {"id": "us", "bucket": "example-www-us-east-1", "region": "us-east-1"},
                ],
            }
        ]
    }


def set_at(doc: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """A copy of doc with `a.b.0.c` set to value (DELETE removes it).

    Missing tables are made on the way, a scalar in the way becomes a table, and an index past
    the end of an array appends to it.
    """
    result = _set(doc, path.split("."), value)
    assert isinstance(result, dict)
    return result


def _set(node: object, parts: list[str], value: object) -> object:
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        items = copy.deepcopy(node)
        i = int(head) if head.isdigit() and int(head) < len(items) else len(items)
        if i == len(items):
            items.append({})
        if not rest and value is DELETE:
            del items[i]
        else:
            items[i] = _set(items[i], rest, value) if rest else value
        return items
    table = copy.deepcopy(node) if isinstance(node, dict) else {}
    if not rest and value is DELETE:
        table.pop(head, None)
    else:
        table[head] = _set(table.get(head, {}), rest, value) if rest else value
    return table


DELETE = object()


def problems_of(doc: dict[str, Any] | str) -> list[str]:
    """The problems parse() reports for a document (empty when it is valid)."""
    try:
        config.parse(doc if isinstance(doc, str) else toml_text(doc))
    except ConfigError as e:
        return e.problems
    return []


def with_(path: str, value: object, doc: dict[str, Any] | None = None) -> list[str]:
    return problems_of(set_at(base() if doc is None else doc, path, value))


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


# ---- the example and the schema ------------------------------------------------------------


def test_the_example_config_parses_into_one_pool_of_three_origins() -> None:
    c = config.parse(EXAMPLE.read_text("utf-8"), str(EXAMPLE))
    assert [p.name for p in c.pools] == ["www"]
    pool = c.pool("www")
    assert (pool.record, pool.zone_id, pool.canary_source) == (
        "origin.example.com",
        "Z0123456789ABC",
        "eu-west-1",
    )
    assert [o.region for o in pool.origins] == ["eu-west-1", "us-east-1", "ap-southeast-2"]
    assert pool.origin("ap-southeast-2").health.timeout == 1.5
    assert pool.origin("eu-west-1").endpoint == "example-www-eu-west-1.s3.eu-west-1.amazonaws.com"


def test_the_example_documents_every_field_of_every_model_class() -> None:
    """A new model field fails this test until config.example.toml shows it."""
    doc = tomllib.loads(EXAMPLE.read_text("utf-8"))
    pool = doc["pools"][0]
    origin_keys = {k for o in pool["origins"] for k in o}
    sections: dict[type, set[str]] = {
        Config: set(doc),
        DaemonSettings: set(doc["daemon"]),
        HealthSettings: set(doc["health"]),
        Pool: set(pool),
        Origin: origin_keys,
        KvsSettings: set(doc["kvs"]),
        BackstopSettings: set(doc["backstop"]),
    }
    for cls, fields in schema.documented_fields().items():
        missing = set(fields) - sections[cls]
        assert not missing, f"{cls.__name__} fields not in config.example.toml: {missing}"
    assert {"health"} <= set(pool), "[pools.health] is not shown"
    assert any("health" in o for o in pool["origins"]), "[pools.origins.health] is not shown"


def test_the_example_shows_the_defaults_as_its_values() -> None:
    c = config.parse(EXAMPLE.read_text("utf-8"))
    assert c.daemon == DaemonSettings()
    assert c.health == HealthSettings()
    pool = c.pools[0]
    assert pool.ttl == schema.DEFAULT_TTL
    assert {(o.weight, o.canary) for o in pool.origins} == {
        (schema.DEFAULT_WEIGHT, schema.DEFAULT_CANARY)
    }


def test_the_schema_names_exactly_the_model_fields() -> None:
    fields = schema.documented_fields()
    assert set(schema.DAEMON) == set(fields[DaemonSettings])
    assert set(schema.HEALTH) == set(fields[HealthSettings])
    assert set(schema.POOL) | set(schema.POOL_TABLES) == set(fields[Pool]) | {"health"}
    assert set(schema.ORIGIN) | set(schema.ORIGIN_TABLES) == set(fields[Origin])
    assert set(schema.TOP_KEYS) == set(fields[Config])
    assert set(schema.BACKSTOP) == set(fields[BackstopSettings])


def test_omitted_keys_take_the_documented_defaults() -> None:
    c = config.parse(toml_text(base()))
    assert c.daemon == DaemonSettings()
    assert c.health == HealthSettings()
    pool = c.pools[0]
    assert (pool.ttl, pool.canary_source) == (60, "")
    origin = pool.origins[0]
    assert (origin.pool, origin.weight, origin.canary) == ("www", 100, "_failover/canary.json")
    assert origin.health == HealthSettings()


def test_health_settings_merge_global_then_pool_then_origin() -> None:
    doc = set_at(base(), "health", {"fall": 5, "rise": 4, "hold_down": 10})
    doc = set_at(doc, "pools.0.health", {"rise": 6, "expect": "ok"})
    doc = set_at(doc, "pools.0.origins.1.health", {"expect": "fine", "timeout": 0.5})
    c = config.parse(toml_text(doc))
    eu, us = c.pools[0].origins
    assert c.health == HealthSettings(fall=5, rise=4, hold_down=10.0)
    assert eu.health == HealthSettings(fall=5, rise=6, hold_down=10.0, expect="ok")
    assert us.health == HealthSettings(fall=5, rise=6, hold_down=10.0, expect="fine", timeout=0.5)


def test_integers_are_accepted_where_numbers_are_and_become_floats() -> None:
    c = config.parse(toml_text(set_at(base(), "daemon", {"interval": 3, "resync": 30})))
    assert c.daemon.interval == 3.0
    assert isinstance(c.daemon.interval, float)


def test_record_is_lowercased_and_loses_its_trailing_dot_and_zone_its_prefix() -> None:
    doc = set_at(base(), "pools.0.record", "Origin.Example.COM.")
    doc = set_at(doc, "pools.0.zone_id", "/hostedzone/Z0123456789ABC")
    pool = config.parse(toml_text(doc)).pools[0]
    assert (pool.record, pool.zone_id) == ("origin.example.com", "Z0123456789ABC")


def test_the_config_is_immutable() -> None:
    c = config.parse(toml_text(base()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.pools[0].origins[0].weight = 5  # type: ignore[misc]


# ---- unknown keys, types, required keys ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("daemon.intervall", 'daemon.intervall: unknown key (did you mean "interval"?)'),
        ("health.fal", 'health.fal: unknown key (did you mean "fall"?)'),
        ("pools.0.nmae", 'pools[0].nmae: unknown key (did you mean "name"?)'),
        ("pools.0.health.rsie", 'pools[0].health.rsie: unknown key (did you mean "rise"?)'),
        (
            "pools.0.origins.1.weigth",
            'pools[0].origins[1].weigth: unknown key (did you mean "weight"?)',
        ),
        (
            "pools.0.origins.0.health.timeot",
            'pools[0].origins[0].health.timeot: unknown key (did you mean "timeout"?)',
        ),
        ("deamon", 'deamon: unknown key (did you mean "daemon"?)'),
        ("daemon.zzz", "daemon.zzz: unknown key"),
        ("daemon.two words", 'daemon."two words": unknown key'),
    ],
)
def test_unknown_keys_are_reported_with_a_suggestion(path: str, expected: str) -> None:
    assert only(with_(path, 1)) == expected


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("daemon.interval", "2", 'daemon.interval: expected a number, got string "2"'),
        ("daemon.interval", True, "daemon.interval: expected a number, got boolean true"),
        ("daemon.dry_run", "yes", 'daemon.dry_run: expected true or false, got string "yes"'),
        ("daemon.dry_run", 1, "daemon.dry_run: expected true or false, got integer 1"),
        ("health.fall", 2.0, "health.fall: expected an integer, got float 2.0"),
        ("health.fall", True, "health.fall: expected an integer, got boolean true"),
        ("health.expect", 5, "health.expect: expected a string, got integer 5"),
        ("pools.0.ttl", "60", 'pools[0].ttl: expected an integer, got string "60"'),
        (
            "pools.0.origins.0.weight",
            1.5,
            "pools[0].origins[0].weight: expected an integer, got float 1.5",
        ),
        (
            "pools.0.origins.0.bucket",
            ["a"],
            "pools[0].origins[0].bucket: expected a string, got array array",
        ),
        (
            "daemon.listen",
            datetime.date(2024, 1, 2),
            "daemon.listen: expected a string, got date date",
        ),
        ("daemon", 5, "daemon: expected a table, got integer"),
        ("pools.0.health", "fast", "pools[0].health: expected a table, got string"),
        ("pools.0.origins.0", "eu", "pools[0].origins[0]: expected a table, got string"),
        (
            "pools.0.origins",
            {"id": "x"},
            "pools[0].origins: expected an array of tables ([[origins]]), got a table",
        ),
        ("pools", {"name": "www"}, "pools: expected an array of tables ([[pools]]), got a table"),
    ],
)
def test_values_of_the_wrong_type_are_reported(path: str, value: object, expected: str) -> None:
    assert expected in with_(path, value)


@pytest.mark.parametrize(
    "path",
    [
        "pools.0.name",
        "pools.0.record",
        "pools.0.zone_id",
        "pools.0.origins",
        "pools.0.origins.0.id",
        "pools.0.origins.0.bucket",
        "pools.0.origins.0.region",
        "pools",
    ],
)
def test_missing_required_keys_are_reported(path: str) -> None:
    where = path.replace(".0", "[0]")
    assert any(p.startswith(f"{where}: missing (required)") for p in with_(path, DELETE))


def test_empty_pools_and_empty_origins_are_reported() -> None:
    assert only(with_("pools", [])) == "pools: at least one pool is required"
    assert only(with_("pools.0.origins", [])) == "pools[0].origins: at least one origin is required"


# ---- buckets, regions, origins --------------------------------------------------------------


@pytest.mark.parametrize(
    ("bucket", "reason"),
    [
        ("ab", "3 to 63 characters"),
        ("a" * 64, "3 to 63 characters"),
        ("My_Bucket", "only lowercase letters"),
        ("my_bucket", "only lowercase letters"),
        ("-bucket", "start and end with a letter or digit"),
        ("bucket-", "start and end with a letter or digit"),
        ("my..bucket", 'must not contain ".."'),
        ("192.168.5.4", "IP address"),
        ("xn--bucket", "prefix xn--"),
        ("sthree-bucket", "prefix sthree-"),
        ("sthree-configurator-x", "prefix sthree-"),
        ("amzn-s3-demo-bucket", "prefix amzn-s3-demo-"),
        ("bucket-s3alias", "suffix -s3alias"),
        ("bucket--ol-s3", "suffix --ol-s3"),
        ("bucket.mrap", "suffix .mrap"),
        ("bucket--x-s3", "suffix --x-s3"),
        ("bucket--table-s3", "suffix --table-s3"),
        ("www.example.com", "dots break TLS"),
    ],
)
def test_invalid_bucket_names_are_reported_with_the_reason(bucket: str, reason: str) -> None:
    problem = only(with_("pools.0.origins.1.bucket", bucket))
    assert problem.startswith(f"pools[0].origins[1].bucket: {json.dumps(bucket)} is not a valid S3")
    assert reason in problem


@pytest.mark.parametrize("bucket", ["abc", "a" * 63, "example-www-eu-west-1", "0bucket9"])
def test_valid_bucket_names_pass(bucket: str) -> None:
    assert with_("pools.0.origins.0.bucket", bucket) == []


@pytest.mark.parametrize(
    "region",
    [
        "eu-west-1",
        "ap-southeast-4",
        "il-central-1",
        "mx-central-1",
        "ca-west-1",
        "ap-east-2",
    ],
)
def test_real_region_names_pass(region: str) -> None:
    """As names; whether the Lambda@Edge router reaches them is checked below."""
    no_edge = set_at(base(), "pools.0.router", "none")
    assert with_("pools.0.origins.0.region", region, no_edge) == []


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
        ("eusc-de-east-1", "aws-eusc"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
    ],
)
def test_regions_outside_the_aws_partition_are_reported_naming_the_partition(
    region: str, partition: str
) -> None:
    """The edge router (CloudFront, aws partition) could never route to these buckets."""
    problem = only(with_("pools.0.origins.0.region", region))
    assert problem.startswith(f'pools[0].origins[0].region: "{region}" is not a usable AWS Region')
    assert f"a Region of the {partition} partition" in problem


@pytest.mark.parametrize(
    "region", ["eu-west", "EU-WEST-1", "euwest1", "eu-west-1a", "", "e-west-1"]
)
def test_malformed_region_names_are_reported(region: str) -> None:
    assert only(with_("pools.0.origins.0.region", region)).startswith(
        "pools[0].origins[0].region: "
    )


@pytest.mark.parametrize(("weight", "ok"), [(0, True), (255, True), (256, False), (-1, False)])
def test_weights_must_be_0_to_255(weight: int, ok: bool) -> None:
    problems = with_("pools.0.origins.0.weight", weight)
    assert problems == [] if ok else only(problems).startswith("pools[0].origins[0].weight: ")


def test_a_pool_needs_an_origin_with_a_positive_weight() -> None:
    doc = set_at(base(), "pools.0.origins.0.weight", 0)
    assert with_("pools.0.origins.1.weight", 1, doc) == []
    assert only(with_("pools.0.origins.1.weight", 0, doc)) == (
        "pools[0].origins: at least one origin needs a positive weight"
    )


def test_duplicate_origin_ids_within_a_pool_are_reported() -> None:
    assert only(with_("pools.0.origins.1.id", "eu")) == (
        'pools[0].origins[1].id: "eu" is also origins[0]\'s id'
    )


def test_origin_ids_are_1_to_128_characters() -> None:
    assert with_("pools.0.origins.0.id", "x" * 128) == []
    assert "SetIdentifier" in only(with_("pools.0.origins.0.id", "x" * 129))
    assert only(with_("pools.0.origins.0.id", "")).startswith("pools[0].origins[0].id: ")
    assert only(with_("pools.0.origins.0.id", "a\tb")).startswith("pools[0].origins[0].id: ")


def test_a_pool_has_at_most_100_origins() -> None:
    origins = [{"id": f"o{i}", "bucket": f"bucket-{i}", "region": "eu-west-1"} for i in range(101)]
    assert with_("pools.0.origins", origins[:100]) == []
    assert "at most 100" in only(with_("pools.0.origins", origins))


@pytest.mark.parametrize(("canary", "ok"), [("canary.json", True), ("", False), ("/canary", False)])
def test_canary_keys_are_non_empty_without_a_leading_slash(canary: str, ok: bool) -> None:
    assert (with_("pools.0.origins.0.canary", canary) == []) is ok


def test_canary_source_must_name_an_origin_of_the_pool() -> None:
    assert with_("pools.0.canary_source", "us") == []
    assert only(with_("pools.0.canary_source", "ap")) == (
        'pools[0].canary_source: "ap" is not an origin id of this pool'
    )


# ---- pools, records, zones, TTL -------------------------------------------------------------


def two_pools(**second: object) -> dict[str, Any]:
    doc = base()
    other = copy.deepcopy(doc["pools"][0]) | {"name": "static", "record": "static.example.com"}
    doc["pools"].append(other | second)
    return doc


def test_pool_names_must_be_unique() -> None:
    assert problems_of(two_pools()) == []
    assert (
        only(problems_of(two_pools(name="www"))) == 'pools[1].name: "www" is also pools[0]\'s name'
    )


def test_records_must_be_unique_across_pools_after_normalising() -> None:
    problem = only(problems_of(two_pools(record="Origin.Example.com.")))
    assert problem.startswith('pools[1].record: "origin.example.com" is also pools[0]\'s record')


@pytest.mark.parametrize(
    "record",
    [
        "localhost",
        "a..example.com",
        "-a.example.com",
        "a b.example.com",
        f"{'a' * 64}.example.com",
        ".".join(["abcdefghi"] * 26) + ".com",
    ],
)
def test_records_must_be_fully_qualified_dns_names(record: str) -> None:
    assert only(with_("pools.0.record", record)).startswith("pools[0].record: ")


def test_records_may_use_underscores_and_63_character_labels() -> None:
    assert with_("pools.0.record", f"_origin.{'a' * 63}.example.com") == []


@pytest.mark.parametrize("zone", ["", "z0123", "Z0123-456", "/hostedzone/", "Z" * 33])
def test_zone_ids_must_look_like_route53_ids(zone: str) -> None:
    assert only(with_("pools.0.zone_id", zone)).startswith("pools[0].zone_id: ")


@pytest.mark.parametrize(
    ("ttl", "ok"), [(0, True), (2147483647, True), (-1, False), (2147483648, False)]
)
def test_ttl_is_within_route53s_range(ttl: int, ok: bool) -> None:
    assert (with_("pools.0.ttl", ttl) == []) is ok


@pytest.mark.parametrize("name", ["", "a/b", "x" * 65, "-www"])
def test_pool_names_are_short_and_plain(name: str) -> None:
    assert only(with_("pools.0.name", name)).startswith("pools[0].name: ")


# ---- health thresholds ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("fall", 0),
        ("fall", 101),
        ("rise", 0),
        ("timeout", 0),
        ("timeout", -1.0),
        ("hold_down", -1),
        ("slow_start", -0.5),
        ("max_age", -1),
        ("expect", "é" * 2561),  # 2,561 characters, 5,122 bytes
    ],
)
def test_health_values_out_of_range_are_reported_where_written(key: str, value: object) -> None:
    for prefix, path in [
        ("health", f"health.{key}"),
        ("pools.0.health", f"pools[0].health.{key}"),
        ("pools.0.origins.1.health", f"pools[0].origins[1].health.{key}"),
    ]:
        assert only(with_(f"{prefix}.{key}", value)).startswith(f"{path}: ")


def test_limits_that_are_allowed() -> None:
    health = {"fall": 1, "rise": 100, "hold_down": 0, "slow_start": 0, "expect": "é" * 2560}
    assert with_("health", health) == []


def test_timeout_must_be_shorter_than_the_interval_and_is_blamed_where_written() -> None:
    doc = set_at(base(), "daemon.interval", 1.0)
    assert only(problems_of(doc)) == (
        "daemon.interval: 1 must be longer than the default health timeout (1)"
    )
    doc = set_at(doc, "health.timeout", 0.5)
    assert problems_of(doc) == []
    assert only(with_("pools.0.health.timeout", 1.0, doc)) == (
        "pools[0].health.timeout: 1 must be shorter than daemon.interval (1)"
    )
    assert only(with_("pools.0.origins.1.health.timeout", 2, doc)) == (
        "pools[0].origins[1].health.timeout: 2 must be shorter than daemon.interval (1)"
    )


def test_hold_down_max_below_hold_down_is_blamed_on_the_more_specific_key() -> None:
    doc = set_at(base(), "health.hold_down_max", 50)
    assert only(with_("pools.0.origins.0.health.hold_down", 60, doc)) == (
        "pools[0].origins[0].health.hold_down: hold_down_max (50) is shorter than hold_down (60)"
    )
    doc = set_at(base(), "pools.0.health.hold_down", 60)
    assert only(with_("pools.0.origins.0.health.hold_down_max", 50, doc)) == (
        "pools[0].origins[0].health.hold_down_max: "
        "hold_down_max (50) is shorter than hold_down (60)"
    )
    assert only(with_("health.hold_down_max", 10)) == (
        "health.hold_down_max: hold_down_max (10) is shorter than hold_down (30)"
    )


# ---- daemon ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "listen", ["", "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0", "localhost:65535"]
)
def test_valid_listen_addresses_pass(listen: str) -> None:
    assert with_("daemon.listen", listen) == []


@pytest.mark.parametrize(
    "listen", ["9464", "[::1", "[zz]:1", "host:65536", "host:", ":9464", "a b:1", "h:٣"]
)
def test_invalid_listen_addresses_are_reported(listen: str) -> None:
    assert only(with_("daemon.listen", listen)).startswith("daemon.listen: ")


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("log_format", "console", True),
        ("log_format", "text", False),
        ("log_level", "warning", True),
        ("log_level", "warn", False),
        ("interval", 0, False),
        ("resync", 0, False),
        ("route53_rate", 0, False),
        ("route53_rate", 50, True),
        ("route53_rate", 51, False),
        ("canary_write_interval", 0, True),
        ("canary_write_interval", -1, False),
        ("overrides", "file:///var/lib/failover/overrides.json", True),
        ("overrides", "s3://my-ops-bucket/failover/overrides.json", True),
        ("overrides", "file://relative/overrides.json", False),
        ("overrides", "file:overrides.json", False),
        ("overrides", "file:///var/lib/failover/", False),
        ("overrides", "s3://my-ops-bucket", False),
        ("overrides", "s3://My_Bucket/key", False),
        ("overrides", "https://example.com/overrides.json", False),
        ("overrides", "/var/lib/failover/overrides.json", False),
    ],
)
def test_daemon_settings_are_checked(key: str, value: object, ok: bool) -> None:
    problems = with_(f"daemon.{key}", value)
    assert problems == [] if ok else only(problems).startswith(f"daemon.{key}: ")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("daemon.interval", math.nan),
        ("daemon.resync", math.inf),
        ("health.hold_down", -math.inf),
        ("pools.0.origins.0.health.max_age", math.nan),
    ],
)
def test_nan_and_infinity_are_rejected(path: str, value: float) -> None:
    assert "finite" in only(with_(path, value))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("pools.0.ttl", 10**30),
        ("pools.0.origins.0.weight", 2**70),
        ("daemon.interval", 10**400),
        ("health.fall", 16**5000),  # written in hex: too long for decimal
    ],
    ids=["ttl", "weight", "interval", "fall"],
)
def test_huge_numbers_are_rejected_without_printing_their_digits(path: str, value: int) -> None:
    problem = only(with_(path, value))
    assert "a number too large to use" in problem
    assert len(problem) < 200


def test_an_integer_too_long_for_python_to_read_is_a_config_error() -> None:
    assert "too long" in only(problems_of("[daemon]\ninterval = " + "9" * 5000))


# ---- reporting ------------------------------------------------------------------------------


def test_five_mistakes_give_five_problems_with_their_locations() -> None:
    doc = base()
    doc["daemon"] = {"intervall": 2.0, "log_format": "xml"}
    doc["pools"][0]["ttl"] = -5
    doc["pools"][0]["origins"][1]["bucket"] = "My_Bucket"
    doc["pools"][0]["origins"][0]["region"] = "mars-1"
    assert [p.split(":")[0] for p in problems_of(doc)] == [
        "daemon.intervall",
        "daemon.log_format",
        "pools[0].ttl",
        "pools[0].origins[0].region",
        "pools[0].origins[1].bucket",
    ]


def test_the_issues_example_location_is_reported_as_written() -> None:
    doc = two_pools()
    doc["pools"][1]["origins"][0]["bucket"] = "My_Bucket"
    assert only(problems_of(doc)).startswith(
        'pools[1].origins[0].bucket: "My_Bucket" is not a valid S3 bucket name'
    )


def test_a_problem_shared_by_many_origins_is_reported_once() -> None:
    assert len(with_("health.hold_down_max", 1)) == 1


def test_toml_syntax_errors_give_line_and_column() -> None:
    problem = only(problems_of('[daemon]\ninterval = 2.0\nlisten = "x\n'))
    assert problem.startswith("line 3, column ")
    assert "(TOML syntax)" in problem


def test_duplicate_keys_in_the_text_are_a_syntax_error() -> None:
    problem = only(problems_of("[daemon]\ninterval = 2.0\ninterval = 3.0\n"))
    assert "TOML syntax" in problem


def test_render_problems_puts_one_problem_per_line_after_the_source() -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse("[daemon]\nintervall = 1\nlog_level = 'loud'\n", "site.toml")
    lines = config.render_problems(caught.value).splitlines()
    assert len(lines) == 3  # two in [daemon], and no pools
    assert lines[0] == 'site.toml: daemon.intervall: unknown key (did you mean "interval"?)'
    assert all(line.startswith("site.toml: ") for line in lines)


# ---- load -----------------------------------------------------------------------------------


def test_load_reads_the_file_given(tmp_path: Path) -> None:
    path = tmp_path / "failover.toml"
    path.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    assert load_ok(str(path), {config.ENV_VAR: "not = [toml"}).pools[0].name == "www"


def load_ok(path: str | None, environ: dict[str, str]) -> Config:
    return config.load(path, environ)


def test_load_falls_back_to_the_toml_text_in_failover_config() -> None:
    c = config.load(None, {config.ENV_VAR: EXAMPLE.read_text("utf-8")})
    assert len(c.all_origins()) == 3


def test_load_problems_from_failover_config_name_it_as_the_source() -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(None, {config.ENV_VAR: toml_text(set_at(base(), "daemon.dry_run", 1))})
    assert caught.value.source == config.ENV_VAR


def test_load_without_a_path_or_failover_config_says_so() -> None:
    with pytest.raises(ConfigError, match="FAILOVER_CONFIG is not set"):
        config.load(None, {})
    with pytest.raises(ConfigError, match="set but empty"):
        config.load(None, {config.ENV_VAR: " \n"})


def test_an_unreadable_path_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        config.load(str(missing), {})
    assert caught.value.problems[0].startswith(f"{missing}: cannot read")
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(str(tmp_path), {})


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[daemon]\nlisten = "caf\xe9:1"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        config.load(str(path), {})


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + toml_text(base()).encode("utf-8"))
    assert config.load(str(path), {}).pools[0].name == "www"


def test_undecodable_environment_text_is_a_config_error() -> None:
    # os.environ keeps undecodable bytes as lone surrogates.
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        config.load(None, {config.ENV_VAR: toml_text(base()) + '\nx = "\udcff"'})


# ---- fuzzing: any document gives a Config or a ConfigError, never anything else -------------

KNOWN_KEYS = sorted(
    {*schema.DAEMON, *schema.HEALTH, *schema.POOL, *schema.ORIGIN, *schema.TOP_KEYS, "origins"}
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=12)
scalars = (
    st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.sampled_from([0, 1, 255, 256, -1, 2**63, 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["eu-west-1", "example-bucket", "Z123", "[::1]:1", "s3://b/k", "a.b.c"])
    | st.dates()
    | st.datetimes()
    | st.times()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)


def parses_or_fails_cleanly(text: str) -> None:
    problems: list[str] = []
    try:
        result: object = config.parse(text)
    except ConfigError as e:
        problems, result = e.problems, config.render_problems(e)
    if problems:
        assert all(isinstance(p, str) and ": " in p for p in problems)
        assert isinstance(result, str)
        assert len(result.splitlines()) == len(problems)
    else:
        assert isinstance(result, Config)


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.dictionaries(keys, values, max_size=5))
def test_random_documents_never_raise_anything_but_config_error(doc: dict[str, Any]) -> None:
    parses_or_fails_cleanly(toml_text(doc))


def paths_of(node: object, prefix: str = "") -> list[str]:
    """Every key path in a document, as set_at spells them."""
    items: list[tuple[str, object]] = []
    if isinstance(node, dict):
        items = [(str(k), v) for k, v in node.items()]
    elif isinstance(node, list):
        items = [(str(i), v) for i, v in enumerate(node)]
    out = []
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else key
        out += [path, *paths_of(value, path)]
    return out


@FUZZ
@given(st.data())
def test_mutated_valid_documents_never_raise_anything_but_config_error(data: st.DataObject) -> None:
    doc = set_at(base(), "pools.0.health", {"fall": 2})
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(paths_of(doc)))
        if data.draw(st.booleans()):
            doc = set_at(doc, path, data.draw(values))
        elif "." in path and not path.rsplit(".", 1)[1].isdigit():
            doc = set_at(doc, path, DELETE)
        else:
            doc = set_at(doc, f"{path}.{data.draw(keys)}", data.draw(values))
    parses_or_fails_cleanly(toml_text(doc))


EXAMPLE_LINES = EXAMPLE.read_text("utf-8").splitlines()


@FUZZ
@given(st.data())
def test_edited_example_text_never_raises_anything_but_config_error(data: st.DataObject) -> None:
    """Lines duplicated (duplicate keys and tables), dropped, or replaced by any text."""
    lines = list(EXAMPLE_LINES)
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(lines) - 1))
        edit = data.draw(st.sampled_from(["duplicate", "drop", "insert", "append"]))
        if edit == "duplicate":
            lines.insert(data.draw(st.integers(0, len(lines))), lines[i])
        elif edit == "drop" and len(lines) > 1:
            del lines[i]
        elif edit == "insert":
            lines.insert(i, data.draw(st.text(max_size=30)))
        else:
            lines[i] += data.draw(st.text(max_size=10))
    parses_or_fails_cleanly("\n".join(lines))


# ---- Regions the Lambda@Edge router cannot reach ---------------------------------------------


@pytest.mark.parametrize("region", ["ap-southeast-4", "il-central-1", "ca-west-1", "mx-central-1"])
def test_a_region_launched_after_december_2022_is_refused_for_the_lambda_edge_router(
    region: str,
) -> None:
    """OAI does not reach those Regions and OAC cannot sign a Lambda@Edge redirect: refused."""
    problem = only(with_("pools.0.origins.0.region", region))
    assert problem.startswith("pools[0].origins[0].region: ")
    assert f'"{region}" launched after December 2022' in problem
    assert "Lambda@Edge router" in problem


def test_the_same_region_is_accepted_when_the_pool_has_no_lambda_edge_router() -> None:
    doc = set_at(base(), "pools.0.router", "none")
    c = config.parse(toml_text(set_at(doc, "pools.0.origins.0.region", "ap-southeast-4")))
    assert c.pools[0].router == "none"
    assert c.pools[0].origins[0].region == "ap-southeast-4"


def test_the_router_defaults_to_lambda_edge_and_takes_no_other_value() -> None:
    assert config.parse(toml_text(base())).pools[0].router == "lambda-edge"
    assert only(with_("pools.0.router", "cloudfront")) == (
        'pools[0].router: "cloudfront" is not one of lambda-edge, none, function'
    )


# ---- standbys, failback, sets the config does not own --------------------------------------


def test_a_standby_with_its_active_weight_and_the_pool_keys_are_read() -> None:
    doc = set_at(base(), "pools.0.origins.1.standby", True)
    doc = set_at(doc, "pools.0.failback", "manual")
    doc = set_at(doc, "pools.0.trust_unowned", True)
    doc = set_at(doc, "pools.0.previous_ids", ["us-old"])
    pool = config.parse(toml_text(doc)).pools[0]
    assert [o.standby for o in pool.origins] == [False, True]
    assert pool.standbys[0].weight == 100
    assert (pool.failback, pool.trust_unowned, pool.previous_ids) == ("manual", True, ("us-old",))


def test_a_standby_at_weight_zero_is_refused_its_weight_is_its_active_one() -> None:
    doc = set_at(base(), "pools.0.origins.1.standby", True)
    assert "a standby's weight is the weight it carries when active" in only(
        with_("pools.0.origins.1.weight", 0, doc)
    )


def test_a_pool_of_standbys_alone_is_refused() -> None:
    doc = set_at(base(), "pools.0.origins.0.standby", True)
    assert "not a standby needs a positive weight" in only(
        with_("pools.0.origins.1.standby", True, doc)
    )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("pools.0.failback", "later", "is not one of auto, manual"),
        ("pools.0.previous_ids", "old", "expected an array"),
        ("pools.0.previous_ids", [1], "expected a string"),
        ("pools.0.previous_ids", ["eu"], "is an origin's id"),
        ("pools.0.previous_ids", ["a", "a"], "lists an id twice"),
        ("pools.0.trust_unowned", "yes", "expected true or false"),
        ("pools.0.origins.0.standby", 1, "expected true or false"),
    ],
)
def test_bad_standby_and_foreign_set_keys_are_reported(
    path: str, value: object, expected: str
) -> None:
    assert expected in only(with_(path, value))


def test_a_weight_zero_origin_that_is_not_a_standby_is_warned_about() -> None:
    """Route 53's standby idiom (weight 0) never serves here: validate says so."""
    cfg = config.parse(toml_text(set_at(base(), "pools.0.origins.1.weight", 0)))
    (warning,) = config.warnings(cfg)
    assert "pools[0].origins[1]" in warning
    assert "standby = true" in warning
    standby = set_at(base(), "pools.0.origins.1.standby", True)
    assert config.warnings(config.parse(toml_text(standby))) == []
