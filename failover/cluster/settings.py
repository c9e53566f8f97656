"""The rules that join `[cluster]` keys to each other and to the round's interval."""

from __future__ import annotations

from collections.abc import Collection

from failover.model import ClusterSettings


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
