"""The config's schema: each key's TOML type, range and value check, and the limits behind them."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from edge_router import names
from failover.core import backstop
from failover.model import (
    CANARY_BYTES,
    MAX_WEIGHT,
    BackstopSettings,
    Config,
    DaemonSettings,
    HealthSettings,
    KvsSettings,
    Origin,
    Pool,
)

MAX_TTL = 2_147_483_647  # Route 53's ResourceRecordSet TTL range is 0..2^31-1
MAX_ORIGINS = 100  # weighted sets per name and type
MAX_SET_ID = 128  # SetIdentifier length
MAX_CF_ORIGIN_ID = 128  # our bound on a distribution origin id, so a store value stays small
MAX_SECONDS = 31_536_000.0  # one year: bounds every duration so no timer overflows
MAX_THRESHOLD = 100
MAX_ROUTE53_RATE = 50.0  # Route 53 refills 10 requests/s per account; 50 is already reckless
DEFAULT_TTL = 60
DEFAULT_WEIGHT = 100
DEFAULT_CANARY = "_failover/canary.json"
# What reads a pool's record at the edge. "lambda-edge": edge_router/, which reaches only
# the Regions of names.OAI_REGIONS; "none": something else reads it (no edge checks).
ROUTERS = ("lambda-edge", "none", "function")
# Where a pool's weights go: its Route 53 record, its key in the [kvs] store, or both.
SINKS = ("route53", "kvs", "both")
# How an active standby hands the pool back once a primary is up again.
FAILBACKS = ("auto", "manual")

Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Field:
    """How one key is read: its TOML type, an optional numeric range and an extra check."""

    kind: type  # float (accepts int), int, str, bool or list
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # the value must be strictly greater than lo
    check: Check | None = None


def _choice(*allowed: str) -> Check:
    def check(v: str) -> str | None:
        return None if v in allowed else f"{show(v)} is not one of {', '.join(allowed)}"

    return check


def _seconds(lo_open: bool = False) -> Field:
    return Field(float, 0.0, MAX_SECONDS, lo_open)


def show(v: object) -> str:
    """A value as a message may quote it: bounded, never a huge int's digits or a deep repr."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if v.bit_length() <= 64 else "a number too large to use"
    if isinstance(v, str):
        return names.quote(v)
    if isinstance(v, float):
        return repr(v)
    return type_name(v)


def type_name(v: object) -> str:
    kinds: list[tuple[type, str]] = [
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
        (datetime.datetime, "date-time"),
        (datetime.date, "date"),
        (datetime.time, "time"),
    ]
    return next((name for t, name in kinds if isinstance(v, t)), type(v).__name__)


# ---- value checks -------------------------------------------------------------------------

_ZONE = re.compile(r"[A-Z0-9]{1,32}")
_POOL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def _dns_name(v: str) -> str | None:
    why = names.dns_name_reason(names.normalise_dns_name(v))
    return None if why is None else f"{show(v)} {why}"


def _zone_id(v: str) -> str | None:
    ok = _ZONE.fullmatch(v.removeprefix("/hostedzone/"))
    return None if ok else f"{show(v)} is not a Route 53 hosted zone id (like Z0123456789ABC)"


def _pool_name(v: str) -> str | None:
    ok = _POOL_NAME.fullmatch(v)
    return None if ok else f"{show(v)} is not a pool name (1-64 of A-Z a-z 0-9 _ . -)"


def _origin_id(v: str) -> str | None:
    if not 1 <= len(v) <= MAX_SET_ID:
        return f"must be 1 to {MAX_SET_ID} characters (a Route 53 SetIdentifier)"
    if not v.isprintable() or v.strip() != v:
        return f"{show(v)} has control characters or surrounding spaces"
    return None


def _cf_origin_id(v: str) -> str | None:
    if not 1 <= len(v) <= MAX_CF_ORIGIN_ID:
        return f"must be 1 to {MAX_CF_ORIGIN_ID} characters (a CloudFront origin id)"
    if not v.isprintable() or v.strip() != v:
        return f"{show(v)} has control characters or surrounding spaces"
    return None


def _previous_ids(v: list[object]) -> str | None:
    for i, item in enumerate(v):
        if not isinstance(item, str):
            return f"[{i}]: expected a string, got {type_name(item)} {show(item)}"
        problem = _origin_id(item)
        if problem:
            return f"[{i}]: {problem}"
    if len(set(v)) != len(v):
        return "lists an id twice"
    return None


def _canary(v: str) -> str | None:
    if not v or v.startswith("/"):
        return 'must be a non-empty object key without a leading "/"'
    if len(v.encode("utf-8")) > 1024:
        return "is longer than S3's 1,024-byte key limit"
    return None


def _expect(v: str) -> str | None:
    if len(v.encode("utf-8")) > CANARY_BYTES:
        return f"is longer than the {CANARY_BYTES:,} bytes of the canary that are read"
    return None


def _listen(v: str) -> str | None:
    if v == "":
        return None  # the HTTP endpoint is off
    host, sep, port = v.rpartition(":")
    bad = f"{show(v)} is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)"
    if not sep or not port.isascii() or not port.isdigit() or len(port) > 5:
        return bad
    if int(port) > 65535:
        return f"port {port} is not in 0-65535"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return bad
        return None
    return None if host.isascii() and _HOST.fullmatch(host) else bad


def _overrides(v: str) -> str | None:
    url = urlsplit(v)
    if url.scheme == "file":
        if url.netloc or not url.path.startswith("/") or url.path.endswith("/"):
            return f"{show(v)}: a file URL needs an absolute file path (file:///var/...)"
        return None
    if url.scheme == "s3":
        key = url.path.removeprefix("/")
        if not key or key.endswith("/") or url.query or url.fragment:
            return f"{show(v)}: an S3 URL needs a bucket and an object key (s3://bucket/key)"
        return names.bucket_problem(url.netloc, allow_dots=True)
    return f"{show(v)} is neither a file:// nor an s3:// URL"


# ---- the schema: one entry per key; model fields name the keys ----------------------------

DAEMON: dict[str, Field] = {
    "interval": _seconds(lo_open=True),
    "listen": Field(str, check=_listen),
    "log_format": Field(str, check=_choice("json", "console")),
    "log_level": Field(str, check=_choice("debug", "info", "warning", "error")),
    "dry_run": Field(bool),
    "resync": _seconds(lo_open=True),
    "route53_rate": Field(float, 0.0, MAX_ROUTE53_RATE, lo_open=True),
    "overrides": Field(str, check=_overrides),
    "overrides_grace": _seconds(),
    "canary_write_interval": _seconds(),
}
HEALTH: dict[str, Field] = {
    "timeout": _seconds(lo_open=True),
    "fall": Field(int, 1, MAX_THRESHOLD),
    "rise": Field(int, 1, MAX_THRESHOLD),
    "hold_down": _seconds(),
    "hold_down_max": _seconds(),
    "slow_start": _seconds(),
    "expect": Field(str, check=_expect),
    "max_age": _seconds(),
}
POOL: dict[str, Field] = {
    "name": Field(str, check=_pool_name),
    "record": Field(str, check=_dns_name),
    "zone_id": Field(str, check=_zone_id),
    "ttl": Field(int, 0, MAX_TTL),
    "canary_source": Field(str),
    "router": Field(str, check=_choice(*ROUTERS)),
    "failback": Field(str, check=_choice(*FAILBACKS)),
    "trust_unowned": Field(bool),
    "previous_ids": Field(list, check=_previous_ids),
    "sink": Field(str, check=_choice(*SINKS)),
    "backstop": Field(bool),
}
ORIGIN: dict[str, Field] = {
    "id": Field(str, check=_origin_id),
    "bucket": Field(str, check=names.bucket_problem),
    "region": Field(str, check=names.region_problem),
    "weight": Field(int, 0, MAX_WEIGHT),
    "canary": Field(str, check=_canary),
    "standby": Field(bool),
    "cf_origin_id": Field(str, check=_cf_origin_id),
}
KVS: dict[str, Field] = {  # checked further in config_kvs
    "arn": Field(str),
    "rate": Field(float, 0.0, MAX_ROUTE53_RATE, lo_open=True),
    "endpoint_url": Field(str),
    "proxy": Field(str),
}


_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def _table_name(v: str) -> str | None:
    # DynamoDB: "Table names [...] can be 3 to 255 characters long" of a-z, A-Z, 0-9,
    # '_', '-' and '.' (Developer Guide, Naming rules).
    return None if _TABLE.fullmatch(v) else f"{show(v)} is not a DynamoDB table name"


def _replica_name(v: str) -> str | None:
    ok = _POOL_NAME.fullmatch(v) and "#" not in v
    return None if ok else f"{show(v)}: a replica name is 1-64 of A-Z a-z 0-9 _ . -"


# [cluster]: off unless present; `table` and `replicas` are required there.
CLUSTER: dict[str, Field] = {
    "table": Field(str, check=_table_name),
    "region": Field(str, check=lambda v: None if not v else names.region_problem(v)),
    "replicas": Field(int, 1, 15),
    "quorum": Field(int, 1, 15),
    "name": Field(str, check=_replica_name),
    "lease_seconds": Field(float, 1.0, 3600.0),
    "lease_margin_seconds": Field(float, 0.0, 3600.0),
}
OPTIONAL_TOP = ("cluster",)  # documented in docs/cluster.md: the example runs one daemon


_NAMESPACE = re.compile(r"[A-Za-z0-9_.\-/#:]{1,255}")


def _namespace(v: str) -> str | None:
    if v.startswith(("AWS/", "aws:")) or not _NAMESPACE.fullmatch(v):
        return f"{show(v)} is not a custom CloudWatch namespace (1-255 of A-Z a-z 0-9 . - _ / # :)"
    return None


def _backstop_region(v: str) -> str | None:
    return names.region_problem(v) or backstop.region_problem(v)


BACKSTOP: dict[str, Field] = {
    "region": Field(str, check=_backstop_region),
    "namespace": Field(str, check=_namespace),
    "period_seconds": Field(int, 1, 86_400),
    "evaluation_periods": Field(int, 1, 100),
    "quorum_fraction": Field(float, 0.0, 1.0, lo_open=True),
}
TOP_KEYS = ("daemon", "health", "pools", "kvs", "backstop")
OPTIONAL_TOP = ("cluster",)  # documented in docs/cluster.md: the example runs one daemon
POOL_TABLES = ("health", "origins")
ORIGIN_TABLES = ("health",)


def documented_fields() -> dict[type, tuple[str, ...]]:
    """Each model class read from TOML and the field names a config file may set on it."""
    # Origin.pool comes from the enclosing [[pools]]; [cluster] is documented in
    # docs/cluster.md (config.example.toml runs one daemon).
    derived = {"pool", "cluster"}
    classes = (Config, DaemonSettings, HealthSettings, Pool, Origin, KvsSettings, BackstopSettings)
    return {
        c: tuple(f.name for f in dataclasses.fields(c) if f.name not in derived) for c in classes
    }
