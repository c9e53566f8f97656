"""Where canaries are fetched, and the daemon's own faults: never evidence against an origin.

Endpoints are checked offline against botocore's own list of the `aws` partition's
Regions; the rest runs the real prober against the loopback server of `test_probe`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.credentials
import botocore.loaders
import botocore.session
import pytest
from prometheus_client import CollectorRegistry

from edge_router.names import endpoint_host
from failover.aws.fetch import Target
from failover.aws.probe import CREDENTIALS_MARGIN, Prober, Signed, own_fault
from failover.core import evidence, health
from failover.metrics import Metrics
from failover.model import Health, HealthSettings, Origin, OriginKey, Outcome, ProbeResult, State
from tests.test_probe import Server, origin, start

STATIC = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "secret"}


def aws_regions() -> list[str]:
    """Every Region of the `aws` partition botocore knows: its partitions and its S3 endpoints."""
    loader = botocore.loaders.create_loader()
    partitions = loader.load_data("partitions")["partitions"]
    regions = set(next(p for p in partitions if p["id"] == "aws")["regions"])
    endpoints = loader.load_data("endpoints")["partitions"]
    s3 = next(p for p in endpoints if p["partition"] == "aws")["services"]["s3"]["endpoints"]
    regions |= {r for r in s3 if "-" in r and not r.startswith(("fips-", "s3-", "aws-"))}
    return sorted(r for r in regions if not r.endswith("-global") and not r.startswith("aws-"))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No endpoint override, as on a real host."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    s = start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{s.port}")
    yield s
    s.stop()


def test_every_aws_region_is_probed_at_its_buckets_regional_endpoint(offline: None) -> None:
    """us-east-1 and the Regions launched after March 2019 included; no network needed."""
    regions = aws_regions()
    assert {"us-east-1", "af-south-1", "ap-east-1", "me-south-1", "eu-south-1"} <= set(regions)
    assert len(regions) >= 30
    prober = Prober(boto3.Session(**STATIC))
    try:
        for region in regions:
            o = Origin(
                "www", region, "canary-bucket", region, 100, "_failover/c.json", HealthSettings()
            )
            target = prober.signed(o).target
            want = endpoint_host("canary-bucket", region)
            assert (target.tls, target.host, target.port) == (True, want, 443), region
            assert f"\r\nHost: {want}\r\n".encode() in target.request, region
            assert target.request.startswith(b"GET /_failover/c.json?"), region
    finally:
        prober.close()


def _signed(**kw: Any) -> Signed:
    fields: dict[str, Any] = {
        "target": Target(False, "h", 80, b""),
        "amz_date": 1000.0,
        "expires": 900,
        "signed_at": 1000.0,
        "refresh": 200.0,
        "credentials_end": math.inf,
    }
    return Signed(**(fields | kw))


def test_a_url_is_not_used_past_its_credentials_expiry_less_a_margin() -> None:
    s = _signed(credentials_end=1300.0)
    assert s.usable(1300.0 - CREDENTIALS_MARGIN - 1, skew=0.0)
    assert not s.usable(1300.0 - CREDENTIALS_MARGIN, skew=0.0)
    assert _signed().usable(1000.0 + 900 - 200 - 1, skew=0.0)
    assert not _signed().usable(1000.0 + 900 - 200, skew=0.0)


def test_a_local_clock_behind_s3s_shortens_a_urls_use() -> None:
    """S3 counts a URL's life on its own clock: 400 s behind, it ends 400 s sooner for us."""
    assert _signed().usable(1299.0, skew=0.0)
    assert not _signed().usable(1300.0, skew=400.0)
    assert not _signed(credentials_end=1800.0).usable(1800.0 - CREDENTIALS_MARGIN - 399, 400.0)


def refusal(code: str, message: str = "") -> bytes:
    return f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ExpiredToken"),
        (400, "InvalidToken"),
        (400, "TokenRefreshRequired"),
        (403, "RequestTimeTooSkewed"),
        (403, "SignatureDoesNotMatch"),
        (403, "InvalidAccessKeyId"),
    ],
)
def test_s3_refusing_our_credentials_or_clock_is_our_own_fault(status: int, code: str) -> None:
    assert own_fault(status, refusal(code), None, _signed()) == code


def test_an_expired_url_is_told_by_the_message_and_s3s_date_never_the_code_alone() -> None:
    expired = refusal("AccessDenied", "Request has expired")
    end = 1000.0 + 900
    assert own_fault(403, expired, end, _signed()) == "RequestExpired"
    assert own_fault(403, expired, end - 1, _signed()) is None  # S3's clock: still valid
    assert own_fault(403, expired, None, _signed()) is None  # no Date: cannot tell
    assert own_fault(403, refusal("AccessDenied", "Access Denied"), end + 60, _signed()) is None
    assert own_fault(503, refusal("ExpiredToken"), None, _signed()) is None  # not a refusal


@pytest.mark.parametrize(
    ("case", "detail"),
    [("skewed", "RequestTimeTooSkewed"), ("urlexpired", "RequestExpired")],
)
def test_the_prober_reports_our_own_faults_as_such(server: Server, case: str, detail: str) -> None:
    prober = Prober(boto3.Session(**STATIC))
    try:
        result = prober.probe(origin(case))
    finally:
        prober.close()
    assert (result.outcome, result.detail) == (Outcome.CREDENTIALS, detail)
    assert result.skew is not None


def test_access_denied_saying_expired_while_s3s_clock_disagrees_is_evidence(
    server: Server,
) -> None:
    prober = Prober(boto3.Session(**STATIC))
    try:
        assert prober.probe(origin("deniedexpired")).outcome is Outcome.HTTP_403
    finally:
        prober.close()


def test_expired_token_gets_fresh_credentials_and_a_re_signed_url(server: Server) -> None:
    """The refused URL is not reused: the next probe signs with renewed credentials."""
    renewed: list[boto3.Session] = []

    def renew(_: boto3.Session) -> boto3.Session:
        renewed.append(boto3.Session(**STATIC, aws_session_token="token-2"))  # noqa: S106 - a fake
        return renewed[-1]

    prober = Prober(boto3.Session(**STATIC, aws_session_token="token-1"), renew=renew)  # noqa: S106
    try:
        first = prober.probe(origin("expiredtoken"))
        second = prober.probe(origin("expiredtoken"))
    finally:
        prober.close()
    assert (first.outcome, first.detail, first.status) == (Outcome.CREDENTIALS, "ExpiredToken", 400)
    assert second.outcome is Outcome.OK, second
    assert len(renewed) == 1
    tokens = [parse_qs(urlsplit(p).query)["X-Amz-Security-Token"] for p in server.paths]
    assert tokens == [["token-1"], ["token-2"]]


class ShortLived(botocore.credentials.CredentialProvider):
    """Like an instance profile near the end of a session: each refresh good for 200 s."""

    METHOD = "short-lived"

    def __init__(self) -> None:
        self.issued = 0

    def fetch(self) -> dict[str, str]:
        self.issued += 1
        expiry = datetime.now(UTC) + timedelta(seconds=200)
        return {
            "access_key": "AKIDTEST",
            "secret_key": "secret",
            "token": f"short-{self.issued}",
            "expiry_time": expiry.isoformat(),
        }

    def load(self) -> botocore.credentials.RefreshableCredentials:
        return botocore.credentials.RefreshableCredentials.create_from_metadata(
            self.fetch(), self.fetch, self.METHOD
        )


def test_a_cached_url_is_re_signed_before_its_credentials_expire(server: Server) -> None:
    """Credentials good for 200 s: the URL is reused at +100 s, re-signed by +150 s."""
    bs = botocore.session.get_session()
    bs.register_component(
        "credential_provider", botocore.credentials.CredentialResolver([ShortLived()])
    )
    t0 = datetime.now(UTC).timestamp()
    now = [t0]
    prober = Prober(boto3.Session(botocore_session=bs), wall=lambda: now[0])
    try:
        for at in (0.0, 100.0, 150.0):
            now[0] = t0 + at
            assert prober.probe(origin("ok")).outcome is Outcome.OK
    finally:
        prober.close()
    first, reused, after = server.paths
    assert reused == first
    assert after != first


def test_a_clock_behind_s3s_gets_urls_that_live_longer_and_are_re_signed_sooner(
    server: Server,
) -> None:
    now = [datetime.now(UTC).timestamp()]
    prober = Prober(boto3.Session(**STATIC), wall=lambda: now[0])
    try:
        result = prober.probe(origin("aheadclock"))
        assert result.skew is not None
        assert 398 <= result.skew <= 402
        assert prober.skew == result.skew
        now[0] += 400  # 800 s into the URL's 900 by S3's clock: too close to its end
        assert prober.probe(origin("aheadclock")).outcome is Outcome.OK
    finally:
        prober.close()
    first, second = (parse_qs(urlsplit(p).query)["X-Amz-Expires"][0] for p in server.paths)
    assert int(first) == 900
    assert 900 + 398 <= int(second) <= 900 + 402


KEY = OriginKey("www", "eu-west-1")
ORIGIN = Origin("www", "eu-west-1", "b", "eu-west-1", 100, "k", HealthSettings(fall=1))


def test_an_own_fault_never_steps_health_and_is_reported() -> None:
    up = Health(state=State.UP, successes=5)
    result = ProbeResult(KEY, Outcome.CREDENTIALS, 0.01, 400, detail="ExpiredToken", skew=2.0)
    for blind in (False, True):
        after, said = health.observe(ORIGIN, up, 1.0, result, 100.0, blind=blind)
        assert after == up
        assert [e.name for e in said] == ["probe_credentials_failed"]
        assert said[0].fields["detail"] == "ExpiredToken"


def test_a_round_of_only_own_faults_and_transport_failures_is_blind() -> None:
    own = ProbeResult(KEY, Outcome.CREDENTIALS, 0.01, 403, detail="RequestTimeTooSkewed")
    other = OriginKey("www", "us-east-1")
    lost = ProbeResult(other, Outcome.TIMEOUT, 1.0)
    assert evidence.blind({KEY: own})
    assert evidence.blind({KEY: own, other: lost})
    assert not evidence.blind({KEY: own, other: ProbeResult(other, Outcome.HTTP_5XX, 0.1, 503)})


def test_own_faults_and_clock_skew_are_exported() -> None:
    m = Metrics(CollectorRegistry())
    get = m.registry.get_sample_value
    assert get("failover_probe_credentials_failed_total", {"code": "ExpiredToken"}) == 0
    m.observe_probe(
        "eu-west-1",
        ProbeResult(KEY, Outcome.CREDENTIALS, 0.01, 400, detail="ExpiredToken", skew=-3.0),
    )
    m.observe_probe(
        "eu-west-1",
        ProbeResult(KEY, Outcome.CREDENTIALS, 0.0, detail="CannotSign: NoCredentialsError"),
    )
    assert get("failover_probe_credentials_failed_total", {"code": "ExpiredToken"}) == 1
    assert get("failover_probe_credentials_failed_total", {"code": "CannotSign"}) == 1
    assert get("failover_clock_skew_seconds") == -3.0
    assert (
        get(
            "failover_probe_total", {"pool": "www", "origin": "eu-west-1", "outcome": "credentials"}
        )
        == 2
    )
