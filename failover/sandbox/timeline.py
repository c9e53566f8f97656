"""What the demo prints: observations on a timeline, expectations checked, daemon events in a line."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from failover.sandbox.observe import Seen

SHOWN = frozenset(
    (
        "daemon_started",
        "origin_marked_down",
        "origin_marked_up",
        "weights_applied",
        "kvs_weights_applied",
        "pool_failed_open",
        "pool_recovered",
        "writes_frozen",
        "writes_unfrozen",
        "change_conflict",
        "route53_write_failed",
        "writes_refused",
        "daemon_stopped",
    )
)


@dataclass
class Timeline:
    """Prints observations as they happen, with the seconds since the demo started."""

    out: TextIO = sys.stdout
    started: float = field(default_factory=time.time)
    failed: list[str] = field(default_factory=list)
    passed: int = 0
    phase: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, text: str, at: float | None = None) -> None:
        t = (at if at is not None else time.time()) - self.started
        with self._lock:
            print(f"{t:7.2f}s  {text}", file=self.out, flush=True)

    def head(self, text: str) -> None:
        self.phase += 1
        with self._lock:
            print(f"\n== {text} ==", file=self.out, flush=True)

    def expect(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        self.say(f"{'PASS' if ok else 'FAIL'}  {what}")
        return ok


def describe(seen: Seen) -> str:
    """One daemon event in a line: its name and the facts that matter."""
    e = seen.event
    name = seen.name
    if name == "weights_applied":
        changes = ", ".join(
            f"{c['origin']} {c['from']}->{c['to']} ({c['reason']})" for c in e.get("changes", [])
        )
        return f"daemon: weights_applied change_id={e.get('change_id')} [{changes}]"
    if name == "kvs_weights_applied":
        moved = ", ".join(f"{c['origin']} {c['from']}->{c['to']}" for c in e.get("changes", []))
        return f"daemon: kvs_weights_applied change_id={e.get('change_id')} seq={e.get('seq')} [{moved}]"
    facts = [
        f"{k}={e[k]}"
        for k in ("origin", "outcome", "detail", "pool", "reason", "signal")
        if e.get(k) not in (None, "")
    ]
    return f"daemon: {name} " + " ".join(facts)
