"""Configuration: one TOML document parsed into the validated, frozen values of `model`."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import ipaddress
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from edge_router import names
from failover.errors import ConfigError
from failover.model import (
    CANARY_BYTES,
    MAX_WEIGHT,
    Config,
    DaemonSettings,
    HealthSettings,
    Origin,
    Pool,
)

ENV_VAR = "FAILOVER_CONFIG"
MAX_TTL = 2_147_483_647  # Route 53's ResourceRecordSet TTL range is 0..2^31-1
MAX_ORIGINS = 100  # weighted sets per name and type
MAX_SET_ID = 128  # SetIdentifier length
MAX_SECONDS = 31_536_000.0  # one year: bounds every duration so no timer overflows
MAX_THRESHOLD = 100
MAX_ROUTE53_RATE = 50.0  # Route 53 refills 10 requests/s per account; 50 is already reckless
DEFAULT_TTL = 60
DEFAULT_WEIGHT = 100
DEFAULT_CANARY = "_failover/canary.json"

Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Field:
    """How one key is read: its TOML type, an optional numeric range and an extra check."""

    kind: type  # float (accepts int), int, str or bool
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # the value must be strictly greater than lo
    check: Check | None = None


def _choice(*allowed: str) -> Check:
    def check(v: str) -> str | None:
        return None if v in allowed else f"{_show(v)} is not one of {', '.join(allowed)}"

    return check


def _seconds(lo_open: bool = False) -> Field:
    return Field(float, 0.0, MAX_SECONDS, lo_open)


def _show(v: object) -> str:
    """A value as a message may quote it: bounded, never a huge int's digits or a deep repr."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if v.bit_length() <= 64 else "a number too large to use"
    if isinstance(v, str):
        return names.quote(v)
    if isinstance(v, float):
        return repr(v)
    return _type_name(v)


def _type_name(v: object) -> str:
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
    return None if why is None else f"{_show(v)} {why}"


def _zone_id(v: str) -> str | None:
    ok = _ZONE.fullmatch(v.removeprefix("/hostedzone/"))
    return None if ok else f"{_show(v)} is not a Route 53 hosted zone id (like Z0123456789ABC)"


def _pool_name(v: str) -> str | None:
    ok = _POOL_NAME.fullmatch(v)
    return None if ok else f"{_show(v)} is not a pool name (1-64 of A-Z a-z 0-9 _ . -)"


def _origin_id(v: str) -> str | None:
    if not 1 <= len(v) <= MAX_SET_ID:
        return f"must be 1 to {MAX_SET_ID} characters (a Route 53 SetIdentifier)"
    if not v.isprintable() or v.strip() != v:
        return f"{_show(v)} has control characters or surrounding spaces"
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
    bad = f"{_show(v)} is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)"
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
            return f"{_show(v)}: a file URL needs an absolute file path (file:///var/...)"
        return None
    if url.scheme == "s3":
        key = url.path.removeprefix("/")
        if not key or key.endswith("/") or url.query or url.fragment:
            return f"{_show(v)}: an S3 URL needs a bucket and an object key (s3://bucket/key)"
        return names.bucket_problem(url.netloc, allow_dots=True)
    return f"{_show(v)} is neither a file:// nor an s3:// URL"


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
}
ORIGIN: dict[str, Field] = {
    "id": Field(str, check=_origin_id),
    "bucket": Field(str, check=names.bucket_problem),
    "region": Field(str, check=names.region_problem),
    "weight": Field(int, 0, MAX_WEIGHT),
    "canary": Field(str, check=_canary),
}
TOP_KEYS = ("daemon", "health", "pools")
POOL_TABLES = ("health", "origins")
ORIGIN_TABLES = ("health",)


# ---- reading ------------------------------------------------------------------------------


class _Problems(list[str]):
    def add(self, where: str, what: str) -> None:
        line = f"{where}: {what}"
        if line not in self:
            self.append(line)


def _key(where: str, key: str) -> str:
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _show(key)
    return f"{where}.{shown}" if where else shown


def _value(v: object, f: Field) -> tuple[object, str | None]:
    """The value converted for the model, or the problem with it."""
    if f.kind is float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None, f"expected a number, got {_type_name(v)} {_show(v)}"
        if isinstance(v, float) and not math.isfinite(v):
            return None, f"must be a finite number, got {_show(v)}"
    elif f.kind is int:
        if isinstance(v, bool) or not isinstance(v, int):
            return None, f"expected an integer, got {_type_name(v)} {_show(v)}"
    elif not isinstance(v, f.kind):
        want = "a string" if f.kind is str else "true or false"
        return None, f"expected {want}, got {_type_name(v)} {_show(v)}"
    if isinstance(v, int | float) and not isinstance(v, bool):
        if f.lo is not None and (v <= f.lo if f.lo_open else v < f.lo):
            least = "more than" if f.lo_open else "at least"
            return None, f"must be {least} {f.lo:g}, got {_show(v)}"
        if f.hi is not None and v > f.hi:
            return None, f"must be at most {f.hi:,g}, got {_show(v)}"
        v = float(v) if f.kind is float else v
    problem = f.check(v) if f.check else None
    return (None, problem) if problem else (v, None)


def _table(
    raw: object,
    where: str,
    schema: Mapping[str, Field],
    problems: _Problems,
    *,
    required: tuple[str, ...] = (),
    tables: tuple[str, ...] = (),
) -> tuple[dict[str, Any], set[str]]:
    """Read the schema's keys of one table: (valid values, keys that were present but bad)."""
    if not isinstance(raw, dict):
        problems.add(where, f"expected a table, got {_type_name(raw)}")
        return {}, set(schema)
    values: dict[str, Any] = {}
    bad: set[str] = set()
    for key, v in raw.items():
        if key in tables:
            continue
        if key not in schema:
            near = difflib.get_close_matches(key, [*schema, *tables], n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            problems.add(_key(where, key), f"unknown key{hint}")
            continue
        value, problem = _value(v, schema[key])
        if problem:
            problems.add(_key(where, key), problem)
            bad.add(key)
        else:
            values[key] = value
    for key in required:
        if key not in raw:
            problems.add(_key(where, key), "missing (required)")
            bad.add(key)
    return values, bad


def _array(raw: dict[str, Any], key: str, where: str, problems: _Problems) -> list[object]:
    v = raw.get(key, [])
    if not isinstance(v, list):
        problems.add(_key(where, key), f"expected an array of tables ([[{key}]]), got a table")
        return []
    return v


@dataclass
class _Health:
    """Health keys written at one level, where they were written, and those that were bad."""

    values: dict[str, Any]
    where: dict[str, str]
    bad: set[str]

    def over(self, more: _Health) -> _Health:
        return _Health(self.values | more.values, self.where | more.where, self.bad | more.bad)


def _health(raw: object, where: str, problems: _Problems) -> _Health:
    values, bad = _table(raw, where, HEALTH, problems)
    return _Health(values, {k: _key(where, k) for k in values}, bad)


def _check_health(h: _Health, interval: float | None, problems: _Problems) -> HealthSettings:
    """Cross-key rules on one origin's merged health, reported where the keys were written."""
    s = HealthSettings(**h.values)
    if interval is not None and "timeout" not in h.bad and s.timeout >= interval:
        if "timeout" in h.where:
            what = f"{s.timeout:g} must be shorter than daemon.interval ({interval:g})"
            problems.add(h.where["timeout"], what)
        else:
            what = f"{interval:g} must be longer than the default health timeout ({s.timeout:g})"
            problems.add("daemon.interval", what)
    if not {"hold_down", "hold_down_max"} & h.bad and s.hold_down_max < s.hold_down:
        # Blame the more specific of the two keys: the one written closer to the origin.
        low, high = h.where.get("hold_down", ""), h.where.get("hold_down_max", "")
        what = f"hold_down_max ({s.hold_down_max:g}) is shorter than hold_down ({s.hold_down:g})"
        problems.add(low if len(low) > len(high) else high, what)
    return s


def _pool(
    raw: object, where: str, base: _Health, interval: float | None, problems: _Problems
) -> tuple[Pool | None, dict[str, Any]]:
    """One [[pools]] table: the pool if it is valid, and the pool keys that were valid."""
    values, bad = _table(
        raw, where, POOL, problems, required=("name", "record", "zone_id"), tables=POOL_TABLES
    )
    if not isinstance(raw, dict):
        return None, values
    if "record" in values:
        values["record"] = names.normalise_dns_name(values["record"])
    if "zone_id" in values:
        values["zone_id"] = values["zone_id"].removeprefix("/hostedzone/")
    if "origins" not in raw:
        problems.add(f"{where}.origins", "missing (required): add [[pools.origins]] tables")
    pool_health = base.over(_health(raw.get("health", {}), f"{where}.health", problems))
    raw_origins = _array(raw, "origins", where, problems)
    origins: list[Origin] = []
    weights: list[int] = []
    ids: dict[str, int] = {}
    for i, raw_origin in enumerate(raw_origins):
        at = f"{where}.origins[{i}]"
        ovalues, obad = _table(
            raw_origin,
            at,
            ORIGIN,
            problems,
            required=("id", "bucket", "region"),
            tables=ORIGIN_TABLES,
        )
        own = raw_origin.get("health", {}) if isinstance(raw_origin, dict) else {}
        health = _check_health(
            pool_health.over(_health(own, f"{at}.health", problems)), interval, problems
        )
        if "weight" not in obad:
            weights.append(ovalues.get("weight", DEFAULT_WEIGHT))
        oid = ovalues.get("id")
        if oid in ids:
            problems.add(f"{at}.id", f"{_show(oid)} is also origins[{ids[oid]}]'s id")
        elif oid is not None:
            ids[oid] = i
        if not obad:
            ovalues.setdefault("weight", DEFAULT_WEIGHT)
            ovalues.setdefault("canary", DEFAULT_CANARY)
            origins.append(Origin(pool=values.get("name", ""), health=health, **ovalues))
    if len(raw_origins) > MAX_ORIGINS:
        problems.add(
            f"{where}.origins",
            f"{len(raw_origins)} origins; Route 53 allows at most "
            f"{MAX_ORIGINS} weighted sets per record",
        )
    if isinstance(raw.get("origins"), list) and not raw_origins:
        problems.add(f"{where}.origins", "at least one origin is required")
    elif raw_origins and len(weights) == len(raw_origins) and not any(weights):
        problems.add(f"{where}.origins", "at least one origin needs a positive weight")
    source = values.get("canary_source", "")
    if source and source not in ids:
        problems.add(f"{where}.canary_source", f"{_show(source)} is not an origin id of this pool")
    if bad or len(origins) != len(raw_origins):
        return None, values
    pool = Pool(
        name=values["name"],
        record=values["record"],
        zone_id=values["zone_id"],
        ttl=values.get("ttl", DEFAULT_TTL),
        origins=tuple(origins),
        canary_source=source,
    )
    return pool, values


def _unique(pools: list[dict[str, Any]], key: str, why: str, problems: _Problems) -> None:
    first: dict[str, int] = {}
    for i, values in enumerate(pools):
        if key in values:
            v = values[key]
            if v in first:
                problems.add(
                    f"pools[{i}].{key}", f"{_show(v)} is also pools[{first[v]}]'s {key}{why}"
                )
            first.setdefault(v, i)


def _document(doc: dict[str, Any], problems: _Problems) -> Config | None:
    for key in doc:
        if key not in TOP_KEYS:
            near = difflib.get_close_matches(key, TOP_KEYS, n=1)
            hint = f' (did you mean "{near[0]}"?)' if near else ""
            problems.add(_key("", key), f"unknown key{hint}")
    daemon_values, daemon_bad = _table(doc.get("daemon", {}), "daemon", DAEMON, problems)
    daemon = DaemonSettings(**daemon_values)
    interval = None if "interval" in daemon_bad else daemon.interval
    base = _health(doc.get("health", {}), "health", problems)
    health = _check_health(base, interval, problems)
    if "pools" not in doc:
        problems.add("pools", "missing (required): add at least one [[pools]] table")
    raw_pools = _array(doc, "pools", "", problems)
    if isinstance(doc.get("pools"), list) and not raw_pools:
        problems.add("pools", "at least one pool is required")
    pools: list[Pool] = []
    seen: list[dict[str, Any]] = []
    for i, raw_pool in enumerate(raw_pools):
        pool, values = _pool(raw_pool, f"pools[{i}]", base, interval, problems)
        seen.append(values)
        if pool is not None:
            pools.append(pool)
    _unique(seen, "name", "", problems)
    _unique(seen, "record", ": two pools would fight over its weights", problems)
    if problems:
        return None
    return Config(daemon=daemon, health=health, pools=tuple(pools))


_TOML_WHERE = re.compile(
    r"(?P<what>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)"
)


def parse(text: str, source: str = "<config>") -> Config:
    """Parse and validate a TOML document; raise ConfigError listing every problem in it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ConfigError([f"offset {e.start}: not valid UTF-8 text"], source) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = _TOML_WHERE.fullmatch(str(e))
        if m and m["line"]:
            problem = f"line {m['line']}, column {m['col']}: {m['what']} (TOML syntax)"
        elif m:
            problem = f"end of document: {m['what']} (TOML syntax)"
        else:
            problem = f"toml: {e}"
        raise ConfigError([problem], source) from None
    except ValueError as e:  # tomllib lets int()'s digit limit through
        raise ConfigError([f"toml: a number is too long to read ({e})"], source) from None
    except RecursionError:
        raise ConfigError(["toml: arrays or tables nested too deeply"], source) from None
    problems = _Problems()
    config = _document(doc, problems)
    if config is None:
        raise ConfigError(problems, source)
    return config


def load(path: str | None, environ: Mapping[str, str]) -> Config:
    """The config from `path`, else from the TOML text in FAILOVER_CONFIG."""
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ConfigError([f"{path}: cannot read ({e.strerror or e})"]) from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ConfigError([f"byte {e.start}: not valid UTF-8 text"], path) from None
        return parse(text, path)
    if ENV_VAR in environ:
        text = environ[ENV_VAR]
        if not text.strip():
            raise ConfigError([f"{ENV_VAR}: is set but empty"], ENV_VAR)
        return parse(text.removeprefix("\ufeff"), ENV_VAR)
    raise ConfigError([f"--config: no config file given, and {ENV_VAR} is not set"])


def render_problems(err: ConfigError) -> str:
    """Every problem on its own line, each prefixed with the config's source when known."""
    head = f"{err.source}: " if err.source else ""
    return "\n".join(head + p for p in err.problems)


def documented_fields() -> dict[type, tuple[str, ...]]:
    """Each model class read from TOML and the field names a config file may set on it."""
    derived = {"pool"}  # Origin.pool comes from the enclosing [[pools]]
    classes = (Config, DaemonSettings, HealthSettings, Pool, Origin)
    return {
        c: tuple(f.name for f in dataclasses.fields(c) if f.name not in derived) for c in classes
    }
