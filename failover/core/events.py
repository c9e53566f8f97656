"""What the core says happened, as values: the stage that called it logs and counts them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Level(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Event:
    """One log event: a snake_case fact in the past tense, its level and its fields."""

    name: str
    level: Level
    fields: Mapping[str, Any] = field(default_factory=dict)


def info(name: str, **fields: Any) -> Event:
    return Event(name, Level.INFO, fields)


def warning(name: str, **fields: Any) -> Event:
    return Event(name, Level.WARNING, fields)


def error(name: str, **fields: Any) -> Event:
    return Event(name, Level.ERROR, fields)
