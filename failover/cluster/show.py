"""The cluster part of `failover status`: leader, epoch, and every replica's view and age."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def lines(cluster: Mapping[str, Any]) -> list[str]:
    """The daemon's /status `cluster` object as lines for a person to read."""
    leader = cluster.get("leader") or "none"
    out = [
        (
            f"cluster: replica {cluster.get('replica')}  leader {leader}  epoch {cluster.get('epoch')}"
            f"  leading={cluster.get('leading')}"
        ),
        f"  quorum {cluster.get('quorum')} of {cluster.get('replicas')} replicas, "
        f"live {cluster.get('live')}, disagreements {cluster.get('disagreements')}"
        + ("  QUORUM LOST: nothing is marked down or up" if cluster.get("quorum_lost") else ""),
    ]
    if cluster.get("table_error"):
        out.append(f"  table unreachable: {cluster['table_error']}")
    for name, v in sorted(dict(cluster.get("views") or {}).items()):
        if "unreadable" in v:
            out.append(f"  view {name:<20} unreadable: {v['unreadable']}")
            continue
        state = "live" if v.get("live") else "NOT LIVE"
        blind = "  blind" if v.get("blind") else ""
        down = ", ".join(v.get("down") or []) or "-"
        out.append(
            f"  view {name:<20} {state}  age {v.get('age')} s  seq {v.get('seq')}{blind}  down: {down}"
        )
    return out
