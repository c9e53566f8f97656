"""The origin-request handler on documented events, over real DNS packets."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_router import handler as handler_module
from edge_router.handler import Router, handler, install
from edge_router.resolver import dns_query
from failover.sandbox.dns import DnsResponder, Fault, StaticZone, WeightedAnswer
from tests.edge_router.cloudfront_rules import problems
from tests.edge_router.conftest import EU, NAME, US, FakeClock, LogRecorder, settings_for
from tests.edge_router.events import custom_origin_event, request_of, s3_event


def make_router(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder, **overrides: object
) -> Router:
    settings = settings_for(responder, **overrides)
    return Router(settings, query=dns_query(settings), clock=clock, rng=random.Random(5), log=logs)


def routed(router: Router, event: dict[str, object]) -> tuple[dict[str, object], list[str]]:
    before = copy.deepcopy(request_of(event))  # type: ignore[arg-type]
    after = router.route(request_of(event))  # type: ignore[arg-type]
    return after, problems(before, after)


def test_the_documented_event_is_routed_to_the_bucket_the_record_names(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    router = make_router(responder, clock, logs)
    after, broken = routed(router, s3_event())
    assert broken == []
    s3 = after["origin"]["s3"]  # type: ignore[index]
    assert s3["domainName"] == EU
    assert s3["region"] == "eu-west-1"
    assert after["headers"]["host"] == [{"key": "Host", "value": EU}]  # type: ignore[index]
    assert s3["authMethod"] == "origin-access-identity"
    assert s3["customHeaders"]["x-dns-origin"][0]["value"] == NAME


def test_dual_stack_endpoints_are_routed_too(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    zone.set(NAME, [WeightedAnswer.of(1, 30, "www-ds.s3.dualstack.ap-south-1.amazonaws.com")])
    after, broken = routed(make_router(responder, clock, logs), s3_event())
    assert broken == []
    assert after["origin"]["s3"]["region"] == "ap-south-1"  # type: ignore[index]


@pytest.mark.parametrize(
    "event", [s3_event(name=None), custom_origin_event()], ids=["no-header", "custom-origin"]
)
def test_requests_without_the_header_or_to_custom_origins_are_unchanged(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder, event: dict[str, object]
) -> None:
    before = copy.deepcopy(event)
    make_router(responder, clock, logs).route(request_of(event))
    assert event == before
    assert responder.queries() == 0


@pytest.mark.parametrize(
    "case",
    [
        ("www.evil.example", "not an S3 regional endpoint"),
        ("attacker.s3.eu-west-1.amazonaws.com", "bucket not in allowed_buckets"),
        ("www-eu.s3.mars-north-1.amazonaws.com", "not a valid region: 'mars-north-1'"),
    ],
)
def test_non_s3_names_disallowed_buckets_and_bad_regions_are_refused_and_logged(
    zone: StaticZone,
    responder: DnsResponder,
    clock: FakeClock,
    logs: LogRecorder,
    case: tuple[str, str],
) -> None:
    value, reason = case
    zone.set(NAME, [WeightedAnswer.of(1, 30, value)])
    router = make_router(responder, clock, logs)
    event = s3_event()
    before = copy.deepcopy(event)
    router.route(request_of(event))
    assert event == before
    failed = [f for e, f in logs.lines if e == "dns_lookup_failed"]
    assert failed[0]["error"] == "refused"
    assert reason in failed[0]["detail"]


def test_a_refused_answer_never_displaces_the_last_good_one(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    router = make_router(responder, clock, logs)
    router.route(request_of(s3_event()))
    zone.set(NAME, [WeightedAnswer.of(1, 30, "attacker.s3.eu-west-1.amazonaws.com")])
    clock.advance(31)
    after, broken = routed(router, s3_event())
    assert broken == []
    assert after["origin"]["s3"]["domainName"] == EU  # type: ignore[index]


def test_the_allow_header_narrows_the_choice_per_distribution(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    zone.set(NAME, [WeightedAnswer.of(1, 30, EU, US)])
    router = make_router(responder, clock, logs)
    for _ in range(20):
        after, broken = routed(router, s3_event(allow="www-us-*"))
        assert broken == []
        assert after["origin"]["s3"]["domainName"] == US  # type: ignore[index]
    event = s3_event(allow="other-*")
    before = copy.deepcopy(event)
    for _ in range(20):
        router.route(request_of(event))
    assert event == before
    assert logs.events().count("origin_refused") == 1


def test_several_values_are_chosen_among_at_random(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    zone.set(NAME, [WeightedAnswer.of(1, 30, EU, US)])
    router = make_router(responder, clock, logs)
    chosen = {
        routed(router, s3_event())[0]["origin"]["s3"]["domainName"]  # type: ignore[index]
        for _ in range(50)
    }
    assert chosen == {EU, US}
    assert responder.queries() == 1


def test_nothing_to_serve_leaves_the_request_on_its_own_origin(
    responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    responder.set_fault(Fault.SERVFAIL)
    event = s3_event()
    before = copy.deepcopy(event)
    make_router(responder, clock, logs).route(request_of(event))
    assert event == before


def test_logs_a_line_per_change_and_failure_not_per_request(
    zone: StaticZone, responder: DnsResponder, clock: FakeClock, logs: LogRecorder
) -> None:
    router = make_router(responder, clock, logs)
    for _ in range(100):
        router.route(request_of(s3_event()))
        clock.advance(1)
    zone.set(NAME, [WeightedAnswer.of(1, 30, US)])
    for _ in range(100):
        router.route(request_of(s3_event()))
        clock.advance(1)
    assert logs.events() == ["dns_answer_changed", "dns_answer_changed"]


@pytest.fixture
def installed(
    responder: DnsResponder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "nameservers": [f"127.0.0.1:{responder.port}"],
                "timeout": 0.2,
                "allowed_buckets": ["www-*"],
            }
        )
    )
    monkeypatch.setenv("EDGE_ROUTER_SETTINGS", str(path))
    install(None)
    yield path
    install(None)


def test_the_lambda_entry_point_reads_settings_from_the_env_file_and_routes(
    installed: Path, responder: DnsResponder
) -> None:
    event = s3_event()
    before = copy.deepcopy(request_of(event))
    after = handler(event, None)
    assert problems(before, after) == []
    assert after["origin"]["s3"]["domainName"] == EU
    handler(s3_event(), None)
    assert responder.queries() == 1  # the second invocation used the module-level cache


def test_broken_settings_leave_requests_unchanged_and_are_logged_once(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    installed.write_text('{"timeout": "soon", "allowed_buckets": "www-*"}')
    for _ in range(3):
        event = s3_event()
        before = copy.deepcopy(event)
        handler(event, None)
        assert event == before
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["event"] for line in lines] == ["settings_rejected"]
    assert "timeout" in lines[0]["error"]
    assert "allowed_buckets" in lines[0]["error"]


def test_an_unexpected_error_inside_routing_returns_the_request_unchanged(
    installed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(self: Router, request: dict[str, object]) -> dict[str, object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler_module.Router, "route", explode)
    event = s3_event()
    before = copy.deepcopy(request_of(event))
    assert handler(event, None) == before
    assert json.loads(capsys.readouterr().out)["event"] == "handler_failed"


def test_a_malformed_event_does_not_raise(installed: Path) -> None:
    assert handler({"Records": []}, None) == {"Records": []}


def test_log_lines_are_compact_single_line_json(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handler(s3_event(), None)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert ": " not in out
    assert json.loads(out) == {
        "event": "dns_answer_changed",
        "name": NAME,
        "values": [EU],
        "ttl": 30,
    }
