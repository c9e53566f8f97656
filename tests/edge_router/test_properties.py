"""Property-based: whatever the event and the TXT record hold, the handler returns a request
CloudFront accepts, never raises, and never routes outside the allowed buckets."""

from __future__ import annotations

import copy
import fnmatch
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_router.handler import Router
from edge_router.resolver import dns_query
from edge_router.routing import Endpoint, parse_endpoint
from failover.sandbox.dns import DnsResponder, StaticZone, WeightedAnswer
from tests.edge_router.cloudfront_rules import problems
from tests.edge_router.conftest import FakeClock, settings_for
from tests.edge_router.events import custom_origin_event, request_of, s3_event

ALLOWED = ("www-*", "static-??")
NAMES = ("origin.example.com", "other.example.com")

buckets = st.sampled_from(
    ["www-eu", "www-us", "static-01", "static-001", "evil", "WWW-EU", "a", "www.dots", "xn--www"]
)
regions = st.sampled_from(
    [
        "eu-west-1",
        "us-east-1",
        "ap-southeast-2",
        "ca-west-1",
        "us-gov-west-1",
        "cn-north-1",
        "mars-1",
        "",
    ]
)
endpoints = st.builds(
    lambda b, form, r: f"{b}.s3.{form}{r}.amazonaws.com",
    buckets,
    st.sampled_from(["", "dualstack.", "website-", "accesspoint."]),
    regions,
)
junk = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
values = st.lists(st.one_of(endpoints, junk), min_size=1, max_size=4)
weighted = st.lists(
    st.builds(
        lambda w, ttl, vs: WeightedAnswer.of(w, ttl, *vs),
        st.integers(0, 255),
        st.integers(0, 600),
        values,
    ),
    min_size=0,
    max_size=3,
)
allow_headers = st.one_of(
    st.none(), st.sampled_from(["www-*", "static-*, www-us", "*", "", "evil", " , "]), junk
)
header_values = st.one_of(st.sampled_from(NAMES), junk)
paths = st.sampled_from(["", "/site", "/a/b"])


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[StaticZone, DnsResponder]]:
    zone = StaticZone()
    with DnsResponder(zone, rng=random.Random(11)) as responder:
        yield zone, responder


def make_event(
    kind: str, name: str | None, allow: str | None, path: str, extra: dict[str, str]
) -> dict[str, Any]:
    if kind == "custom":
        return custom_origin_event(name or "origin.example.com")
    event = s3_event(name=name, allow=allow, path=path)
    if kind == "s3-no-auth":
        request_of(event)["origin"]["s3"]["authMethod"] = "none"
    for key, value in extra.items():
        request_of(event)["headers"][key] = [{"key": key.title(), "value": value}]
    return event


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=weighted,
    case=st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["s3", "s3-no-auth", "custom"]),
            "name": st.one_of(st.none(), header_values),
            "allow": allow_headers,
            "path": paths,
            "extra": st.dictionaries(
                st.sampled_from(["via", "x-forwarded-for", "accept"]), junk, max_size=2
            ),
        }
    ),
    seed=st.integers(0, 2**16),
)
def test_the_handler_always_returns_a_request_cloudfront_accepts(
    world: tuple[StaticZone, DnsResponder],
    answers: list[WeightedAnswer],
    case: dict[str, Any],
    seed: int,
) -> None:
    allow: str | None = case["allow"]
    zone, responder = world
    for n in NAMES:
        zone.set(n, answers)
    config = settings_for(responder, allowed_buckets=ALLOWED, timeout=0.2)
    router = Router(
        config,
        query=dns_query(config),
        clock=FakeClock(),
        rng=random.Random(seed),
        log=lambda *a, **k: None,
    )
    event = make_event(case["kind"], case["name"], allow, case["path"], case["extra"])
    before = copy.deepcopy(request_of(event))
    after = router.route(request_of(event))
    assert problems(before, after) == []
    s3_before, s3_after = before["origin"].get("s3"), after["origin"].get("s3")
    if s3_after is not None and s3_after["domainName"] != s3_before["domainName"]:
        chosen = parse_endpoint(s3_after["domainName"])
        assert isinstance(chosen, Endpoint)
        bucket = chosen.bucket
        assert any(fnmatch.fnmatchcase(bucket, p) for p in ALLOWED)
        if allow is not None:
            narrowing = [p.strip() for p in allow.split(",") if p.strip()]
            assert any(fnmatch.fnmatchcase(bucket, p) for p in narrowing)
        served = {
            v.strip().rstrip(".").lower() for a in answers for v in ("".join(s) for s in a.values)
        }
        assert s3_after["domainName"] in served


@settings(max_examples=100, deadline=None)
@given(
    event=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.text(max_size=8), children, max_size=3),
        ),
        max_leaves=12,
    ),
    request=st.dictionaries(
        st.sampled_from(["origin", "headers", "uri"]),
        st.one_of(
            st.none(),
            st.just({"s3": {"customHeaders": {"x-dns-origin": [{"value": 7}]}}}),
            st.just({"s3": {"customHeaders": {"x-dns-origin": "origin.example.com"}}}),
            st.just({"s3": {"customHeaders": {"x-dns-origin": [{"value": "origin.example.com"}]}}}),
            st.just({"host": "not-a-list"}),
            st.just([]),
        ),
    ),
)
def test_the_entry_point_never_raises_on_any_event(event: object, request: dict[str, Any]) -> None:
    from edge_router.handler import handler

    handler(event, None)  # type: ignore[arg-type]
    handler({"Records": [{"cf": {"request": request}}]}, None)


@settings(max_examples=60, deadline=None)
@given(
    good=st.lists(
        st.builds(
            lambda b, ds, r: f"{b}.s3.{ds}{r}.amazonaws.com",
            st.sampled_from(["www-eu", "www-us", "static-01"]),
            st.sampled_from(["", "dualstack."]),
            st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2", "me-central-1"]),
        ),
        min_size=1,
        max_size=3,
    ),
    bad=st.lists(
        st.one_of(
            junk,
            st.builds(
                lambda b, r: f"{b}.s3.{r}.amazonaws.com",
                st.sampled_from(["evil", "a", "xn--www", "www.dots", "static-001"]),
                regions,
            ),
        ),
        max_size=2,
    ),
    path=paths,
    seed=st.integers(0, 2**16),
)
def test_an_answer_holding_an_allowed_endpoint_is_always_routed_to_one(
    world: tuple[StaticZone, DnsResponder], good: list[str], bad: list[str], path: str, seed: int
) -> None:
    zone, responder = world
    zone.set(NAMES[0], [WeightedAnswer.of(1, 30, *good, *bad)])
    config = settings_for(responder, allowed_buckets=ALLOWED, timeout=0.2)
    router = Router(
        config,
        query=dns_query(config),
        clock=FakeClock(),
        rng=random.Random(seed),
        log=lambda *a, **k: None,
    )
    event = s3_event(path=path)
    before = copy.deepcopy(request_of(event))
    after = router.route(request_of(event))
    assert problems(before, after) == []
    assert after["origin"]["s3"]["domainName"] in good
