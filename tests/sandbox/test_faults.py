"""Injected Route 53 faults reach boto3 as AWS's would: right codes, statuses and retry counts."""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from failover.sandbox.faults import inject_route53_fault

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


def route53(config: Config = ONE_ATTEMPT, **kwargs: Any) -> Any:
    return boto3.client("route53", region_name="us-east-1", config=config, **CREDENTIALS, **kwargs)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("throttling", 400, "Throttling", "Rate exceeded"),
        (
            "prior_request_not_complete",
            400,
            "PriorRequestNotComplete",
            "The request was rejected because Route 53 was still processing a prior request.",
        ),
        ("service_unavailable", 503, "ServiceUnavailable", "Service unavailable"),
    ],
)
def test_an_injected_error_raises_client_error_after_exactly_one_attempt(
    aws: None, kind: Any, status: int, code: str, message: str
) -> None:
    client = route53()
    handle = inject_route53_fault(client, "ListHostedZones", kind)
    with pytest.raises(ClientError) as caught:
        client.list_hosted_zones()
    error = caught.value.response
    assert (error["Error"]["Code"], error["Error"]["Message"]) == (code, message)
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error["ResponseMetadata"]["RetryAttempts"] == 0
    assert (handle.seen, handle.injected) == (1, 1)
    client.list_hosted_zones()  # the budget of one is spent: the call reaches moto
    assert (handle.seen, handle.injected) == (2, 1)


def test_an_injected_read_timeout_raises_read_timeout_error_after_one_attempt(aws: None) -> None:
    client = route53()
    handle = inject_route53_fault(client, "GetChange", "read_timeout")
    with pytest.raises(ReadTimeoutError):
        client.get_change(Id="C123")
    assert (handle.seen, handle.injected) == (1, 1)


@pytest.mark.parametrize("kind", ["throttling", "prior_request_not_complete", "read_timeout"])
def test_standard_retries_treat_injected_faults_as_transient(
    aws: None, monkeypatch: pytest.MonkeyPatch, kind: Any
) -> None:
    """Two attempts allowed, one fault injected: the call succeeds on the retry."""
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=delays.append))
    client = route53(Config(retries={"mode": "standard", "total_max_attempts": 2}))
    handle = inject_route53_fault(client, "ListHostedZones", kind)
    reply = client.list_hosted_zones()
    assert reply["ResponseMetadata"]["RetryAttempts"] == 1
    assert (handle.seen, handle.injected, len(delays)) == (2, 1, 1)


def test_a_predicate_picks_which_requests_fail(aws: None) -> None:
    client = route53()
    zones = [
        client.create_hosted_zone(Name=f"z{i}.example.com", CallerReference=str(i))["HostedZone"]
        for i in range(2)
    ]
    victim = zones[0]["Id"].rsplit("/", 1)[-1]
    handle = inject_route53_fault(
        client, "GetHostedZone", "throttling", times=None, when=lambda req: victim in req.url
    )
    for _ in range(3):
        with pytest.raises(ClientError):
            client.get_hosted_zone(Id=zones[0]["Id"])
        client.get_hosted_zone(Id=zones[1]["Id"])
    assert (handle.seen, handle.injected) == (6, 3)


def test_removing_the_handle_stops_injection(aws: None) -> None:
    client = route53()
    with (
        inject_route53_fault(client, "ListHostedZones", "throttling", times=None) as handle,
        pytest.raises(ClientError),
    ):
        client.list_hosted_zones()
    client.list_hosted_zones()
    handle.remove()
    assert handle.injected == 1


def test_a_fault_on_a_session_reaches_every_client_it_makes(aws: None) -> None:
    session = boto3.Session(region_name="us-east-1", **CREDENTIALS)
    handle = inject_route53_fault(session, "ListHostedZones", "throttling", times=2)
    for _ in range(2):
        with pytest.raises(ClientError):
            session.client("route53", config=ONE_ATTEMPT).list_hosted_zones()
    assert handle.injected == 2


def test_faults_work_against_a_moto_server_on_loopback() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = route53(endpoint_url=f"http://{host}:{port}")
        handle = inject_route53_fault(client, "CreateHostedZone", "throttling")
        with pytest.raises(ClientError) as caught:
            client.create_hosted_zone(Name="example.com", CallerReference="a")
        assert caught.value.response["Error"]["Code"] == "Throttling"
        client.create_hosted_zone(Name="example.com", CallerReference="b")
        names = [zone["Name"] for zone in client.list_hosted_zones()["HostedZones"]]
        assert names.count("example.com.") == 1, "the injected call must not reach the server"
        assert handle.injected == 1
    finally:
        server.stop()


def test_unknown_fault_kinds_and_negative_budgets_are_refused(aws: None) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        inject_route53_fault(route53(), "ListHostedZones", "gremlins")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times must be"):
        inject_route53_fault(route53(), "ListHostedZones", "throttling", times=-1)
