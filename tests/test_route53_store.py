"""The Route 53 adapter against moto made strict: reads, compare-and-swap, retries, rate limit."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from failover.aws.route53 import RateLimiter, Route53Store, parse_txt
from failover.errors import ConflictError, RejectedError, Route53Error
from failover.metrics import Metrics
from failover.model import Change, Guard, WeightedSet
from failover.sandbox.faults import error_body, inject_route53_fault
from tests.conftest import Zone
from tests.factories import make_pool, wset

POOL = make_pool(record="www.example.com")
A, B, C = (o.id for o in POOL.origins)


@pytest.mark.parametrize(
    ("raw", "joined"),
    [
        ('"abc"', "abc"),
        ('"a" "b"', "ab"),
        ('"with \\"quote\\""', 'with "quote"'),
        ('"back\\\\slash"', "back\\slash"),
        ('"\\101"', "A"),  # Route 53 escapes as octal
    ],
)
def test_txt_values_are_unquoted_and_joined(raw: str, joined: str) -> None:
    assert parse_txt(raw) == joined


def test_read_returns_the_weighted_sets_and_reports_other_records(zone: Zone) -> None:
    zone.put(POOL, {A: 100, B: 0})
    zone.client.change_resource_record_sets(  # type: ignore[attr-defined]
        HostedZoneId=zone.id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "www.example.com.",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                }
            ]
        },
    )
    rec = zone.store.read(zone.id, [POOL.record])[POOL.record]
    assert rec.sets == {A: wset(POOL, A, 100), B: wset(POOL, B, 0)}
    assert rec.other == ("A",)


def test_read_of_many_names_scans_the_zone_across_pages(zone: Zone) -> None:
    pools = [make_pool(name=f"site{i}", record=f"site{i}.example.com") for i in range(120)]
    for p in pools:
        zone.put(p, {o.id: 100 for o in p.origins})
    found = zone.store.read(zone.id, [p.record for p in pools])  # 360 sets: two pages
    assert len(found) == 120
    assert all(len(r.sets) == 3 for r in found.values())


def test_a_compare_and_swap_replaces_the_set_it_read(zone: Zone) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    zone.store.change(zone.id, [Change("www", wset(POOL, A, 100), wset(POOL, A, 0), "down")], "t")
    assert zone.weights(POOL) == {A: 0, B: 100, C: 100}


def test_a_stale_compare_and_swap_is_a_conflict_and_changes_nothing(zone: Zone) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    zone.put(POOL, {A: 7})  # someone else, after we read
    with pytest.raises(ConflictError):
        zone.store.change(
            zone.id,
            [
                Change("www", wset(POOL, B, 100), wset(POOL, B, 0), "down"),
                Change("www", wset(POOL, A, 100), wset(POOL, A, 0), "down"),
            ],
            "t",
        )
    assert zone.weights(POOL) == {A: 7, B: 100, C: 100}


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [
        ("throttling", "throttled"),
        ("prior_request_not_complete", "busy"),
        ("service_unavailable", "server_error"),
    ],
)
def test_throttling_a_busy_zone_and_503s_are_retried_with_backoff(
    zone: Zone, kind: str, outcome: str
) -> None:
    zone.put(POOL, {A: 100})
    slept: list[float] = []
    registry = CollectorRegistry()
    store = Route53Store(
        zone.client,  # type: ignore[arg-type]
        RateLimiter(1000.0),
        observer=Metrics(registry),
        sleep=slept.append,
        rand=lambda: 0.5,
    )
    with inject_route53_fault(zone.client, "ChangeResourceRecordSets", kind, times=2):  # type: ignore[arg-type]
        store.change(zone.id, [Change("www", wset(POOL, A, 100), wset(POOL, A, 5), "x")], "t")
    assert zone.weights(POOL) == {A: 5}
    assert slept == [0.2, 0.4]  # exponential; jitter is 0.5-1.5x, fixed at 1x here
    op = "ChangeResourceRecordSets"
    get = registry.get_sample_value
    assert get("failover_route53_requests_total", {"operation": op, "outcome": outcome}) == 2
    assert get("failover_route53_requests_total", {"operation": op, "outcome": "ok"}) == 1


def test_retries_run_out_into_a_route53_error(zone: Zone) -> None:
    zone.put(POOL, {A: 100})
    store = Route53Store(zone.client, RateLimiter(1000.0), attempts=3, sleep=lambda s: None)  # type: ignore[arg-type]
    with (
        inject_route53_fault(
            zone.client, "ChangeResourceRecordSets", "throttling", times=None
        ) as h,
        pytest.raises(Route53Error, match="Throttling after 3"),
    ):
        store.change(zone.id, [Change("www", wset(POOL, A, 100), wset(POOL, A, 5), "x")], "t")
    assert h.injected == 3
    assert zone.weights(POOL) == {A: 100}


def test_a_timeout_is_retried(zone: Zone) -> None:
    zone.put(POOL, {A: 100})
    with inject_route53_fault(zone.client, "ListResourceRecordSets", "read_timeout", times=1) as h:
        assert zone.weights(POOL) == {A: 100}
    assert h.injected == 1


def test_a_non_retryable_error_is_wrapped_not_leaked(zone: Zone) -> None:
    with pytest.raises(Route53Error, match="NoSuchHostedZone"):
        zone.store.read("ZNOSUCHZONE", [POOL.record])


def test_the_rate_limiter_spaces_calls_beyond_the_burst() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    limiter = RateLimiter(5.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(15):
        limiter.acquire()
    assert now[0] == pytest.approx(2.0)  # burst of 5, then 10 more at 5/s
    assert all(w == pytest.approx(0.2) for w in waits)


def test_a_lost_response_surfaces_after_retry_as_a_conflict(zone: Zone) -> None:
    """The write landed, its answer was lost; the retry's DELETE no longer matches."""
    zone.put(POOL, {A: 100})
    fired = []

    def lose_answer(**kwargs: object) -> None:
        if not fired:
            fired.append(1)
            raise ReadTimeoutError(endpoint_url="lost")

    zone.client.meta.events.register("after-call.route53.ChangeResourceRecordSets", lose_answer)  # type: ignore[attr-defined]
    with pytest.raises(ConflictError):
        zone.store.change(zone.id, [Change("www", wset(POOL, A, 100), wset(POOL, A, 0), "x")], "t")
    assert zone.weights(POOL) == {A: 0}


def test_a_set_written_as_several_strings_is_matched_exactly_when_replaced(zone: Zone) -> None:
    """Readers join `"a" "b"`; a DELETE must carry the strings as Route 53 holds them."""
    endpoint = POOL.origin(A).endpoint
    zone.client.change_resource_record_sets(  # type: ignore[attr-defined]
        HostedZoneId=zone.id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "www.example.com.",
                        "Type": "TXT",
                        "SetIdentifier": A,
                        "Weight": 100,
                        "TTL": 30,
                        "ResourceRecords": [{"Value": f'"{endpoint[:10]}" "{endpoint[10:]}"'}],
                    },
                }
            ]
        },
    )
    held = zone.store.read(zone.id, [POOL.record])[POOL.record].sets[A]
    assert held == wset(POOL, A, 100)  # same value once joined
    zone.store.change(zone.id, [Change("www", held, wset(POOL, A, 0), "down")], "t")
    assert zone.weights(POOL) == {A: 0}


def test_an_error_that_cannot_clear_is_not_retried(
    zone: Zone, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from failover.daemon import route53_client

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    slept: list[float] = []
    client = route53_client(boto3.Session())
    store = Route53Store(client, RateLimiter(1000.0), sleep=slept.append)  # type: ignore[arg-type]
    with pytest.raises(Route53Error, match="NoCredentialsError"):
        store.read(zone.id, [POOL.record])
    assert slept == []


def test_a_content_rejection_is_not_a_conflict(zone: Zone) -> None:
    outside = WeightedSet("www.elsewhere.org", "x", 1, 30, ("b.s3.eu-west-1.amazonaws.com",))
    with pytest.raises(RejectedError):
        zone.store.change(zone.id, [Change("www", None, outside, "missing")], "t")


def test_a_create_that_finds_the_set_already_there_is_a_conflict(zone: Zone) -> None:
    """We read no set for A; someone created one since: our CREATE must lose as a race.

    AWS answers such a CREATE with InvalidChangeBatch "Tried to create resource record set
    [name='…', type='TXT', set-identifier='…'] but it already exists" (the strict moto
    backend words it the same way).
    """
    zone.put(POOL, {B: 100})
    zone.put(POOL, {A: 7})  # someone else, after we read B alone
    with pytest.raises(ConflictError, match="already exists"):
        zone.store.change(zone.id, [Change("www", None, wset(POOL, A, 100), "up")], "t")
    assert zone.weights(POOL) == {A: 7, B: 100}


class _Raw:
    """The `raw` stream AWSResponse reads an answer's bytes from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def _answer_every_request_with(
    client: Any, operation: str, status: int, code: str, message: str
) -> list[str]:
    """Answer each `operation` request in place of the wire; returns the URLs it was sent to."""
    sent: list[str] = []

    def handler(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request.url)
        headers = HTTPHeaders.from_dict({"x-amzn-RequestId": "r", "Content-Type": "text/xml"})
        return AWSResponse(
            request.url, status, headers, _Raw(error_body("Sender", code, message, "r"))
        )

    client.meta.events.register(f"before-send.route53.{operation}", handler)
    return sent


# Route 53's API reference lists, for ChangeResourceRecordSets, "InvalidInput: The input
# is not valid. HTTP Status Code: 400"; for ListResourceRecordSets, "NoSuchHostedZone: No
# hosted zone exists with the ID that you specified. HTTP Status Code: 404"; and the AWS
# common errors, "AccessDenied… You do not have sufficient access to perform this action",
# which Route 53 sends as a 403. None of them clears by sending the request again.
@pytest.mark.parametrize(
    ("operation", "status", "code", "error"),
    [
        ("ChangeResourceRecordSets", 403, "AccessDenied", Route53Error),
        ("ChangeResourceRecordSets", 400, "InvalidInput", RejectedError),
        ("ListResourceRecordSets", 403, "AccessDenied", Route53Error),
        ("ListResourceRecordSets", 404, "NoSuchHostedZone", Route53Error),
    ],
)
def test_an_error_that_sending_again_cannot_clear_is_sent_once_and_raised(
    zone: Zone, operation: str, status: int, code: str, error: type[Route53Error]
) -> None:
    sent = _answer_every_request_with(zone.client, operation, status, code, "refused")
    slept: list[float] = []
    store = Route53Store(zone.client, RateLimiter(1000.0), attempts=5, sleep=slept.append)  # type: ignore[arg-type]
    call = {
        "ListResourceRecordSets": lambda: store.read(zone.id, [POOL.record]),
        "ChangeResourceRecordSets": lambda: store.change(
            zone.id, [Change("www", None, wset(POOL, A, 100), "up")], "t"
        ),
    }[operation]
    with capture_logs() as logs, pytest.raises(error, match=code) as raised:
        call()
    assert not isinstance(raised.value, ConflictError)
    assert len(sent) == 1, f"{code} was sent {len(sent)} times"
    assert slept == []
    assert [e for e in logs if e["event"] in ("route53_retried", "route53_throttled")] == []


def _with_health_check(zone: Zone, origin_id: str, weight: int) -> tuple[str, dict[str, Any]]:
    """An owned set given a Route 53 health check by hand: what users of health checks have."""
    client: Any = zone.client
    check = client.create_health_check(
        CallerReference=f"hc-{zone.id}-{origin_id}",
        HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "example.org", "Port": 443},
    )["HealthCheck"]["Id"]
    s = wset(POOL, origin_id, weight)
    rrset = {
        "Name": s.name + ".",
        "Type": "TXT",
        "SetIdentifier": s.set_id,
        "Weight": weight,
        "TTL": s.ttl,
        "ResourceRecords": [{"Value": f'"{s.values[0]}"'}],
        "HealthCheckId": check,
    }
    client.change_resource_record_sets(
        HostedZoneId=zone.id,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrset}]},
    )
    return check, rrset


def _listed(zone: Zone, origin_id: str) -> dict[str, Any]:
    client: Any = zone.client
    for rr in client.list_resource_record_sets(HostedZoneId=zone.id)["ResourceRecordSets"]:
        if rr.get("SetIdentifier") == origin_id:
            return dict(rr)
    raise AssertionError(origin_id)


def test_a_set_is_read_with_every_attribute_the_daemon_does_not_own(zone: Zone) -> None:
    zone.put(POOL, {A: 100, B: 100, C: 100})
    check, _ = _with_health_check(zone, A, 100)
    rec = zone.store.read(zone.id, [POOL.record])[POOL.record]
    assert rec.sets[A].extra == (("HealthCheckId", f'"{check}"'),)
    assert rec.sets[A] != wset(POOL, A, 100)  # a health check makes it another set
    assert rec.sets[B].extra == ()


def test_a_compare_and_swap_of_a_set_with_a_health_check_keeps_it_exactly(zone: Zone) -> None:
    """The DELETE repeats the HealthCheckId (else Route 53 refuses it), and so does the CREATE."""
    zone.put(POOL, {A: 100, B: 100, C: 100})
    _, before = _with_health_check(zone, A, 100)
    _with_health_check(zone, B, 100)
    read = zone.store.read(zone.id, [POOL.record])[POOL.record].sets
    lowered = dataclasses.replace(read[A], weight=0)
    guard = Guard("www", read[B])
    zone.store.change(zone.id, [Change("www", read[A], lowered, "down")], "t", [guard])
    after = _listed(zone, A)
    assert after == dict(before, Name=after["Name"], Weight=0)
    assert zone.store.read(zone.id, [POOL.record])[POOL.record].sets[B] == read[B]


def test_a_set_read_without_its_health_check_is_refused_as_not_matching(zone: Zone) -> None:
    """What the daemon did before it kept unowned attributes: the strict store refuses it."""
    zone.put(POOL, {A: 100, B: 100, C: 100})
    _with_health_check(zone, A, 100)
    with pytest.raises(ConflictError):
        zone.store.change(
            zone.id, [Change("www", wset(POOL, A, 100), wset(POOL, A, 0), "down")], "t"
        )
