"""What one round did, as a value: for tests, the CLI's `check` and the simulation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from failover.model import Change, Desired, OriginKey, ProbeResult


def new_change_id() -> str:
    """The id a batch carries in its Route 53 comment and in every log line about it."""
    return uuid.uuid4().hex[:12]


@dataclass
class RoundReport:
    """What one round did: what it saw, decided, sent, and what became of it."""

    results: dict[OriginKey, ProbeResult] = field(default_factory=dict)
    desired: dict[str, Desired] = field(default_factory=dict)
    planned: list[Change] = field(default_factory=list)
    applied: list[Change] = field(default_factory=list)
    conflicts: list[Change] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    frozen: bool = False
    error: str = ""
