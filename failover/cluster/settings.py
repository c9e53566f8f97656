"""The rules that join `[cluster]` keys to each other and to the round's interval."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from failover.config_schema import CLUSTER
from failover.model import ClusterSettings

Table = Callable[..., tuple[dict[str, Any], Collection[str]]]


def cluster_settings(
    raw: object, interval: float | None, add: Callable[[str, str], None], table: Table
) -> ClusterSettings | None:
    """[cluster]: a table and the number of replicas turn cluster mode on."""
    values, bad = table(raw, "cluster", CLUSTER, required=("table", "replicas"))
    c = ClusterSettings(**{"table": "", "replicas": 0, **values})
    for where, what in cluster_problems(c, interval, bad):  # those of the good keys too
        add(where, what)
    return None if bad else c


def cluster_problems(
    c: ClusterSettings, interval: float | None, bad: Collection[str] = ()
) -> list[tuple[str, str]]:
    """(where, what) for each rule `c` breaks, among keys not `bad` (already reported);
    `interval` is None when it was itself bad."""
    out: list[tuple[str, str]] = []
    if not {"quorum", "replicas"} & set(bad) and c.quorum > c.replicas:
        out.append(("cluster.quorum", f"{c.quorum} is more than cluster.replicas ({c.replicas})"))
    if {"lease_seconds", "lease_margin_seconds"} & set(bad):
        return out
    if c.lease_margin_seconds >= c.lease_seconds:
        out.append(
            (
                "cluster.lease_margin_seconds",
                (
                    f"{c.lease_margin_seconds:g} must be shorter than cluster.lease_seconds "
                    f"({c.lease_seconds:g})"
                ),
            )
        )
    elif interval is not None and c.lease_seconds - c.lease_margin_seconds <= 2 * interval:
        out.append(
            (
                "cluster.lease_seconds",
                (
                    f"{c.lease_seconds:g} less the margin must be more than two daemon.interval "
                    f"({interval:g}): the leader renews once a round"
                ),
            )
        )
    return out


def cluster_warnings(c: ClusterSettings | None) -> list[str]:
    """What is valid but risky: a quorum lowered below a majority, on purpose or not."""
    if c is None or not c.quorum or c.quorum >= c.replicas // 2 + 1:
        return []
    return [
        (
            f"cluster.quorum: {c.quorum} of {c.replicas} replicas is not a majority: two groups "
            "of replicas that cannot see each other may each mark origins down"
        )
    ]
