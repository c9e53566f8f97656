"""Route 53 record store: read weighted TXT sets, write compare-and-swap batches, rate-limited."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import botocore.exceptions
import structlog

from failover.aws.ratelimit import RateLimiter
from failover.core.fence import TTL as FENCE_TTL
from failover.core.fence import Fence, Held
from failover.errors import ConflictError, RejectedError, Route53Error
from failover.model import Change, Guard, WeightedSet, quote_txt

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.type_defs import ChangeTypeDef, ResourceRecordSetTypeDef

log = structlog.get_logger("failover.route53")
__all__ = ["RateLimiter", "Record", "Route53Store", "parse_txt"]

THROTTLED = frozenset({"Throttling", "ThrottlingException", "PriorRequestNotComplete"})
RETRYABLE = THROTTLED | {"ServiceUnavailable", "InternalFailure", "InternalError"}
# Refused for what the request says, not for a race: sending it again cannot help.
REJECTED = frozenset({"InvalidChangeBatch", "InvalidInput"})
# Transport faults worth another attempt; anything else (no credentials, no region,
# a bad parameter) would fail the same way again.
TRANSIENT = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.ReadTimeoutError,
    OSError,
)
PAGE = "300"  # the most Route 53 returns per ListResourceRecordSets page


class Observer(Protocol):
    def route53_request(self, operation: str, outcome: str, seconds: float) -> None: ...


class _NoObserver:
    def route53_request(self, operation: str, outcome: str, seconds: float) -> None:
        return None


@dataclass(frozen=True)
class Record:
    """What Route 53 holds under one name: TXT weighted sets by id, and what else is there."""

    sets: dict[str, WeightedSet]
    other: tuple[str, ...] = ()  # non-weighted TXT or other descriptions, reported only


def parse_txt(value: str) -> str:
    """Join the strings of one TXT value as Route 53 returns it (`"a" "b"` → `ab`)."""
    out: list[str] = []
    i, n, inside = 0, len(value), False
    while i < n:
        c = value[i]
        if not inside:
            if c == '"':
                inside = True
            elif not c.isspace():
                out.append(c)  # unquoted strings are allowed by the zone-file syntax
        elif c == "\\" and i + 1 < n:
            nxt = value[i + 1]
            if nxt.isdigit() and i + 3 < n and value[i + 1 : i + 4].isdigit():
                out.append(chr(int(value[i + 1 : i + 4], 8)))
                i += 3
            else:
                out.append(nxt)
                i += 1
        elif c == '"':
            inside = False
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


# The attributes of a weighted TXT set the daemon writes; every other one Route 53 returns
# (HealthCheckId, and whatever a set may carry) is kept as read and written back unchanged.
# "To delete a resource record set, you must specify all the same values that you
# specified when you created it." (API reference, ChangeResourceRecordSets): a DELETE
# that leaves out a set's HealthCheckId does not match it and is refused.
OWNED_FIELDS = frozenset({"Name", "Type", "SetIdentifier", "Weight", "TTL", "ResourceRecords"})


def extra_of(rr: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The attributes of a listed set that the daemon does not own, as (name, JSON) pairs."""
    return tuple(
        sorted((k, json.dumps(v, sort_keys=True)) for k, v in rr.items() if k not in OWNED_FIELDS)
    )


def _to_rrset(s: WeightedSet) -> ResourceRecordSetTypeDef:
    rrset: dict[str, Any] = {
        "Name": _fqdn(s.name),
        "Type": "TXT",
        "SetIdentifier": s.set_id,
        "Weight": s.weight,
        "TTL": s.ttl,
        "ResourceRecords": [{"Value": v} for v in s.raw or [quote_txt(v) for v in s.values]],
    }
    for key, value in s.extra:
        if key not in OWNED_FIELDS:
            rrset[key] = json.loads(value)
    return rrset  # type: ignore[return-value]


def _name(raw: str) -> str:
    # Route 53 escapes some characters as \ddd octal in names it returns.
    return parse_txt('"' + raw + '"').rstrip(".").lower()


class Route53Store:
    """Thin, retrying, rate-limited access to the weighted TXT records the daemon owns."""

    def __init__(
        self,
        client: Route53Client,
        limiter: RateLimiter,
        *,
        observer: Observer | None = None,
        attempts: int = 5,
        backoff: float = 0.2,
        backoff_max: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        abort: Callable[[], bool] = lambda: False,
    ) -> None:
        self.client = client
        self._abort = abort  # true once the daemon is stopping: no more retries
        self.limiter = limiter
        self.observer = observer or _NoObserver()
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._clock = clock
        self._rand = rand

    # -- reading ------------------------------------------------------------------
    def read(self, zone_id: str, names: Iterable[str]) -> dict[str, Record]:
        """Every record under `names` in the zone: one scan per name, or one of the zone."""
        wanted = sorted({n.rstrip(".").lower() for n in names})
        found: dict[str, dict[str, WeightedSet]] = {n: {} for n in wanted}
        other: dict[str, list[str]] = {n: [] for n in wanted}
        starts = wanted if len(wanted) <= 5 else [None]
        for start in starts:
            for rr in self._scan(zone_id, start):
                name = _name(rr["Name"])
                if start is not None and name != start:
                    break
                if name not in found:
                    continue
                self._collect(rr, found[name], other[name])
        return {n: Record(found[n], tuple(other[n])) for n in wanted}

    @staticmethod
    def _collect(rr: Any, sets: dict[str, WeightedSet], other: list[str]) -> None:
        sid = rr.get("SetIdentifier")
        if rr["Type"] != "TXT" or sid is None or "Weight" not in rr:
            other.append(f"{rr['Type']}{'/' + sid if sid else ''}")
            return
        raw = tuple(str(r["Value"]) for r in rr.get("ResourceRecords", []))
        sets[sid] = WeightedSet(
            name=_name(rr["Name"]),
            set_id=sid,
            weight=int(rr["Weight"]),
            ttl=int(rr.get("TTL", 0)),
            values=tuple(parse_txt(v) for v in raw),
            raw=raw,
            extra=extra_of(rr),
        )

    def _scan(self, zone_id: str, start: str | None) -> Iterable[Any]:
        kwargs: dict[str, Any] = {"HostedZoneId": zone_id, "MaxItems": PAGE}
        if start is not None:
            kwargs.update(StartRecordName=_fqdn(start))
        seen: set[tuple[str, str, str]] = set()
        while True:
            page = self._call(
                "ListResourceRecordSets", self.client.list_resource_record_sets, kwargs
            )
            fresh = 0
            for rr in page["ResourceRecordSets"]:
                ident = (rr["Name"], rr["Type"], rr.get("SetIdentifier", ""))
                if ident in seen:
                    continue  # a backend that ignores StartRecordIdentifier repeats sets
                seen.add(ident)
                fresh += 1
                yield rr
            if not page.get("IsTruncated") or fresh == 0:
                return
            kwargs["StartRecordName"] = page["NextRecordName"]
            kwargs["StartRecordType"] = page["NextRecordType"]
            if "NextRecordIdentifier" in page:
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            else:
                kwargs.pop("StartRecordIdentifier", None)

    # -- the fence of cluster mode -------------------------------------------------
    def apex(self, zone_id: str) -> str:
        """The zone's apex name: the first set listed (its NS and SOA sort first).

        "ListResourceRecordSets sorts results first by DNS name with the labels
        reversed" (API reference), so the apex comes before every name under it.
        """
        page = self._call(
            "ListResourceRecordSets",
            self.client.list_resource_record_sets,
            {"HostedZoneId": zone_id, "MaxItems": "1"},
        )
        return _name(page["ResourceRecordSets"][0]["Name"])

    def read_fence(self, zone_id: str, name: str) -> Held | None:
        """The fence TXT (not weighted) under `name`, exactly as held; None if there is none."""
        for rr in self._scan(zone_id, name):
            if _name(rr["Name"]) != name.lower():
                return None
            if rr["Type"] == "TXT" and "SetIdentifier" not in rr:
                raw = tuple(str(r["Value"]) for r in rr.get("ResourceRecords", []))
                return Held(raw, int(rr.get("TTL", 0)))
        return None

    # -- writing ------------------------------------------------------------------
    def change(
        self,
        zone_id: str,
        changes: Sequence[Change],
        comment: str,
        guards: Sequence[Guard] = (),
        fence: Fence | None = None,
        allowed: Callable[[], None] | None = None,
    ) -> str:
        """Send one atomic batch: DELETE exact old + CREATE new per change, and per guard.

        With a `fence` (cluster mode) the batch also replaces the fence record: DELETE
        of what was read, CREATE of the leader's epoch. Raises ConflictError when Route
        53 rejects it because a record no longer matches (someone else changed it, or
        a later leader bumped the fence), Route53Error when retries run out. `allowed`
        is called right before every attempt, retries included (a leader's retry after
        a backoff, a slow attempt or a pause must ask the lease again); it raises to stop.
        """
        batch: list[ChangeTypeDef] = _fence_changes(fence)
        for c in changes:
            if c.old is not None:
                batch.append({"Action": "DELETE", "ResourceRecordSet": _to_rrset(c.old)})
            batch.append({"Action": "CREATE", "ResourceRecordSet": _to_rrset(c.new)})
        for g in guards:
            batch.append({"Action": "DELETE", "ResourceRecordSet": _to_rrset(g.held)})
            batch.append({"Action": "CREATE", "ResourceRecordSet": _to_rrset(g.held)})
        resp = self._call(
            "ChangeResourceRecordSets",
            self.client.change_resource_record_sets,
            {"HostedZoneId": zone_id, "ChangeBatch": {"Comment": comment[:256], "Changes": batch}},
            allowed,
        )
        return str(resp["ChangeInfo"]["Id"]).rsplit("/", 1)[-1]

    def delete(
        self, zone_id: str, sets: Sequence[WeightedSet], comment: str, guards: Sequence[Guard] = ()
    ) -> str:
        """Send one atomic batch: DELETE of each set exactly as read, and each guard unchanged.

        "To delete a resource record set, you must specify all the same values that you
        specified when you created it." (API reference, ChangeResourceRecordSets) A set
        changed since it was read is not matched, and "Route 53 validates the changes in
        the request and then either makes all or none of the changes": the batch is
        refused whole, as a conflict (ConflictError), and nothing is deleted.
        """
        batch: list[ChangeTypeDef] = [
            {"Action": "DELETE", "ResourceRecordSet": _to_rrset(s)} for s in sets
        ]
        for g in guards:
            batch.append({"Action": "DELETE", "ResourceRecordSet": _to_rrset(g.held)})
            batch.append({"Action": "CREATE", "ResourceRecordSet": _to_rrset(g.held)})
        resp = self._call(
            "ChangeResourceRecordSets",
            self.client.change_resource_record_sets,
            {"HostedZoneId": zone_id, "ChangeBatch": {"Comment": comment[:256], "Changes": batch}},
        )
        return str(resp["ChangeInfo"]["Id"]).rsplit("/", 1)[-1]

    # -- following a change -------------------------------------------------------
    def change_status(self, change_id: str) -> str | None:
        """GetChange, once, at the lowest priority: None when no token is free now.

        "Returns the current status of a change batch request. [...] PENDING indicates
        that the changes in this request have not propagated to all Amazon Route 53 DNS
        servers managing the hosted zone. This is the initial status of all change batch
        requests. INSYNC indicates that the changes have propagated to all Route 53 DNS
        servers managing the hosted zone." (Route 53 API reference, GetChange.) No retry
        and no backoff: a failed poll is simply made again at its next turn.
        """
        if not self.limiter.try_acquire():
            return None
        started = self._clock()
        try:
            resp = self.client.get_change(Id=change_id)
        except botocore.exceptions.ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", "Unknown"))
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            self.observer.route53_request(
                "GetChange", _outcome(code, status), self._clock() - started
            )
            message = str(e.response.get("Error", {}).get("Message", ""))
            raise Route53Error(f"GetChange: {code}: {message}") from e
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            self.observer.route53_request("GetChange", "error", self._clock() - started)
            raise Route53Error(f"GetChange: {type(e).__name__}: {e}") from e
        self.observer.route53_request("GetChange", "ok", self._clock() - started)
        return str(resp["ChangeInfo"]["Status"])

    # -- plumbing -----------------------------------------------------------------
    def _call(
        self,
        operation: str,
        fn: Callable[..., Any],
        kwargs: Mapping[str, Any],
        allowed: Callable[[], None] | None = None,
    ) -> Any:
        for attempt in range(1, self.attempts + 1):
            self.limiter.acquire()
            if allowed is not None:
                allowed()
            started = self._clock()
            try:
                resp = fn(**kwargs)
            except botocore.exceptions.ClientError as e:
                code = str(e.response.get("Error", {}).get("Code", "Unknown"))
                message = str(e.response.get("Error", {}).get("Message", ""))
                status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                outcome = _outcome(code, status, message)
                self.observer.route53_request(operation, outcome, self._clock() - started)
                if outcome == "conflict":
                    raise ConflictError(message) from e
                what = f"{operation}: {code} after {attempt} attempt(s): {message}"
                if code in REJECTED:
                    raise RejectedError(what) from e
                retry = code in RETRYABLE or status >= 500
                if not retry or attempt == self.attempts or self._abort():
                    raise Route53Error(what) from e
                self._back_off(operation, attempt, code)
            except (botocore.exceptions.BotoCoreError, OSError) as e:
                self.observer.route53_request(operation, "error", self._clock() - started)
                transient = isinstance(e, TRANSIENT)
                if not transient or attempt == self.attempts or self._abort():
                    raise Route53Error(f"{operation}: {type(e).__name__}: {e}") from e
                self._back_off(operation, attempt, type(e).__name__)
            else:
                self.observer.route53_request(operation, "ok", self._clock() - started)
                return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _back_off(self, operation: str, attempt: int, code: str) -> None:
        delay = min(self.backoff_max, self.backoff * 2 ** (attempt - 1)) * (0.5 + self._rand())
        event = "route53_throttled" if code in THROTTLED else "route53_retried"
        log.warning(
            event, operation=operation, code=code, attempt=attempt, retry_in=round(delay, 3)
        )
        self._sleep(delay)


def _fence_changes(fence: Fence | None) -> list[ChangeTypeDef]:
    if fence is None:
        return []
    out: list[ChangeTypeDef] = []

    def rrset(raw: Sequence[str], ttl: int) -> ResourceRecordSetTypeDef:
        return {
            "Name": _fqdn(fence.name),
            "Type": "TXT",
            "TTL": ttl,
            "ResourceRecords": [{"Value": v} for v in raw],
        }

    if fence.held is not None:
        out.append({"Action": "DELETE", "ResourceRecordSet": rrset(fence.held.raw, fence.held.ttl)})
    out.append({"Action": "CREATE", "ResourceRecordSet": rrset([fence.value], FENCE_TTL)})
    return out


def _is_conflict(message: str) -> bool:
    """An InvalidChangeBatch that says a record is not what we read: someone changed it."""
    signs = ("was not found", "do not match the current values", "already exists")
    return any(m in message for m in signs)


def _outcome(code: str, status: int, message: str = "") -> str:
    if code in ("Throttling", "ThrottlingException"):
        return "throttled"
    if code == "PriorRequestNotComplete":
        return "busy"
    if code == "InvalidChangeBatch":
        return "conflict" if _is_conflict(message) else "rejected"
    if status >= 500:
        return "server_error"
    return "client_error"
