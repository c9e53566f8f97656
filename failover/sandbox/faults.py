"""Inject Route 53 faults into botocore calls, and name the overrides store's faults.

moto never throttles. A handler on ``before-send.route53.<Operation>`` answers in place of
the wire with the bytes Route 53 sends (restxml ``ErrorResponse``), so botocore parses,
classifies and retries it exactly as it would a real reply. Use it against a moto
server (or any HTTP endpoint): there the injected reply replaces the request. Under
in-process ``mock_aws()`` botocore still calls moto's own ``before-send`` handler, which
applies the change, so a "throttled" write would land anyway.

    handle = inject_route53_fault(client, "ChangeResourceRecordSets", "throttling", times=2)
    ...
    assert handle.injected == 2
    handle.remove()
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.hooks import BaseEventHooks

FaultKind = Literal[
    "throttling", "prior_request_not_complete", "service_unavailable", "read_timeout"
]

# kind -> (HTTP status, fault type, error code, message), as Route 53 words them.
_ERRORS: dict[str, tuple[int, str, str, str]] = {
    "throttling": (400, "Sender", "Throttling", "Rate exceeded"),
    "prior_request_not_complete": (
        400,
        "Sender",
        "PriorRequestNotComplete",
        "The request was rejected because Route 53 was still processing a prior request.",
    ),
    "service_unavailable": (503, "Receiver", "ServiceUnavailable", "Service unavailable"),
}


def error_body(fault_type: str, code: str, message: str, request_id: str) -> bytes:
    """The restxml error document Route 53 returns."""
    return (
        '<?xml version="1.0"?>\n'
        '<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
        f"<Error><Type>{fault_type}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


class _Body:
    """The `raw` object AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@dataclass
class FaultHandle:
    """A registered fault: counts what it saw and injected; `remove()` unregisters it."""

    remaining: int | None
    seen: int = 0
    injected: int = 0
    _unregister: Callable[[], None] = field(default=lambda: None, repr=False)

    def remove(self) -> None:
        """Stop injecting; safe to call twice."""
        self._unregister()
        self._unregister = lambda: None

    def __enter__(self) -> FaultHandle:
        return self

    def __exit__(self, *_: object) -> None:
        self.remove()


def _emitter(target: Any) -> BaseEventHooks:
    """The event emitter of a botocore/boto3 client, a boto3 Session or a botocore Session."""
    meta = getattr(target, "meta", None)
    if meta is not None and hasattr(meta, "events"):
        emitter: BaseEventHooks = meta.events
    elif hasattr(target, "get_component"):
        emitter = target.get_component("event_emitter")
    elif hasattr(target, "events"):
        emitter = target.events
    else:
        raise TypeError(f"no botocore event emitter on {type(target).__name__}")
    return emitter


def inject_route53_fault(
    target: Any,
    operation: str,
    kind: FaultKind,
    *,
    times: int | None = 1,
    when: Callable[[AWSPreparedRequest], bool] | None = None,
) -> FaultHandle:
    """Answer the next `times` calls of `operation` (all of them if None) with `kind`.

    `when` narrows which requests count (for example by zone id in `request.url`);
    requests it rejects, and those after the budget is spent, reach the real endpoint.
    """
    if kind not in (*_ERRORS, "read_timeout"):
        raise ValueError(f"unknown fault kind {kind!r}")
    if times is not None and times < 0:
        raise ValueError(f"times must be >= 0 or None, not {times}")
    handle = FaultHandle(remaining=times)

    def handler(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        handle.seen += 1
        if handle.remaining == 0 or (when is not None and not when(request)):
            return None
        if handle.remaining is not None:
            handle.remaining -= 1
        handle.injected += 1
        if kind == "read_timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        status, fault_type, code, message = _ERRORS[kind]
        request_id = str(uuid.uuid4())
        headers = HTTPHeaders.from_dict(
            {"x-amzn-RequestId": request_id, "Content-Type": "text/xml"}
        )
        body = _Body(error_body(fault_type, code, message, request_id))
        return AWSResponse(request.url, status, headers, body)

    event = f"before-send.route53.{operation}"
    emitter = _emitter(target)
    # The stubs type handlers as returning None; before-send handlers return the response.
    emitter.register(
        event, cast("Callable[..., None]", handler), unique_id=f"failover-fault-{id(handle)}"
    )
    handle._unregister = lambda: emitter.unregister(event, unique_id=f"failover-fault-{id(handle)}")
    return handle


# The overrides store's faults by name, as the S3 fault proxy plays them on the
# overrides bucket: S3 refusing the read (403 AccessDenied, what GetObject answers
# for a missing key without s3:ListBucket, or a bucket policy), a slow answer, a
# read that never answers, and a 200 whose body is not an overrides document.
OVERRIDES_FAULTS: dict[str, str] = {
    "refuse": "http_403",
    "slow": "slow",
    "hang": "hang",
    "garbled": "binary",
}


def overrides_fault(name: str) -> str:
    """The S3 fault proxy's kind that plays the named overrides fault."""
    try:
        return OVERRIDES_FAULTS[name]
    except KeyError:
        known = ", ".join(OVERRIDES_FAULTS)
        raise ValueError(f"unknown overrides fault {name!r} (known: {known})") from None
