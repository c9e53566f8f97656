"""The slower paths the scale benchmark compares against: each one cost the daemon is spared."""

from __future__ import annotations

from typing import Any

import botocore.config
import urllib3
from prometheus_client import CollectorRegistry, Counter

from bench.threaded_probe import ThreadedProber
from failover.aws.probe import Prober, classify
from failover.metrics import Metrics
from failover.model import CANARY_BYTES, Origin, Outcome, ProbeResult


class Boto3Prober(ThreadedProber):
    """A boto3 `get_object` per probe: build, sign and send a request from scratch each time."""

    def probe(self, origin: Origin) -> ProbeResult:
        started = self._clock()
        client = self._clients.get(origin.region)
        if client is None:
            cfg = botocore.config.Config(
                signature_version="s3v4",
                retries={"total_max_attempts": 1},
                connect_timeout=origin.health.timeout,
                read_timeout=origin.health.timeout,
                max_pool_connections=64,
            )
            client = self._session.client("s3", region_name=origin.region, config=cfg)
            self._clients[origin.region] = client
        try:
            resp = client.get_object(
                Bucket=origin.bucket, Key=origin.canary, Range=f"bytes=0-{CANARY_BYTES - 1}"
            )
            status, body = 206, resp["Body"].read(CANARY_BYTES)
        except client.exceptions.ClientError as e:
            status, body = int(e.response["ResponseMetadata"]["HTTPStatusCode"]), b""
        except Exception as e:  # noqa: BLE001 - a benchmark variant classifies coarsely
            return ProbeResult(origin.key, Outcome.CONNECTION, 0.0, detail=type(e).__name__)
        outcome, age, detail = classify(origin, status, body, self._wall())
        return ProbeResult(origin.key, outcome, self._clock() - started, status, age, detail)


class ResignProber(ThreadedProber):
    """Presign the canary URL again for every probe instead of reusing it for minutes."""

    def _url(self, origin: Origin) -> str:
        self._urls.clear()
        return super()._url(origin)


class NewConnectionProber(ThreadedProber):
    """Open a new TCP connection for every probe (`Connection: close`), no keep-alive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._headers = {**self._headers, "Connection": "close"}


class SmallPoolProber(ThreadedProber):
    """The prober as first written: 32 threads sharing a pool that keeps only 4 connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "workers": 32})
        self._http = urllib3.PoolManager(num_pools=64, maxsize=4, retries=False)


class CounterMetrics(Metrics):
    """Per-origin probe counts in a labelled Counter, updated on every probe (as first written)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.registry.unregister(self.probes)
        self.probe_counter = Counter(
            "failover_probe",
            "Canary probes by outcome.",
            ["pool", "origin", "outcome"],
            registry=self.registry,
        )

    def observe_probe(self, region: str, result: ProbeResult) -> None:
        self.probe_counter.labels(result.key.pool, result.key.origin, result.outcome.value).inc()
        self.probe_seconds.labels(region).observe(result.latency)


class WideThreadedProber(ThreadedProber):
    """The threaded prober with 128 threads: more probes in flight, one thread each."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "workers": 128})


PROBERS: dict[str, type[ThreadedProber] | type[Prober]] = {
    "boto3": Boto3Prober,
    "resign": ResignProber,
    "newconn": NewConnectionProber,
    "smallpool": SmallPoolProber,
    "threads": ThreadedProber,
    "threads128": WideThreadedProber,
    "current": Prober,
}
