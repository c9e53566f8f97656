"""Fixtures: a Route 53-like responder on loopback, a fake clock, settings and a log recorder."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

from edge_router.settings import Settings
from failover.sandbox.dns import DnsResponder, StaticZone, WeightedAnswer

NAME = "origin.example.com"
EU = "www-eu-west-1.s3.eu-west-1.amazonaws.com"
US = "www-us-east-1.s3.us-east-1.amazonaws.com"


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LogRecorder:
    """Collects (event, fields) as the router logs them."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))

    def events(self) -> list[str]:
        return [e for e, _ in self.lines]


@pytest.fixture
def zone() -> StaticZone:
    return StaticZone({NAME: [WeightedAnswer.of(100, 30, EU)]})


@pytest.fixture
def responder(zone: StaticZone) -> Iterator[DnsResponder]:
    with DnsResponder(zone, rng=random.Random(7)) as r:
        yield r


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def logs() -> LogRecorder:
    return LogRecorder()


def settings_for(responder: DnsResponder, **overrides: Any) -> Settings:
    """Settings pointing at the responder, allowing the test buckets, with a short timeout."""
    base: dict[str, Any] = {
        "nameservers": (("127.0.0.1", responder.port),),
        "timeout": 0.2,
        "min_ttl": 1.0,
        "max_ttl": 300.0,
        "stale": 600.0,
        "retry": 5.0,
        "allowed_buckets": ("www-*",),
    }
    base.update(overrides)
    return Settings(**base)
