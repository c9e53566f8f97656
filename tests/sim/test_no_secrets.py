"""No credential, signature or presigned URL in any log event or metric, even on error paths."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import boto3
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from failover.aws.probe import Prober
from failover.metrics import Metrics
from failover.model import HealthSettings
from failover.overrides import FileStore
from failover.round import Runner
from tests.conftest import Zone
from tests.e2e_support import drop_canary, free_port, make_buckets
from tests.factories import make_config, make_pool

KEY_ID = "AKIAFAILOVERSECRET01"
SECRET = "fAkE/SecretKey+ForFailoverLeakTests0123456"  # noqa: S105 - a recognisable fake
TOKEN = "FakeSessionTokenForFailoverLeakTests//IQoJb3JpZ2luX2VjEXAMPLE=="  # noqa: S105
FORBIDDEN = (
    KEY_ID,
    SECRET,
    TOKEN,
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "Signature=",
    "AWSAccessKeyId",
    "Authorization",
    "?X-Amz",
)


@pytest.mark.timeout(60)
def test_logs_and_metrics_never_carry_credentials_or_signed_urls(
    zone: Zone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    buckets = make_buckets(f"leak-{uuid.uuid4().hex[:8]}")
    prefix = next(iter(buckets.values())).rsplit("-", 3)[0]
    h = HealthSettings(timeout=0.5, fall=1, rise=1, hold_down=1.0, expect="never-there")
    pool = make_pool(
        record="www.example.com", regions=tuple(buckets), bucket_prefix=prefix, health=h
    )
    drop_canary(buckets["eu-west-1"], "eu-west-1")  # 404 (or 403): an error answer
    missing = dataclasses.replace(
        pool,
        name="gone",
        record="gone.example.com",
        zone_id="ZNOSUCHZONE0000",  # Route 53 answers an error for this zone
        origins=tuple(
            dataclasses.replace(o, pool="gone", bucket=f"{prefix}-nosuch") for o in pool.origins[:1]
        ),
    )
    config = make_config(dataclasses.replace(pool, zone_id=zone.id), missing)
    zone.put(pool, dict.fromkeys(buckets, 100))
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    text: list[str] = []
    with capture_logs() as logs:
        for endpoint in (None, f"http://127.0.0.1:{free_port()}"):  # then a dead endpoint
            if endpoint:
                monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
            prober = Prober(boto3.Session())
            try:
                runner = Runner(config, prober, zone.store, FileStore(tmp_path / "o.json"), metrics)
                if endpoint is None:
                    metrics.watch(runner.snapshot)  # /metrics reads the live state
                for _ in range(3):
                    report = runner.run_round()
                    assert report.error == ""
                text.append(json.dumps(runner.snapshot(), default=str))
                # The prober does hold signed URLs carrying the session token: what must
                # not leak exists, so the search below can find it if it does.
                urls = [s.target.request.decode("latin-1") for s in prober._targets.values()]
                assert any("X-Amz-Signature" in u and "X-Amz-Security-Token" in u for u in urls)
            finally:
                prober.close()
    events = {e["event"] for e in logs}
    outcomes = {e["outcome"] for e in logs if e["event"] == "probe_failed"}
    assert {"probe_failed", "route53_read_failed"} <= events
    assert "mismatch" in outcomes
    assert outcomes & {"connection", "timeout"}  # the dead endpoint
    assert outcomes & {"http_404", "http_403"}
    text += [json.dumps(e, default=str) for e in logs]
    text.append(generate_latest(registry).decode())
    found = {f: [t[:300] for t in text if f.lower() in t.lower()][:1] for f in FORBIDDEN}
    assert not {f: v for f, v in found.items() if v}
