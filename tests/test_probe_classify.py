"""Canary outcome classification and canary age (pure), and a real GET against moto's server."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from failover.aws.probe import Prober, canary_age, classify
from failover.model import HealthSettings, Origin, Outcome
from tests.e2e_support import make_buckets

NOW = 1_800_000_000.0


def origin(**health: object) -> Origin:
    return Origin("www", "eu-west-1", "b", "eu-west-1", 100, "k", HealthSettings(**health))  # type: ignore[arg-type]


def stamp(age: float) -> bytes:
    from datetime import UTC, datetime

    t = datetime.fromtimestamp(NOW - age, UTC).isoformat().replace("+00:00", "Z")
    return json.dumps({"written_at": t}).encode()


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (403, Outcome.HTTP_403),
        (404, Outcome.HTTP_404),
        (400, Outcome.HTTP_4XX),
        (500, Outcome.HTTP_5XX),
        (503, Outcome.HTTP_5XX),
        (301, Outcome.HTTP_OTHER),
    ],
)
def test_http_statuses_are_classified(status: int, outcome: Outcome) -> None:
    assert classify(origin(), status, b"", NOW)[0] is outcome


def test_a_200_or_206_canary_is_ok() -> None:
    assert classify(origin(), 200, b"x", NOW)[0] is Outcome.OK
    assert classify(origin(), 206, b"x", NOW)[0] is Outcome.OK


def test_the_expected_string_must_be_in_the_first_5120_bytes() -> None:
    o = origin(expect="healthy")
    assert classify(o, 200, b"all healthy", NOW)[0] is Outcome.OK
    assert classify(o, 200, b"x" * 5120 + b"healthy", NOW)[0] is Outcome.MISMATCH
    assert classify(o, 200, b"sick", NOW)[0] is Outcome.MISMATCH


def test_a_canary_s_age_is_reported_not_judged() -> None:
    """Staleness is relative to the pool (failover.core.evidence), never absolute here."""
    o = origin(max_age=600.0)
    outcome, age, _ = classify(o, 200, stamp(30.0), NOW)
    assert (outcome, age) == (Outcome.OK, pytest.approx(30.0))
    outcome, age, _ = classify(o, 200, stamp(86_400.0), NOW)
    assert (outcome, age) == (Outcome.OK, pytest.approx(86_400.0))


def test_416_to_the_range_get_is_an_empty_canary() -> None:
    """`bytes=0-5119` is unsatisfiable only on a 0-byte object: read as empty, not failed."""
    assert classify(origin(), 416, b"<Error/>", NOW) == (Outcome.OK, None, "")
    assert classify(origin(expect="up"), 416, b"up", NOW)[0] is Outcome.MISMATCH


def test_max_age_needs_a_written_at() -> None:
    assert classify(origin(max_age=60.0), 200, b"plain", NOW)[0] is Outcome.MISMATCH


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1]",
        b'{"written_at": 5}',
        b'{"written_at": "yesterday"}',
        b'{"written_at": "2026-01-01T00:00:00"}',
        b"\xff\xfe",
    ],
)
def test_canary_age_is_none_for_anything_but_an_rfc3339_written_at(body: bytes) -> None:
    assert canary_age(body, NOW) is None


def test_real_gets_classify_a_present_and_a_missing_canary(endpoint: str) -> None:
    buckets = make_buckets(f"probe-{uuid.uuid4().hex[:8]}")
    ok = Origin(
        "www",
        "eu-west-1",
        buckets["eu-west-1"],
        "eu-west-1",
        100,
        "_failover/canary.json",
        HealthSettings(max_age=60.0),
    )
    missing = Origin(
        "www", "us-east-1", buckets["us-east-1"], "us-east-1", 100, "no/such/key", HealthSettings()
    )
    prober = Prober(boto3.Session())
    try:
        results = prober.probe_all([ok, missing])
    finally:
        prober.close()
    assert results[ok.key].outcome is Outcome.OK
    assert results[ok.key].status == 206  # the bounded Range read
    assert results[ok.key].age is not None
    assert results[missing.key].outcome is Outcome.HTTP_404
    assert all(r.latency > 0 for r in results.values())
