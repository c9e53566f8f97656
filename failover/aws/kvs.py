"""The CloudFront KeyValueStore data plane: read the store's ETag and a key, write a key by CAS.

Facts relied on (AWS documentation, CloudFront KeyValueStore API reference):

- DescribeKeyValueStore returns the store's `ETag`; PutKey takes `IfMatch`, "the
  current version (ETag) of the Key Value Store that you are putting keys into, which
  you can get using DescribeKeyValueStore", and answers with the new ETag. The ETag
  is the whole store's: a write to any key changes it, and a stale one is refused
  with ConflictException (HTTP 409). GetKey returns no ETag, so a write reads the
  ETag first and the key second: a write landing between the two makes our PUT stale.
- GetKey on a key the store does not hold answers ResourceNotFoundException (404)
  (unconfirmed for a missing key as opposed to a missing store: DescribeKeyValueStore
  succeeding first tells the two apart here).
- The client signs with SigV4A (`AWS4-ECDSA-P256-SHA256`), which botocore does only
  with awscrt installed, and session tokens must come from a regional STS endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import botocore.config
import botocore.exceptions

from failover.aws.route53 import RateLimiter
from failover.errors import FailoverError
from failover.model import KvsSettings

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_cloudfront_keyvaluestore import CloudFrontKeyValueStoreClient

TRANSIENT = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.ReadTimeoutError,
    OSError,
)
# A call's outcome as a metric label: a bounded set.
OUTCOMES = {"ConflictException": "conflict", "ResourceNotFoundException": "not_found"}


class KvsError(FailoverError):
    """A KeyValueStore call failed; `code` is a bounded label (the AWS error code or kind)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class KvsConflictError(KvsError):
    """The If-Match ETag was stale: someone wrote to the store since it was read."""


def client(session: boto3.Session, settings: KvsSettings) -> CloudFrontKeyValueStoreClient:
    """The store's client: one attempt per call (the stage retries, visibly), short timeouts.

    For a local data plane the endpoint rules still prefix the ARN's account id to the
    host, so the sandbox gives a host name that resolves nowhere and a proxy that
    receives every request; the proxy is set on this client alone, never process-wide,
    so no other client is sent through it.
    """
    cfg = botocore.config.Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=3,
        read_timeout=10,
        proxies={"http": settings.proxy, "https": settings.proxy} if settings.proxy else None,
    )
    kwargs: dict[str, Any] = {"config": cfg}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    return session.client("cloudfront-keyvaluestore", **kwargs)


class KvsStore:
    """One store, by ARN; every call through the shared rate limit, errors as KvsError."""

    def __init__(
        self,
        kvs: CloudFrontKeyValueStoreClient,
        arn: str,
        limiter: RateLimiter,
        *,
        observe: Callable[[str, str], None] = lambda op, outcome: None,
    ) -> None:
        self.kvs = kvs
        self.arn = arn
        self.limiter = limiter
        self.observe = observe

    def etag(self) -> str:
        return str(
            self._call(
                "DescribeKeyValueStore", lambda: self.kvs.describe_key_value_store(KvsARN=self.arn)
            )["ETag"]
        )

    def get(self, key: str) -> str | None:
        try:
            got = self._call("GetKey", lambda: self.kvs.get_key(KvsARN=self.arn, Key=key))
        except KvsError as e:
            if e.code == "ResourceNotFoundException":
                return None
            raise
        return str(got["Value"])

    def put(self, key: str, value: str, etag: str) -> str:
        """Write `key` if the store is still at `etag`; the store's new ETag."""
        got = self._call(
            "PutKey", lambda: self.kvs.put_key(KvsARN=self.arn, Key=key, Value=value, IfMatch=etag)
        )
        return str(got["ETag"])

    def _call(self, op: str, call: Callable[[], Any]) -> Any:
        self.limiter.acquire()
        try:
            out = call()
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", "") or "Unknown")
            self.observe(op, OUTCOMES.get(code, "error"))
            kind = KvsConflictError if code == "ConflictException" else KvsError
            raise kind(f"{op}: {code}: {e}", code) from e
        except TRANSIENT as e:
            self.observe(op, "error")
            raise KvsError(f"{op}: {type(e).__name__}: {e}", "transport") from e
        except botocore.exceptions.BotoCoreError as e:
            self.observe(op, "error")
            raise KvsError(f"{op}: {type(e).__name__}: {e}", type(e).__name__) from e
        self.observe(op, "ok")
        return out


def open_store(
    session: boto3.Session, settings: KvsSettings, observe: Callable[[str, str], None]
) -> KvsStore | None:
    """The store the config names, or None when no [kvs] ARN is set."""
    if not settings.arn:
        return None
    limiter = RateLimiter(settings.rate)
    return KvsStore(client(session, settings), settings.arn, limiter, observe=observe)
