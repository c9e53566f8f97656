"""`validate` on the KeyValueStore sink: sinks against routers, the ARN, awscrt, the store's limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from failover import config, config_kvs
from failover.core import kvs
from tests.test_config import base, only, problems_of, set_at, toml_text

ARN = "arn:aws:cloudfront::123456789012:key-value-store/0f1e2d3c-0000-4000-8000-000000000001"


def store_doc(sink: str = "kvs", router: str = "function") -> dict[str, Any]:
    doc = set_at(base(), "pools.0.sink", sink)
    doc = set_at(doc, "pools.0.router", router)
    return set_at(doc, "kvs", {"arn": ARN})


def test_a_store_pool_parses_with_default_origin_ids_and_the_store_settings() -> None:
    c = config.parse(toml_text(store_doc()))
    pool = c.pools[0]
    assert pool.sink == "kvs"
    assert [o.cf_origin_id for o in pool.origins] == [f"s3-{o.id}" for o in pool.origins]
    assert c.kvs.arn == ARN
    assert c.kvs.rate == 2.0


def test_the_sink_defaults_to_route53_and_takes_no_other_value() -> None:
    assert config.parse(toml_text(base())).pools[0].sink == "route53"
    assert only(problems_of(set_at(base(), "pools.0.sink", "dynamo"))) == (
        'pools[0].sink: "dynamo" is not one of route53, kvs, both'
    )


def test_a_store_only_pool_read_by_lambda_edge_is_refused() -> None:
    problem = only(problems_of(store_doc("kvs", "lambda-edge")))
    assert problem.startswith("pools[0].sink:")
    assert 'router = "function"' in problem


def test_the_function_router_needs_the_store() -> None:
    doc = set_at(base(), "pools.0.router", "function")
    assert only(problems_of(doc)).startswith('pools[0].router: "function" reads the KeyValueStore')


def test_a_store_pool_without_an_arn_or_with_a_bad_one_is_refused() -> None:
    doc = set_at(store_doc(), "kvs", {})
    assert only(problems_of(doc)).startswith("kvs.arn: missing: pool")
    doc = set_at(store_doc(), "kvs.arn", "arn:aws:s3:::bucket")
    assert only(problems_of(doc)).startswith('kvs.arn: "arn:aws:s3:::bucket" is not')


def test_a_store_pool_without_awscrt_is_a_clear_validate_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(config_kvs, "crt_missing", lambda: True)
    problem = only(problems_of(store_doc()))
    assert problem.startswith("pools[0].sink: ")
    assert "pip install 'failover[function]'" in problem
    assert problems_of(base()) == [], "a Route 53 pool needs no awscrt"


def test_a_value_that_could_pass_one_kilobyte_is_refused() -> None:
    doc = store_doc()
    for i in range(2):
        doc = set_at(doc, f"pools.0.origins.{i}.cf_origin_id", "o" * 128)
    doc = set_at(doc, "pools.0.origins.1.cf_origin_id", "p" * 128)
    assert problems_of(doc) == []
    origins = [
        {
            "id": f"r{i}",
            "bucket": f"bucket-{i}",
            "region": "eu-west-1",
            "cf_origin_id": f"{i}" * 100,
        }
        for i in range(10)
    ]
    doc = set_at(store_doc(), "pools.0.origins", origins)
    problem = only(problems_of(doc))
    assert problem.startswith("pools[0].origins: the pool's value can reach ")
    assert "at most 1024" in problem


def test_more_origins_than_a_distribution_holds_are_refused() -> None:
    origins = [{"id": f"r{i}", "bucket": f"bucket-{i}", "region": "eu-west-1"} for i in range(26)]
    doc = set_at(store_doc(), "pools.0.origins", origins)
    assert "a distribution has at most 25" in only(problems_of(doc))


def test_origin_ids_the_function_would_refuse_or_repeats_are_refused() -> None:
    doc = set_at(store_doc(), "pools.0.origins.0.cf_origin_id", "s3 eu")
    assert "the function takes origin ids" in only(problems_of(doc))
    doc = set_at(store_doc(), "pools.0.origins.1.cf_origin_id", "s3-eu")
    assert "is also origin" in only(problems_of(doc))


def test_the_value_is_the_contract_s_compact_json_and_reads_back() -> None:
    value = kvs.Value(3, (("s3-eu-west-1", 100), ("s3-us-east-1", 0)))
    text = kvs.encode(value)
    assert text == '{"v":1,"s":3,"o":[["s3-eu-west-1",100],["s3-us-east-1",0]]}'
    assert kvs.decode(text) == value


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "{",
        json.dumps({"v": 2, "s": 1, "o": []}),
        json.dumps({"v": 1, "s": -1, "o": []}),
        json.dumps({"v": 1, "s": 1, "o": [["a", -1]]}),
        json.dumps({"v": 1, "s": 1, "o": [["a", True]]}),
        json.dumps({"v": 1, "s": 1, "o": [["a"]]}),
        json.dumps([1]),
    ],
)
def test_anything_but_a_version_one_value_reads_as_no_value(text: str | None) -> None:
    assert kvs.decode(text) is None
