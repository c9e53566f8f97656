"""The validator itself: it accepts a correct switch of bucket and catches each broken rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.edge_router.cloudfront_rules import problems
from tests.edge_router.events import request_of, s3_event

NEW = "www-us.s3.us-east-1.amazonaws.com"


def switched() -> tuple[dict[str, Any], dict[str, Any]]:
    before = request_of(s3_event())
    after = copy.deepcopy(before)
    after["origin"]["s3"].update(domainName=NEW, region="us-east-1")
    after["headers"]["host"] = [{"key": "Host", "value": NEW}]
    return before, after


def test_a_correct_switch_of_bucket_passes() -> None:
    assert problems(*switched()) == []


def test_an_unchanged_request_passes() -> None:
    before = request_of(s3_event())
    assert problems(before, copy.deepcopy(before)) == []


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def apply(request: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = request
        for p in parents:
            node = node[p]
        node[last] = value

    return apply


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_set("origin.s3.domainName", NEW.upper()), "lowercase"),
        (_set("origin.s3.domainName", "a" * 120 + ".s3.us-east-1.amazonaws.com"), "longer"),
        (_set("origin.s3.region", "Mars"), "region"),
        (_set("origin.s3.path", "/site/"), "path"),
        (_set("origin.s3.authMethod", "none"), "authMethod"),
        (_set("origin.s3.customHeaders", {}), "customHeaders"),
        (_set("headers.host", [{"key": "Host", "value": "elsewhere"}]), "host header"),
        (_set("headers.via", [{"key": "Via", "value": "forged"}]), "read-only"),
        (_set("headers.x-dns-origin", [{"key": "X-DNS-ORIGIN", "value": "x"}]), "custom header"),
        (_set("uri", "/other"), "read-only"),
        (_set("origin.custom", {"domainName": "x"}), "exactly one"),
    ],
)
def test_each_broken_rule_is_reported(
    breakage: Callable[[dict[str, Any]], None], message: str
) -> None:
    before, after = switched()
    breakage(after)
    assert any(message in p for p in problems(before, after))


def test_a_non_dict_return_is_reported() -> None:
    assert problems(request_of(s3_event()), None) != []
