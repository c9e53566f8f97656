"""The sandbox as a whole: start and close cleanly, DNS from Route 53's current weights."""

from __future__ import annotations

import socket
import threading
import tomllib
import urllib.parse
from collections import Counter
from collections.abc import Iterator

import dns.resolver
import pytest

from edge_router.settings import load as load_edge
from failover.config import load
from failover.sandbox.world import REGIONS, Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def fresh(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The module's sandbox, healed and back at weight 100 after the test."""
    yield sandbox
    sandbox.heal()
    sandbox.set_weights(dict.fromkeys(REGIONS, 100))


def answers(sb: Sandbox, n: int = 60) -> Counter[str]:
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = sb.dns_port
    r.cache = None
    out: Counter[str] = Counter()
    for _ in range(n):
        a = r.resolve(sb.record, "TXT")
        out[sb.region_of(b"".join(a[0].strings).decode()) or "?"] += 1  # type: ignore[attr-defined]
    return out


def test_the_sandbox_starts_and_closes_leaving_no_thread_or_port() -> None:
    before = set(threading.enumerate())
    sb = Sandbox()
    ports = sb.ports()
    assert len(ports) == 3
    assert sb.records() == dict.fromkeys(REGIONS, 100)
    sb.close()
    assert set(threading.enumerate()) <= before
    for port in ports[:2]:  # moto and the proxy listen on TCP
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # DNS on UDP
        s.bind(("127.0.0.1", ports[2]))
    assert not sb.dir.exists()


def test_dns_answers_follow_route53s_current_weights(fresh: Sandbox) -> None:
    assert set(answers(fresh)) == set(REGIONS)
    fresh.set_weights({"eu-west-1": 0, "us-east-1": 0})
    assert set(answers(fresh, 30)) == {"ap-southeast-2"}
    fresh.set_weights({"eu-west-1": 100, "ap-southeast-2": 0})
    assert set(answers(fresh, 30)) == {"eu-west-1"}


def test_every_weight_zero_spreads_answers_evenly_like_route53(fresh: Sandbox) -> None:
    fresh.set_weights(dict.fromkeys(REGIONS, 0))
    got = answers(fresh, 90)
    assert set(got) == set(REGIONS)
    assert min(got.values()) >= 10  # roughly a third each; 10 of 90 is far in the tail


def test_dns_carries_the_record_ttl_and_nxdomain_for_unknown_names(sandbox: Sandbox) -> None:
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = sandbox.dns_port
    assert r.resolve(sandbox.record, "TXT").rrset.ttl == sandbox.timings.ttl  # type: ignore[union-attr]
    with pytest.raises(dns.resolver.NXDOMAIN):
        r.resolve("nothing-here.example.com", "TXT")


def test_the_config_and_edge_settings_are_valid_and_name_the_sandbox(sandbox: Sandbox) -> None:
    config = load(str(sandbox.write_config(fall=3)), {})
    pool = config.pools[0]
    assert pool.zone_id == sandbox.zone_id
    assert {o.bucket for o in pool.origins} == set(sandbox.buckets.values())
    assert all(o.health.fall == 3 for o in pool.origins)
    settings = load_edge(sandbox.edge_settings())
    assert settings.nameservers == (("127.0.0.1", sandbox.dns_port),)
    assert set(settings.allowed_buckets) == set(sandbox.buckets.values())
    env = sandbox.env()
    assert env["AWS_ENDPOINT_URL_S3"] == env["AWS_ENDPOINT_URL_ROUTE_53"] == sandbox.endpoint_url


def test_the_sandbox_s3_endpoint_stays_the_ip_literal_127_0_0_1(sandbox: Sandbox) -> None:
    """The prober asks botocore for virtual-host addressing (each bucket's regional endpoint
    on AWS); botocore keeps path style only for an IP-literal endpoint. A name such as
    `localhost` would send every canary GET to BUCKET.localhost, which does not resolve."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        assert urllib.parse.urlsplit(sandbox.env()[var]).hostname == "127.0.0.1", var


def test_config_toml_rejects_an_unknown_key_by_name(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="fal"):
        sandbox.config_toml(fal=3)
    assert tomllib.loads(sandbox.config_toml())["daemon"]["log_format"] == "json"


def test_a_broken_bucket_breaks_only_that_region(fresh: Sandbox) -> None:
    import boto3

    fresh.break_bucket("us-east-1", "http_403")
    session = boto3.Session(
        aws_access_key_id="sandbox",
        aws_secret_access_key="sandbox",  # noqa: S106
    )
    for region, bucket in fresh.buckets.items():
        s3 = session.client("s3", region_name=region, endpoint_url=fresh.endpoint_url)
        if region == "us-east-1":
            with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
                s3.get_object(Bucket=bucket, Key="index.html")
        else:
            body = s3.get_object(Bucket=bucket, Key="index.html")["Body"].read()
            assert region.encode() in body
        s3.close()
    with pytest.raises(ValueError, match="regions"):
        fresh.break_bucket("mars-1", "reset")
