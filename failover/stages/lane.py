"""A lane: one kind of slow call at a time, run off the round, collected when it is done."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class Lane(Generic[T]):
    """Runs at most one call at a time; the round starts it and later takes its result.

    In the background (the daemon), the call runs on a daemon thread of its own, so
    a hung dependency delays only what waits on its answer, never the probe cadence,
    and a stopping process abandons it instead of waiting. Inline (the simulation,
    tests, `failover check`), the call runs to completion when started, which keeps
    a round deterministic. A call past its deadline is reported once, and its result
    is still taken whenever it comes: nothing runs twice at once.
    """

    def __init__(
        self, name: str, *, background: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.background = background
        self._clock = clock
        self._future: Future[T] | None = None
        self._deadline = 0.0
        self._started = 0.0
        self._late_reported = False

    @property
    def idle(self) -> bool:
        return self._future is None

    @property
    def finished(self) -> bool:
        """A call has ended and its result waits to be taken."""
        return self._future is not None and self._future.done()

    def start(self, call: Callable[[], T], timeout: float) -> None:
        """Run `call` (it must be idle); its result is taken by `take`."""
        if self._future is not None:
            raise RuntimeError(f"{self.name}: a call is already running")
        future: Future[T] = Future()
        self._future = future
        self._started = self._clock()
        self._deadline = self._started + timeout
        self._late_reported = False

        def run() -> None:
            try:
                future.set_result(call())
            except BaseException as e:  # noqa: BLE001 - handed to whoever takes the result
                future.set_exception(e)

        if self.background:
            threading.Thread(target=run, name=f"failover-{self.name}", daemon=True).start()
        else:
            run()

    def take(self) -> Future[T] | None:
        """The finished call's future, once; None while running or idle."""
        future = self._future
        if future is None or not future.done():
            return None
        self._future = None
        return future

    def late(self) -> float | None:
        """Seconds the running call has taken, the first time it is past its deadline."""
        if self._future is None or self._late_reported or self._clock() < self._deadline:
            return None
        self._late_reported = True
        return self._clock() - self._started

    def running_for(self) -> float:
        return 0.0 if self._future is None else self._clock() - self._started
