"""The sandbox's config for `failover run`: its buckets and record, its fast timings."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

from failover.sandbox.cloudwatch import BACKSTOP_TABLE

if TYPE_CHECKING:
    from failover.sandbox.world import Sandbox

CANARY_KEY = "_failover/canary.json"
_DAEMON_KEYS = frozenset(
    ("interval", "listen", "log_format", "log_level", "dry_run", "resync", "route53_rate")
)
_HEALTH_KEYS = frozenset(
    ("timeout", "fall", "rise", "hold_down", "hold_down_max", "slow_start", "expect", "max_age")
)


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def render(sb: Sandbox, **overrides: object) -> str:
    """A valid config for these buckets and this record, with the sandbox's fast timings.

    Keys of ``[daemon]`` and ``[health]`` may be overridden by name, plus ``overrides``
    (the drain/pin store's URL) and ``standby`` (the regions that are standbys, in order).
    """
    t = sb.timings
    daemon: dict[str, object] = {
        "interval": t.interval,
        "listen": f"127.0.0.1:{free_port()}",
        "log_format": "json",
        "resync": 5.0,
        "route53_rate": 20.0,
    }
    health: dict[str, object] = {
        "timeout": t.timeout,
        "fall": t.fall,
        "rise": t.rise,
        "hold_down": t.hold_down,
        "max_age": t.max_age,
    }
    store = f"file://{sb.dir}/overrides.json"
    standby: tuple[str, ...] = ()
    kvs: dict[str, str] = {}  # [kvs]: the pool then writes the store too, for the function
    backstop = bool(overrides.pop("backstop", False))
    for key, value in overrides.items():
        if key == "kvs" and isinstance(value, dict):
            kvs = {str(k): str(v) for k, v in value.items()}
        elif key == "standby":
            standby = tuple(str(r) for r in value) if isinstance(value, tuple | list) else ()
        elif key in _DAEMON_KEYS:
            daemon[key] = value
        elif key in _HEALTH_KEYS:
            health[key] = value
        elif key == "overrides":
            store = str(value)
        else:
            raise ValueError(f"config_toml: unknown key {key!r}")
    lines = ["[daemon]", *(f"{k} = {json.dumps(v)}" for k, v in daemon.items())]
    lines.append(f"overrides = {json.dumps(store)}")
    lines += ["", "[health]", *(f"{k} = {json.dumps(v)}" for k, v in health.items())]
    if kvs:
        lines += ["", "[kvs]", *(f"{k} = {json.dumps(v)}" for k, v in kvs.items())]
    lines += BACKSTOP_TABLE if backstop else []
    lines += [
        "",
        "[[pools]]",
        'name = "www"',
        f"record = {json.dumps(sb.record)}",
        f"zone_id = {json.dumps(sb.zone_id)}",
        f"ttl = {t.ttl}",
        *(['sink = "both"', 'router = "function"'] if kvs else []),
        *(["backstop = true"] if backstop else []),
    ]
    for region, bucket in sb.buckets.items():
        lines += [
            "",
            "[[pools.origins]]",
            f'id = "{region}"',
            f'bucket = "{bucket}"',
            f'region = "{region}"',
            "weight = 100",
            f'canary = "{CANARY_KEY}"',
            *(["standby = true"] if region in standby else []),
        ]
    return "\n".join(lines) + "\n"
