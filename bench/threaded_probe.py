"""The prober as first written: a thread per probe in flight, urllib3 for HTTP (a bench baseline)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.exceptions
import urllib3
import urllib3.exceptions

from failover.aws.probe import URL_LIFETIME, URL_REFRESH, classify
from failover.model import CANARY_BYTES, Origin, OriginKey, Outcome, ProbeResult

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ThreadedProber:
    """Probes origins concurrently, each within its own overall deadline, never retried."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        workers: int = 32,
        hosts: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._session = session or boto3.Session()
        self._clock = clock
        self._wall = wall
        self._clients: dict[str, S3Client] = {}
        self._urls: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        # Keep one idle connection per worker for each host, so that with one shared
        # endpoint no worker opens a new connection per probe; with virtual-hosted
        # buckets (one host each) a pool per bucket is kept, up to `hosts`.
        self._http = urllib3.PoolManager(num_pools=hosts, maxsize=workers, retries=False)
        self._headers = {"Range": f"bytes=0-{CANARY_BYTES - 1}"}
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._http.clear()

    def probe_all(self, origins: Sequence[Origin]) -> dict[OriginKey, ProbeResult]:
        return dict(
            zip((o.key for o in origins), self._executor.map(self.probe, origins), strict=True)
        )

    def probe(self, origin: Origin) -> ProbeResult:
        """One GET of the canary, bounded to `origin.health.timeout` seconds in all."""
        started = self._clock()
        deadline = started + origin.health.timeout
        try:
            url = self._url(origin)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            # Cannot sign (no credentials, bad endpoint): the daemon's own fault, like a
            # dead network, so it counts as no answer and can freeze writes.
            return ProbeResult(
                origin.key, Outcome.CONNECTION, 0.0, detail=f"cannot sign: {type(e).__name__}"
            )
        status: int | None = None
        try:
            status, body = self._fetch(url, deadline)
        except TimeoutError:
            return self._result(
                origin, Outcome.TIMEOUT, started, status, detail="deadline exceeded"
            )
        except (urllib3.exceptions.HTTPError, OSError) as e:
            outcome = Outcome.TIMEOUT if _is_timeout(e) else Outcome.CONNECTION
            return self._result(origin, outcome, started, status, detail=type(e).__name__)
        outcome, age, detail = classify(origin, status, body, self._wall())
        return self._result(origin, outcome, started, status, age, detail)

    def _result(
        self,
        origin: Origin,
        outcome: Outcome,
        started: float,
        status: int | None,
        age: float | None = None,
        detail: str = "",
    ) -> ProbeResult:
        return ProbeResult(origin.key, outcome, self._clock() - started, status, age, detail)

    def _fetch(self, url: str, deadline: float) -> tuple[int, bytes]:
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise TimeoutError
        resp = self._http.request(
            "GET",
            url,
            headers=self._headers,
            preload_content=False,
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
            redirect=False,
        )
        chunks: list[bytes] = []
        size = 0
        complete = False
        try:
            while size < CANARY_BYTES:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise TimeoutError
                _set_read_timeout(resp, remaining)
                chunk = resp.read1(CANARY_BYTES - size)
                if not chunk:
                    complete = True
                    break
                chunks.append(chunk)
                size += len(chunk)
            return resp.status, b"".join(chunks)
        finally:
            # A body we stopped reading early cannot be reused on the connection.
            if not complete:
                resp.close()
            resp.release_conn()

    def _url(self, origin: Origin) -> str:
        ident = (origin.region, origin.bucket, origin.canary)
        now = self._wall()
        with self._lock:
            cached = self._urls.get(ident)
            if cached is not None and cached[1] > now:
                return cached[0]
            client = self._clients.get(origin.region)
            if client is None:
                client = self._session.client(
                    "s3",
                    region_name=origin.region,
                    config=botocore.config.Config(signature_version="s3v4"),
                )
                self._clients[origin.region] = client
        url = client.generate_presigned_url(
            "get_object",
            Params={"Bucket": origin.bucket, "Key": origin.canary},
            ExpiresIn=URL_LIFETIME,
        )
        with self._lock:
            self._urls[ident] = (url, now + URL_LIFETIME - URL_REFRESH)
        return url


def _set_read_timeout(resp: Any, seconds: float) -> None:
    conn = getattr(resp, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _is_timeout(e: BaseException) -> bool:
    if isinstance(e, urllib3.exceptions.TimeoutError | TimeoutError):
        return True
    reason = getattr(e, "reason", None) or (e.args[0] if e.args else None)
    return isinstance(reason, BaseException) and reason is not e and _is_timeout(reason)
