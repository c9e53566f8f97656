"""Shared fixtures: fake AWS credentials, in-process moto with a strict Route 53, a zone."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
import structlog
from moto.server import ThreadedMotoServer

from failover.aws.route53 import RateLimiter, Route53Store
from failover.daemon import route53_client
from failover.model import Pool
from failover.sandbox import route53_strict
from tests.factories import wset

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture(autouse=True)
def _fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real AWS account or read the developer's credentials."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "FAILOVER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture(autouse=True)
def _structlog_reset() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@dataclass
class Zone:
    id: str
    client: object  # the boto3 Route 53 client, with one attempt per call
    store: Route53Store

    def put(self, pool: Pool, weights: dict[str, int], ttl: int | None = None) -> None:
        """Write the pool's sets as a human or CloudFormation would (UPSERT)."""
        changes = []
        for oid, w in weights.items():
            s = wset(pool, oid, w, ttl)
            changes.append(
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": s.name + ".",
                        "Type": "TXT",
                        "SetIdentifier": s.set_id,
                        "Weight": s.weight,
                        "TTL": s.ttl,
                        "ResourceRecords": [{"Value": f'"{v}"'} for v in s.values],
                    },
                }
            )
        self.client.change_resource_record_sets(  # type: ignore[attr-defined]
            HostedZoneId=self.id, ChangeBatch={"Changes": changes}
        )

    def weights(self, pool: Pool) -> dict[str, int]:
        rec = self.store.read(self.id, [pool.record])[pool.record]
        return {k: s.weight for k, s in rec.sets.items()}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on loopback, its Route 53 made strict like AWS; one for the session.

    Tests stay apart by using zones and buckets of their own.
    """
    route53_strict.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    route53_strict.uninstall()


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every boto3 client of the test at the moto server, as the product would be."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def zone(endpoint: str) -> Zone:
    """A fresh hosted zone example.com on the strict moto server."""
    client = route53_client(boto3.Session())
    zid = client.create_hosted_zone(  # type: ignore[attr-defined]
        Name="example.com", CallerReference=uuid.uuid4().hex
    )["HostedZone"]["Id"].rsplit("/", 1)[-1]
    store = Route53Store(client, RateLimiter(1000.0), sleep=lambda s: None)  # type: ignore[arg-type]
    return Zone(zid, client, store)
