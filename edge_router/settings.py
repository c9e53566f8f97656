"""The edge router's settings: a JSON file baked into the package (Lambda@Edge has no env vars)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

ENV_VAR = "EDGE_ROUTER_SETTINGS"
DEFAULT_ALLOW_HEADER = "x-dns-origin-allow"
MAX_TIMEOUT = 10.0  # an origin-request function may run 30 s at most; DNS must not eat that


class SettingsError(ValueError):
    """Settings with problems; `problems` lists each as `key: what`."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + "; ".join(self.problems))


@dataclass(frozen=True)
class Settings:
    """Validated settings; `nameservers` empty means the system resolver."""

    nameservers: tuple[tuple[str, int], ...] = ()
    timeout: float = 1.0
    min_ttl: float = 1.0
    max_ttl: float = 300.0
    stale: float = 3600.0
    retry: float = 5.0
    allowed_buckets: tuple[str, ...] = ()
    allow_header: str = DEFAULT_ALLOW_HEADER


_NUMBERS = ("timeout", "min_ttl", "max_ttl", "stale", "retry")
KEYS = frozenset(("nameservers", "allowed_buckets", "allow_header", *_NUMBERS))


def parse(data: object, source: str = "") -> Settings:
    """Validate decoded JSON into Settings, or raise SettingsError naming every bad key."""
    if not isinstance(data, dict):
        raise SettingsError(["(top level): must be a JSON object"], source)
    problems = [f"{k}: unknown key" for k in sorted(set(data) - KEYS)]
    defaults = Settings()
    numbers: dict[str, float] = {}
    for key in _NUMBERS:
        value = data.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            problems.append(f"{key}: must be a number, got {value!r}")
        elif value < 0:
            problems.append(f"{key}: must not be negative, got {value!r}")
        else:
            numbers[key] = float(value)
    if "timeout" in numbers and not 0 < numbers["timeout"] <= MAX_TIMEOUT:
        problems.append(f"timeout: must be above 0 and at most {MAX_TIMEOUT}")
    if "min_ttl" in numbers and "max_ttl" in numbers and numbers["min_ttl"] > numbers["max_ttl"]:
        problems.append("min_ttl: must not exceed max_ttl")
    servers = _nameservers(data.get("nameservers", []), problems)
    allowed = data.get("allowed_buckets", [])
    if not isinstance(allowed, list) or not all(isinstance(p, str) and p for p in allowed):
        problems.append("allowed_buckets: must be a list of non-empty shell-style patterns")
        allowed = []
    header = data.get("allow_header", DEFAULT_ALLOW_HEADER)
    if not isinstance(header, str) or not header or header != header.strip().lower():
        problems.append(f"allow_header: must be a non-empty lowercase header name, got {header!r}")
        header = DEFAULT_ALLOW_HEADER
    if problems:
        raise SettingsError(problems, source)
    return Settings(
        nameservers=servers,
        allowed_buckets=tuple(allowed),
        allow_header=header,
        **numbers,
    )


def _nameservers(value: Any, problems: list[str]) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, list):
        problems.append("nameservers: must be a list of 'host' or 'host:port'")
        return ()
    out: list[tuple[str, int]] = []
    for i, item in enumerate(value):
        where = f"nameservers[{i}]"
        if not isinstance(item, str) or not item:
            problems.append(f"{where}: must be 'host' or 'host:port', got {item!r}")
            continue
        host, sep, port_text = item.rpartition(":") if item.count(":") == 1 else ("", "", "")
        if not sep:
            host, port_text = item, "53"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            problems.append(f"{where}: port must be 1-65535, got {item!r}")
            continue
        if not _is_ip(host):
            problems.append(f"{where}: host must be an IP address, got {host!r}")
            continue
        out.append((host, int(port_text)))
    return tuple(out)


def _is_ip(host: str) -> bool:
    import ipaddress  # noqa: PLC0415 - only settings validation needs it

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def load(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read settings from `path`, else `$EDGE_ROUTER_SETTINGS`, else the baked-in file."""
    chosen = path if path is not None else os.environ.get(ENV_VAR)
    try:
        if chosen:
            source = str(chosen)
            text = Path(chosen).read_text(encoding="utf-8")
        else:
            source = "edge_router/settings.json"
            text = resources.files("edge_router").joinpath("settings.json").read_text("utf-8")
    except OSError as e:
        raise SettingsError([f"(file): cannot read: {e.strerror or e}"], str(chosen or "")) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SettingsError([f"(file): invalid JSON at line {e.lineno}: {e.msg}"], source) from e
    return parse(data, source)
