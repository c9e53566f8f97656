"""What the demo watches: the real daemon in a subprocess, the real edge router, DNS answers.

Each observer records what it saw with the wall-clock time it saw it, so a timeline can be
built from observations rather than from the script that caused them.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import boto3
import botocore.config
import botocore.exceptions
import dns.exception
import dns.resolver

from edge_router import handler as edge_handler
from edge_router.settings import load as load_edge_settings
from failover.sandbox.world import Sandbox

POLL = 0.05


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    """Poll `check` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(POLL)
    return check()


def event_time(event: dict[str, Any], fallback: float) -> float:
    """The wall-clock time a structlog JSON event carries, else `fallback`."""
    stamp = event.get("timestamp")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return fallback


@dataclass(frozen=True)
class Seen:
    """One daemon log event and when it happened (its own timestamp, wall clock)."""

    at: float
    event: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.event.get("event", ""))


class DaemonProcess:
    """`python -m failover run --config FILE` in a subprocess; its JSON log read as it comes."""

    def __init__(
        self, config: Path, env: dict[str, str], on_event: Callable[[Seen], None] | None = None
    ) -> None:
        self._on_event = on_event
        self._seen: list[Seen] = []
        self.other: list[str] = []  # lines that are not JSON events (tracebacks, warnings)
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "failover", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        assert self.proc.stdout is not None  # noqa: S101 - stdout=PIPE sets it
        self._reader = threading.Thread(
            target=self._read, args=(self.proc.stdout,), name="daemon-log", daemon=True
        )
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                with self._lock:
                    self.other.append(line)
                continue
            seen = Seen(event_time(doc, time.time()), doc)
            with self._lock:
                self._seen.append(seen)
            if self._on_event is not None:
                self._on_event(seen)

    def events(self, since: float = 0.0, name: str | None = None) -> list[Seen]:
        with self._lock:
            return [s for s in self._seen if s.at >= since and (name is None or s.name == name)]

    def first(
        self, name: str, since: float, where: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> Seen | None:
        return next((s for s in self.events(since, name) if where(s.event)), None)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it does not stop in time; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return int(self.proc.returncode)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """Status and body of a GET on loopback (an HTTP error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback URLs
            return int(r.status), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def origin_request(record: str, fallback: str) -> dict[str, Any]:
    """An origin-request event as CloudFront sends it, for an S3 origin carrying X-DNS-ORIGIN."""
    return copy.deepcopy(
        {
            "Records": [
                {
                    "cf": {
                        "config": {
                            "distributionDomainName": "d111111abcdef8.cloudfront.net",
                            "distributionId": "EDFDVBD6EXAMPLE",
                            "eventType": "origin-request",
                            "requestId": "sandbox",
                        },
                        "request": {
                            "clientIp": "203.0.113.178",
                            "headers": {"host": [{"key": "Host", "value": fallback}]},
                            "method": "GET",
                            "origin": {
                                "s3": {
                                    "authMethod": "origin-access-identity",
                                    "customHeaders": {
                                        "x-dns-origin": [{"key": "X-DNS-ORIGIN", "value": record}]
                                    },
                                    "domainName": fallback,
                                    "path": "",
                                    "region": "us-east-1",
                                }
                            },
                            "querystring": "",
                            "uri": "/index.html",
                        },
                    }
                }
            ]
        }
    )


@dataclass(frozen=True)
class Hit:
    """One request through the edge router: when, which region it reached, what S3 said."""

    at: float
    region: str  # a sandbox region, or "fallback" when the router left the request alone
    status: str  # "200", "503", "timeout", "reset", …


class EdgeStream:
    """A steady stream of origin requests through the real handler, each fetched from S3."""

    FALLBACK = "fallback-origin.s3.us-east-1.amazonaws.com"

    def __init__(self, sandbox: Sandbox, settings: Path, every: float = 0.05) -> None:
        self.sandbox = sandbox
        self.every = every
        self.router_events: list[dict[str, Any]] = []
        router = edge_handler.Router(load_edge_settings(settings), log=self._log)
        edge_handler.install(router)
        cfg = botocore.config.Config(
            connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1}
        )
        creds = _credentials(sandbox)
        session = boto3.Session(
            aws_access_key_id=creds["aws_access_key_id"],
            aws_secret_access_key=creds["aws_secret_access_key"],
        )
        self._s3 = {
            r: session.client("s3", region_name=r, endpoint_url=sandbox.endpoint_url, config=cfg)
            for r in sandbox.buckets
        }
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-stream", daemon=True)
        self._thread.start()

    def _log(self, event: str, **fields: Any) -> None:
        self.router_events.append({"event": event, **fields})

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._hits_append(self.one())

    def _hits_append(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def one(self) -> Hit:
        """One request: the router picks the bucket, then the object is fetched from it."""
        event = origin_request(self.sandbox.record, self.FALLBACK)
        out = edge_handler.handler(event, None)
        s3 = out["origin"]["s3"]
        at = time.time()
        region = self.sandbox.region_of(s3["domainName"])
        if region is None:
            return Hit(at, "fallback", "-")
        try:
            got = self._s3[region].get_object(Bucket=self.sandbox.buckets[region], Key="index.html")
            got["Body"].read()
            status = "200"
        except botocore.exceptions.ClientError as e:
            status = str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "error"))
        except botocore.exceptions.ReadTimeoutError:
            status = "timeout"
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            status = type(e).__name__
        return Hit(at, region, status)

    def hits(self, since: float = 0.0) -> list[Hit]:
        with self._lock:
            return [h for h in self._hits if h.at >= since]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for client in self._s3.values():
            client.close()
        edge_handler.install(None)


def tally(hits: list[Hit]) -> str:
    """`eu-west-1 x3 (200), us-east-1 x5 (200)` for a list of hits."""
    by: Counter[tuple[str, str]] = Counter((h.region, h.status) for h in hits)
    return ", ".join(f"{r} x{n} ({s})" for (r, s), n in sorted(by.items())) or "no requests"


class DnsSampler:
    """Asks the sandbox's DNS for the record, as a resolver would, and tallies the answers."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._resolver = dns.resolver.Resolver(configure=False)
        self._resolver.nameservers = ["127.0.0.1"]
        self._resolver.port = sandbox.dns_port
        self._resolver.lifetime = 1.0
        self._resolver.cache = None

    def sample(self, n: int = 20) -> Counter[str]:
        """Regions named by `n` answers (`nxdomain`/`error` for failures)."""
        out: Counter[str] = Counter()
        for _ in range(n):
            try:
                answer = self._resolver.resolve(self.sandbox.record, "TXT")
                value = b"".join(answer[0].strings).decode()
                out[self.sandbox.region_of(value) or value] += 1
            except dns.resolver.NXDOMAIN:
                out["nxdomain"] += 1
            except dns.exception.DNSException:
                out["error"] += 1
        return out


def _credentials(sandbox: Sandbox) -> dict[str, str]:
    env = sandbox.env()
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def child_env(sandbox: Sandbox) -> dict[str, str]:
    """This process's environment, cleaned of AWS profiles, pointed at the sandbox."""
    return sandbox.child_env(os.environ)
