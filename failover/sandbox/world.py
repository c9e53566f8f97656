"""The local AWS world on loopback: strict moto (S3 + Route 53), the S3 fault proxy, DNS.

``Sandbox`` starts moto's server with Route 53 made strict, puts the fault proxy in front
of it (every client of the product talks to the proxy through botocore's standard
endpoint variables), and serves the hosted zone over DNS from what Route 53 holds *now*.
It creates three regional buckets with a canary and an ``index.html`` each, the hosted
zone and one weighted TXT set per region, and hands out the environment, a config for
``failover run`` and settings for the edge router.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.config
from moto.server import ThreadedMotoServer

from failover import canary
from failover.aws.route53 import parse_txt
from failover.model import quote_txt
from failover.sandbox import route53_strict, sandbox_config
from failover.sandbox.cloudwatch import Evaluator, health_of, start_evaluator
from failover.sandbox.dns import DnsResponder, WeightedAnswer
from failover.sandbox.faults import overrides_fault
from failover.sandbox.s3proxy import ROUTE53, ROUTE53_WRITES, Fault, S3FaultProxy
from failover.sandbox.sandbox_config import CANARY_KEY

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
ZONE = "example.com"
RECORD = "origin.example.com"
OVERRIDES_KEY = "failover/overrides.json"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}


@dataclass(frozen=True)
class Timings:
    """Fast settings for the sandbox: the demo finishes in a minute with these."""

    interval: float = 0.5
    timeout: float = 0.3
    fall: int = 2
    rise: int = 2
    hold_down: float = 1.0
    ttl: int = 1
    max_age: float = 3600.0  # a canary hours old (the `stale` fault) is unhealthy

    def bound(self) -> float:
        """The promised failover time: fall x interval + timeout + 1 s."""
        return self.fall * self.interval + self.timeout + 1.0


class Sandbox:
    """Everything started on construction; `close()` (or the `with` block) stops it all."""

    def __init__(
        self,
        *,
        timings: Timings | None = None,
        prefix: str | None = None,
        quiet: bool = True,
        backstop: bool = False,
    ) -> None:
        self.timings = timings or Timings()
        self.backstop = backstop  # emulate alarms and health checks (sandbox/cloudwatch.py)
        self.alarms: Evaluator | None = None
        self.prefix = prefix or f"sbx-{secrets.token_hex(3)}"
        self.buckets = {region: f"{self.prefix}-{region}" for region in REGIONS}
        self.ops_bucket = f"{self.prefix}-ops"  # holds the S3 overrides store, if used
        self.record = RECORD
        self.dir = Path(tempfile.mkdtemp(prefix="failover-sandbox-"))
        self._moto: ThreadedMotoServer | None = None
        self.proxy: S3FaultProxy | None = None
        self.dns: DnsResponder | None = None
        self._clients: list[Any] = []
        self._dns_lock = threading.Lock()
        if quiet:
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- start ----------------------------------------------------------------------
    def _start(self) -> None:
        # Process-wide and left installed on close: strictness never hurts another user.
        route53_strict.install()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self.proxy = S3FaultProxy(self.moto_url)
        session = boto3.Session(
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        cfg = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
        # Set-up and reads go straight to moto: faults in the proxy never hide the truth.
        self.route53 = session.client("route53", endpoint_url=self.moto_url, config=cfg)
        self._clients.append(self.route53)
        self.zone_id = self.route53.create_hosted_zone(
            Name=ZONE, CallerReference=secrets.token_hex(8)
        )["HostedZone"]["Id"].rsplit("/", 1)[-1]
        ops = session.client("s3", region_name="us-east-1", endpoint_url=self.moto_url)
        self._clients.append(ops)
        ops.create_bucket(Bucket=self.ops_bucket)  # empty: no overrides object yet
        now = time.time()
        changes: list[Any] = []
        for region, bucket in self.buckets.items():
            s3 = session.client("s3", region_name=region, endpoint_url=self.moto_url)
            self._clients.append(s3)
            extra: dict[str, Any] = {}
            if region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(Bucket=bucket, **extra)
            s3.put_object(
                Bucket=bucket,
                Key=CANARY_KEY,
                Body=canary.body(now, "sandbox"),
                ContentType="application/json",
            )
            s3.put_object(
                Bucket=bucket,
                Key="index.html",
                Body=f"<h1>served from {region} ({bucket})</h1>\n".encode(),
                ContentType="text/html",
            )
            changes.append(
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": self.record + ".",
                        "Type": "TXT",
                        "SetIdentifier": region,
                        "Weight": 100,
                        "TTL": self.timings.ttl,
                        "ResourceRecords": [{"Value": quote_txt(self.endpoint(region))}],
                    },
                }
            )
        self.route53.change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={"Comment": "sandbox set-up", "Changes": changes},
        )
        if self.backstop:
            self.cloudwatch, self.alarms = start_evaluator(
                session, self.moto_url, cfg, self.route53
            )
            self._clients.append(self.cloudwatch)
        self.dns = DnsResponder(self._lookup)

    def endpoint(self, region: str) -> str:
        """The S3 regional endpoint of a region's bucket: the TXT value naming it."""
        return f"{self.buckets[region]}.s3.{region}.amazonaws.com"

    # -- what the world holds ----------------------------------------------------------
    def _sets(self) -> list[Any]:
        with self._dns_lock:
            pages = self.route53.get_paginator("list_resource_record_sets").paginate(
                HostedZoneId=self.zone_id
            )
            return [rs for page in pages for rs in page["ResourceRecordSets"]]

    def _lookup(self, name: str) -> list[WeightedAnswer]:
        """Route 53's current weighted sets of a TXT name, as the DNS responder serves them."""
        wanted = name.rstrip(".").lower() + "."
        return [
            WeightedAnswer.of(
                int(rs.get("Weight", 0)),
                int(rs.get("TTL", 0)),
                *(parse_txt(rr["Value"]) for rr in rs.get("ResourceRecords", [])),
                health=health_of(self.alarms, rs.get("HealthCheckId")),
            )
            for rs in self._sets()
            if rs["Name"].lower() == wanted and rs["Type"] == "TXT"
        ]

    def records(self) -> dict[str, int]:
        """The weights Route 53 holds now for the record, by SetIdentifier (= region)."""
        wanted = self.record + "."
        return {
            rs["SetIdentifier"]: int(rs["Weight"])
            for rs in self._sets()
            if rs["Name"] == wanted and rs["Type"] == "TXT" and "SetIdentifier" in rs
        }

    def set_weights(self, weights: dict[str, int]) -> None:
        """Write weights by hand (UPSERT, as a person or CloudFormation would)."""
        changes: list[Any] = [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": self.record + ".",
                    "Type": "TXT",
                    "SetIdentifier": region,
                    "Weight": weight,
                    "TTL": self.timings.ttl,
                    "ResourceRecords": [{"Value": quote_txt(self.endpoint(region))}],
                },
            }
            for region, weight in weights.items()
        ]
        self.route53.change_resource_record_sets(
            HostedZoneId=self.zone_id, ChangeBatch={"Comment": "by hand", "Changes": changes}
        )

    def region_of(self, domain: str) -> str | None:
        """The region whose bucket an S3 endpoint names, or None if none of ours."""
        for region in REGIONS:
            if domain == self.endpoint(region):
                return region
        return None

    # -- faults ----------------------------------------------------------------------
    def break_bucket(self, region: str, kind: str, seconds: float | None = None) -> None:
        """Make one region's bucket misbehave (see `s3proxy.Kind`): `stale`, `future` and
        `empty` rewrite what its canary says, for freshness judged across the pool."""
        self._proxy().break_target(self._bucket(region), Fault.of(kind, seconds))

    def break_all(
        self, kind: str, seconds: float | None = None, regions: tuple[str, ...] = REGIONS
    ) -> None:
        """Make every bucket (or those of `regions`) misbehave at the same instant."""
        fault = Fault.of(kind, seconds)
        self._proxy().set_faults(dict.fromkeys((self._bucket(r) for r in regions), fault))

    def break_route53_writes(self, kind: str, seconds: float | None = None) -> None:
        """Make ChangeResourceRecordSets alone misbehave (e.g. `http_503`): reads still work."""
        self._proxy().break_target(ROUTE53_WRITES, Fault.of(kind, seconds))

    def break_route53(self, kind: str, seconds: float | None = None) -> None:
        """Make Route 53's API, as the product reaches it, misbehave (e.g. `slow` writes)."""
        self._proxy().break_target(ROUTE53, Fault.of(kind, seconds))

    @property
    def overrides_url(self) -> str:
        """An S3 overrides store in the sandbox's ops bucket (for `config_toml(overrides=...)`)."""
        return f"s3://{self.ops_bucket}/{OVERRIDES_KEY}"

    def break_overrides(self, name: str, seconds: float | None = None) -> None:
        """Make the S3 overrides store misbehave: `refuse`, `slow`, `hang` or `garbled`."""
        self._proxy().break_target(self.ops_bucket, Fault.of(overrides_fault(name), seconds))

    def heal_overrides(self) -> None:
        self._proxy().heal(self.ops_bucket)

    def heal(self, region: str | None = None) -> None:
        """Heal one region's bucket, or everything (Route 53 included) when none is named."""
        if region is None:
            self._proxy().heal()
        else:
            self._proxy().heal(self._bucket(region))

    def requests(self, region: str) -> int:
        """Requests the proxy has seen for a region's bucket."""
        return self._proxy().requests(self._bucket(region))

    def _bucket(self, region: str) -> str:
        try:
            return self.buckets[region]
        except KeyError:
            raise ValueError(f"no region {region!r} (regions: {', '.join(REGIONS)})") from None

    def _proxy(self) -> S3FaultProxy:
        if self.proxy is None:
            raise RuntimeError("the sandbox is closed")
        return self.proxy

    # -- what clients need ---------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        return self._proxy().url

    @property
    def dns_port(self) -> int:
        if self.dns is None:
            raise RuntimeError("the sandbox is closed")
        return self.dns.port

    def env(self) -> dict[str, str]:
        """Environment for the product: the standard endpoint variables and fake credentials."""
        url = self.endpoint_url
        return {
            "AWS_ENDPOINT_URL": url,
            "AWS_ENDPOINT_URL_S3": url,
            "AWS_ENDPOINT_URL_ROUTE_53": url,
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def child_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` without the user's AWS profile and tokens, plus `env()`: for subprocesses."""
        drop = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "FAILOVER_CONFIG")
        out = {k: v for k, v in base.items() if k not in drop}
        out.update(self.env(), AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        return out

    def config_toml(self, **overrides: object) -> str:
        """A valid config for these buckets and this record (`sandbox_config.render`)."""
        return sandbox_config.render(self, **overrides)

    def write_config(self, path: Path | None = None, **overrides: object) -> Path:
        """Write `config_toml(**overrides)` to `path` (default: in the sandbox's directory)."""
        target = path or self.dir / "failover.toml"
        target.write_text(self.config_toml(**overrides))
        return target

    def edge_settings(self, path: Path | None = None, **overrides: object) -> Path:
        """Write settings for the edge router that resolve through the sandbox's DNS."""
        doc: dict[str, object] = {
            "nameservers": [f"127.0.0.1:{self.dns_port}"],
            "timeout": 0.5,
            "min_ttl": 0.0,
            "max_ttl": float(self.timings.ttl),
            "stale": 3600.0,
            "retry": 0.5,
            "allowed_buckets": sorted(self.buckets.values()),
            **overrides,
        }
        target = path or self.dir / "edge-settings.json"
        target.write_text(json.dumps(doc, indent=2) + "\n")
        return target

    def ports(self) -> list[int]:
        """The loopback ports the sandbox holds (moto, proxy, DNS)."""
        out = []
        if self._moto is not None:
            out.append(self._moto.get_host_and_port()[1])
        if self.proxy is not None:
            out.append(self.proxy.port)
        if self.dns is not None:
            out.append(self.dns.port)
        return out

    # -- stop -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop DNS, the proxy and moto; release their ports; remove the temporary files."""
        if self.alarms is not None:
            self.alarms.close()  # idempotent: the DNS server may still ask it, and is told healthy
        if self.dns is not None:
            self.dns.close()
            self.dns = None
        if self.proxy is not None:
            self.proxy.close()
            self.proxy = None
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self._moto is not None:
            server = getattr(self._moto, "_server", None)
            self._moto.stop()
            if server is not None:
                server.server_close()  # moto's stop() leaves the listening socket open
            self._moto = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
