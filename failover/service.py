"""What the daemon tells systemd, and when: READY, a watchdog paced by WATCHDOG_USEC, start extensions.

Pure timing over an injected clock and sender; the daemon's main loop calls `step` and
sleeps no longer than `wait` says, so pings come from the loop that keeps time, not from
the end of a round that may be slow.

systemd's words (sd_notify(3)): "WATCHDOG=1 Tells the service manager to update the
watchdog timestamp. [...] If $WATCHDOG_USEC is set [...] the daemon should send this
message [...] every half of the time specified in $WATCHDOG_USEC"; "If the $WATCHDOG_PID
environment variable is set [...] only the process with the PID specified [...] should
send". And "EXTEND_TIMEOUT_USEC=… Tells the service manager to extend the startup, runtime
or shutdown service timeout corresponding the current state. The value specified is a time
in microseconds during which the service must send a new message."
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

# While the first round runs (its Route 53 read can take minutes on a large zone), ask for
# this much more start time, and ask again every EXTEND_EVERY seconds.
EXTEND_BY = 30.0
EXTEND_EVERY = 10.0


def watchdog_period(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between watchdog pings (half of WATCHDOG_USEC), or None when none is asked."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(pid):
        return None
    return int(usec) / 2e6


class ServiceManager:
    """Sends READY=1 once started, WATCHDOG=1 while alive, EXTEND_TIMEOUT_USEC until ready.

    `alive` says whether rounds are completing (the same judgement as /healthz): while it
    is false, no ping goes out and systemd's watchdog restarts the daemon.
    """

    def __init__(
        self,
        send: Callable[[str], bool],
        clock: Callable[[], float],
        period: float | None,
    ) -> None:
        self.send = send
        self.clock = clock
        self.period = period
        now = clock()
        self.ready = False
        self._next_ping = now
        self._next_extend = now

    @classmethod
    def from_environ(
        cls, send: Callable[[str], bool], clock: Callable[[], float], environ: Mapping[str, str]
    ) -> ServiceManager:
        return cls(send, clock, watchdog_period(environ, os.getpid()))

    def started(self, status: str) -> None:
        """The first round completed: READY=1 (once)."""
        if not self.ready:
            self.ready = self.send(f"READY=1\nSTATUS={status}")

    def step(self, alive: bool) -> None:
        """Send what is due now: a watchdog ping, and a start extension before READY."""
        now = self.clock()
        if not alive:
            return
        if self.period is not None and now >= self._next_ping:
            self.send("WATCHDOG=1")
            self._next_ping = now + self.period
        if not self.ready and now >= self._next_extend:
            usec = int(EXTEND_BY * 1e6)
            self.send(f"EXTEND_TIMEOUT_USEC={usec}\nSTATUS=reading Route 53 for the first round")
            self._next_extend = now + EXTEND_EVERY

    def wait(self) -> float:
        """Seconds until `step` has something to send (inf: nothing ever)."""
        now = self.clock()
        due = [self._next_ping] if self.period is not None else []
        if not self.ready:
            due.append(self._next_extend)
        return max(0.0, min(due) - now) if due else float("inf")
