"""The TXT cache over real DNS packets: TTLs, stale serving, bounded retries, failure kinds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from edge_router.resolver import LookupFailedError, TxtCache, dns_query, failure_kind
from failover.sandbox.dns import DnsResponder, Fault, StaticZone, WeightedAnswer
from tests.edge_router.conftest import EU, NAME, US, FakeClock, LogRecorder, settings_for


def make_cache(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder | None = None, **overrides: Any
) -> TxtCache:
    settings = settings_for(responder, **overrides)
    return TxtCache(settings, dns_query(settings), clock=clock, on_event=logs)


def test_answers_are_cached_for_the_records_ttl(responder: DnsResponder, clock: FakeClock) -> None:
    cache = make_cache(responder, clock)
    assert cache.get(NAME) == (EU,)
    clock.advance(29.9)
    assert cache.get(NAME) == (EU,)
    assert responder.queries(NAME) == 1
    clock.advance(0.2)
    assert cache.get(NAME) == (EU,)
    assert responder.queries(NAME) == 2


@pytest.mark.parametrize(("ttl", "expected"), [(0, 5.0), (3600, 60.0), (20, 20.0)])
def test_the_ttl_is_clamped_between_min_and_max(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock, ttl: int, expected: float
) -> None:
    zone.set(NAME, [WeightedAnswer.of(1, ttl, EU)])
    cache = make_cache(responder, clock, min_ttl=5.0, max_ttl=60.0)
    cache.get(NAME)
    clock.advance(expected - 0.01)
    cache.get(NAME)
    assert responder.queries(NAME) == 1
    clock.advance(0.02)
    cache.get(NAME)
    assert responder.queries(NAME) == 2


def test_a_new_answer_replaces_the_old_once_the_ttl_runs_out(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    cache = make_cache(responder, clock, logs)
    assert cache.get(NAME) == (EU,)
    zone.set(NAME, [WeightedAnswer.of(1, 30, US)])
    assert cache.get(NAME) == (EU,)
    clock.advance(31)
    assert cache.get(NAME) == (US,)
    assert [f["values"] for e, f in logs.lines if e == "dns_answer_changed"] == [[EU], [US]]


def test_multi_string_values_are_joined_and_several_values_kept(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock
) -> None:
    zone.set(
        NAME, [WeightedAnswer(1, 30, (("www-eu-west-1.s3.", "eu-west-1.amazonaws.com"), (US,)))]
    )
    cache = make_cache(responder, clock)
    assert sorted(cache.get(NAME) or ()) == sorted([EU, US])


@pytest.mark.parametrize(
    "fault", [Fault.SERVFAIL, Fault.NXDOMAIN, Fault.TIMEOUT, Fault.GARBAGE, Fault.MALFORMED]
)
def test_the_last_good_answer_is_served_while_dns_fails_within_the_stale_window(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder, fault: Fault
) -> None:
    cache = make_cache(responder, clock, logs, stale=100.0, timeout=0.05)
    assert cache.get(NAME) == (EU,)
    responder.set_fault(fault)
    clock.advance(31)
    assert cache.get(NAME) == (EU,)
    failed = [f for e, f in logs.lines if e == "dns_lookup_failed"]
    assert failed[0]["serving"] == "stale"
    assert (
        failed[0]["error"]
        == {
            "servfail": "servfail",
            "nxdomain": "nxdomain",
            "timeout": "timeout",
            "garbage": "garbage",
            "malformed": "malformed",
        }[fault.value]
    )
    clock.advance(100)  # 30 s TTL + 100 s stale have now passed
    assert cache.get(NAME) is None


def test_an_answer_refused_by_the_acceptance_check_counts_as_a_failure(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    settings = settings_for(responder)
    cache = TxtCache(
        settings,
        dns_query(settings),
        accept=lambda values: None if all(".s3." in v for v in values) else "not s3",
        clock=clock,
        on_event=logs,
    )
    assert cache.get(NAME) == (EU,)
    responder.set_fault(Fault.NON_S3)
    clock.advance(31)
    assert cache.get(NAME) == (EU,)
    assert [f["error"] for e, f in logs.lines if e == "dns_lookup_failed"] == ["refused"]


def test_with_nothing_to_serve_the_answer_is_none(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    cache = make_cache(responder, clock, logs)
    assert cache.get("unknown.example.com") is None
    assert logs.lines[0][1]["serving"] == "nothing"
    assert logs.lines[0][1]["error"] == "nxdomain"


def test_a_failing_name_is_looked_up_at_most_once_per_retry_interval(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    cache = make_cache(responder, clock, logs, retry=5.0, timeout=0.05)
    cache.get(NAME)
    responder.set_fault(Fault.TIMEOUT)
    clock.advance(31)
    started = time.perf_counter()
    for _ in range(200):  # 200 requests over 20 s of fake time
        assert cache.get(NAME) == (EU,)
        clock.advance(0.1)
    elapsed = time.perf_counter() - started
    # 1 query before the fault, then one per 5 s over 20 s.
    assert responder.queries(NAME) == 1 + 4
    assert len([e for e in logs.events() if e == "dns_lookup_failed"]) == 4
    assert elapsed < 4 * 0.05 + 1.0  # the other 196 requests did not wait on DNS


def test_dns_coming_back_is_picked_up_after_the_retry_interval(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    cache = make_cache(responder, clock, logs, retry=5.0)
    cache.get(NAME)
    responder.set_fault(Fault.SERVFAIL)
    clock.advance(31)
    cache.get(NAME)
    responder.set_fault(None)
    clock.advance(4)
    cache.get(NAME)
    assert responder.queries(NAME) == 2
    clock.advance(1.1)
    cache.get(NAME)
    assert responder.queries(NAME) == 3
    assert logs.events() == ["dns_answer_changed", "dns_lookup_failed", "dns_lookup_recovered"]


def test_names_are_cached_and_fail_independently(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock
) -> None:
    zone.set("other.example.com", [WeightedAnswer.of(1, 30, US)])
    cache = make_cache(responder, clock)
    responder.set_fault(Fault.SERVFAIL, NAME)
    assert cache.get(NAME) is None
    assert cache.get("other.example.com") == (US,)


def test_the_whole_lookup_is_bounded_by_the_timeout_across_nameservers(
    responder: DnsResponder,
) -> None:
    responder.set_fault(Fault.TIMEOUT)
    settings = settings_for(responder, timeout=0.2)
    settings = type(settings)(**{**settings.__dict__, "nameservers": settings.nameservers * 3})
    query = dns_query(settings)
    started = time.perf_counter()
    with pytest.raises(LookupFailedError) as info:
        query(NAME)
    assert time.perf_counter() - started < 0.4
    assert failure_kind(info.value) == "timeout"
    assert responder.queries(NAME) == 3


def test_a_stopped_server_fails_fast_as_unreachable_and_stale_is_served(
    zone: StaticZone, clock: FakeClock, logs: LogRecorder
) -> None:
    responder = DnsResponder(zone)
    cache = make_cache(responder, clock, logs, timeout=1.0)
    assert cache.get(NAME) == (EU,)
    responder.close()
    clock.advance(31)
    started = time.perf_counter()
    assert cache.get(NAME) == (EU,)
    assert time.perf_counter() - started < 0.5
    assert [f["error"] for e, f in logs.lines if e == "dns_lookup_failed"] == ["unreachable"]
