"""Configuration: one TOML document parsed into the validated, frozen values of `model`."""

from __future__ import annotations

import difflib
import functools
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_router import names
from failover import config_backstop, config_kvs
from failover.cluster.settings import cluster_settings, cluster_warnings
from failover.config_schema import (
    DAEMON,
    DEFAULT_CANARY,
    DEFAULT_TTL,
    DEFAULT_WEIGHT,
    FAILBACKS,
    HEALTH,
    MAX_ORIGINS,
    OPTIONAL_TOP,
    ORIGIN,
    ORIGIN_TABLES,
    POOL,
    POOL_TABLES,
    ROUTERS,
    TOP_KEYS,
    Field,
    show,
    type_name,
)
from failover.errors import ConfigError
from failover.model import Config, DaemonSettings, HealthSettings, Origin, Pool

ENV_VAR = "FAILOVER_CONFIG"


# ---- reading ------------------------------------------------------------------------------


class _Problems(list[str]):
    def add(self, where: str, what: str) -> None:
        line = f"{where}: {what}"
        if line not in self:
            self.append(line)


def _key(where: str, key: str) -> str:
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else show(key)
    return f"{where}.{shown}" if where else shown


def _value(v: object, f: Field) -> tuple[object, str | None]:
    """The value converted for the model, or the problem with it."""
    if f.kind is float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            return None, f"expected a number, got {type_name(v)} {show(v)}"
        if isinstance(v, float) and not math.isfinite(v):
            return None, f"must be a finite number, got {show(v)}"
    elif f.kind is int:
        if isinstance(v, bool) or not isinstance(v, int):
            return None, f"expected an integer, got {type_name(v)} {show(v)}"
    elif not isinstance(v, f.kind):
        want = "a string" if f.kind is str else "an array" if f.kind is list else "true or false"
        return None, f"expected {want}, got {type_name(v)} {show(v)}"
    if isinstance(v, int | float) and not isinstance(v, bool):
        if f.lo is not None and (v <= f.lo if f.lo_open else v < f.lo):
            least = "more than" if f.lo_open else "at least"
            return None, f"must be {least} {f.lo:g}, got {show(v)}"
        if f.hi is not None and v > f.hi:
            return None, f"must be at most {f.hi:,g}, got {show(v)}"
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
        problems.add(where, f"expected a table, got {type_name(raw)}")
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
            problems.add(f"{at}.id", f"{show(oid)} is also origins[{ids[oid]}]'s id")
        elif oid is not None:
            ids[oid] = i
        region = ovalues.get("region")
        if values.get("router", ROUTERS[0]) == "lambda-edge" and region is not None:
            why = names.edge_region_reason(region)
            if why is not None:
                problems.add(f"{at}.region", f"{show(region)} {why} (pool router)")
                obad.add("region")
        if not obad:
            ovalues.setdefault("weight", DEFAULT_WEIGHT)
            ovalues.setdefault("canary", DEFAULT_CANARY)
            ovalues.setdefault("cf_origin_id", f"s3-{ovalues['id']}")
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
    elif origins and len(origins) == len(raw_origins):
        _check_standbys(origins, where, problems)
    for sid in values.get("previous_ids", []):
        if sid in ids:
            problems.add(
                f"{where}.previous_ids",
                f"{show(sid)} is an origin's id: a previous id is one no origin has any more",
            )
    source = values.get("canary_source", "")
    if source and source not in ids:
        problems.add(f"{where}.canary_source", f"{show(source)} is not an origin id of this pool")
    if bad or len(origins) != len(raw_origins):
        return None, values
    pool = Pool(
        name=values["name"],
        record=values["record"],
        zone_id=values["zone_id"],
        ttl=values.get("ttl", DEFAULT_TTL),
        origins=tuple(origins),
        canary_source=source,
        router=values.get("router", ROUTERS[0]),
        failback=values.get("failback", FAILBACKS[0]),
        trust_unowned=values.get("trust_unowned", False),
        previous_ids=tuple(values.get("previous_ids", ())),
        sink=values.get("sink", "route53"),
        backstop=values.get("backstop", False),
    )
    return pool, values


def _check_standbys(origins: list[Origin], where: str, problems: _Problems) -> None:
    """A standby's weight is what it carries when active; a pool needs a primary to fail to."""
    for i, o in enumerate(origins):
        if o.standby and o.weight == 0:
            problems.add(
                f"{where}.origins[{i}].weight",
                "a standby's weight is the weight it carries when active: it must be positive",
            )
    if all(o.standby or o.weight == 0 for o in origins):
        problems.add(
            f"{where}.origins", "at least one origin that is not a standby needs a positive weight"
        )


def warnings(config: Config) -> list[str]:
    """What is valid but likely a mistake: each with where it is and what to do instead.

    A weight-0 origin that is not a standby never serves: the daemon holds it at 0
    whatever happens, so when the others die the pool fails open rather than use it.
    Route 53's own idiom for a standby (a weight-0 set) is `standby = true` here.
    """
    out: list[str] = []
    out += cluster_warnings(config.cluster)
    out += config_backstop.warnings(config)
    for i, p in enumerate(config.pools):
        for j, o in enumerate(p.origins):
            if o.weight == 0 and not o.standby:
                out.append(
                    f"pools[{i}].origins[{j}]: weight 0 and not a standby: {p.name}/{o.id} "
                    "never carries traffic, not even when every other origin is down; for a "
                    "standby set standby = true and the weight it should carry when active"
                )
    return out


def _unique(pools: list[dict[str, Any]], key: str, why: str, problems: _Problems) -> None:
    first: dict[str, int] = {}
    for i, values in enumerate(pools):
        if key in values:
            v = values[key]
            if v in first:
                problems.add(
                    f"pools[{i}].{key}", f"{show(v)} is also pools[{first[v]}]'s {key}{why}"
                )
            first.setdefault(v, i)


def _document(doc: dict[str, Any], problems: _Problems) -> Config | None:
    for key in doc:
        if key not in TOP_KEYS + OPTIONAL_TOP:
            near = difflib.get_close_matches(key, TOP_KEYS + OPTIONAL_TOP, n=1)
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
    table = functools.partial(_table, problems=problems)
    backstop = config_backstop.read(doc.get("backstop", {}), seen, problems.add, table)
    kvs = config_kvs.read(doc.get("kvs", {}), table)
    config_kvs.check(kvs, pools, seen, problems.add)
    cluster = (
        cluster_settings(doc["cluster"], interval, problems.add, table)
        if "cluster" in doc
        else None
    )
    if problems:
        return None
    return Config(
        daemon=daemon,
        health=health,
        pools=tuple(pools),
        kvs=kvs,
        cluster=cluster,
        backstop=backstop,
    )


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


def read_s3(url: str) -> bytes:
    """The bytes of s3://BUCKET/KEY: a config larger than an SSM parameter holds (4 KB or 8 KB).

    Read with s3:GetObject, once at start and on each reload, bounded: 3 s to connect, 10 s
    to read, 2 attempts.
    """
    import boto3  # noqa: PLC0415 - only an S3 config needs the SDK here
    import botocore.config  # noqa: PLC0415
    import botocore.exceptions  # noqa: PLC0415

    from failover.aws import audit  # noqa: PLC0415

    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ConfigError([f"{url}: an S3 config is s3://BUCKET/KEY"])
    session = boto3.Session()
    if audit.enable():
        audit.watch(session)
    cfg = botocore.config.Config(
        connect_timeout=3, read_timeout=10, retries={"total_max_attempts": 2, "mode": "standard"}
    )
    try:
        body = session.client("s3", config=cfg).get_object(Bucket=bucket, Key=key)["Body"]
        return bytes(body.read())
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise ConfigError([f"{url}: cannot read ({e})"]) from None


def load(path: str | None, environ: Mapping[str, str]) -> Config:
    """The config from `path` (a file or s3://BUCKET/KEY), else the TOML in FAILOVER_CONFIG."""
    if path is not None:
        try:
            if path.startswith("s3://"):
                data = read_s3(path)
            else:
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
