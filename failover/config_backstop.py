"""The `[backstop]` table: where verdicts go for pools whose sets carry health checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from failover.config_schema import BACKSTOP, Field
from failover.core import backstop
from failover.model import BackstopSettings, Config

Add = Callable[[str, str], None]
Table = Callable[[object, str, Mapping[str, Field]], tuple[dict[str, Any], Any]]


def read(
    raw: object, pools: Sequence[Mapping[str, Any]], add: Add, table: Table
) -> BackstopSettings:
    """`[backstop]`, required (its region) as soon as one pool sets `backstop = true`."""
    values, _ = table(raw, "backstop", BACKSTOP)
    wanted = [i for i, p in enumerate(pools) if p.get("backstop")]
    if wanted and not (isinstance(raw, dict) and "region" in raw):
        add(
            "backstop.region",
            f"missing (required: pools[{wanted[0]}] sets backstop = true; "
            "a Region other than us-east-1 for its metrics and alarms)",
        )
    return BackstopSettings(**values)


def warnings(config: Config) -> list[str]:
    """A period only the sandbox can evaluate, when some pool uses the backstop."""
    why = backstop.period_problem(config.backstop.period_seconds)
    return (
        [f"backstop.period_seconds: {why}"] if why and any(p.backstop for p in config.pools) else []
    )
