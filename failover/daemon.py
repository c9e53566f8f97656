"""The long-running service: scheduler, signals, reload, HTTP endpoint, systemd notification."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import boto3
import botocore.config
import structlog

from failover import canary, logs
from failover.aws import audit, kvs
from failover.aws.probe import Prober
from failover.aws.route53 import RateLimiter, Route53Store
from failover.cluster import table as tables
from failover.cluster.fencing import Fencer
from failover.cluster.replica import ClusterMetrics, Replica
from failover.cluster.stores import overrides_store, replica_name
from failover.cluster.table import Table
from failover.errors import ConfigError, FailoverError
from failover.http import Endpoint, Liveness
from failover.metrics import Metrics
from failover.model import Config
from failover.overrides import open_store
from failover.round import Runner
from failover.service import ServiceManager
from failover.stages import backstop
from failover.stages.lane import Lane

log = structlog.get_logger("failover")


def notify(message: str) -> bool:
    """Tell systemd (Type=notify) about our state; a no-op outside systemd."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    addr = "\0" + path[1:] if path.startswith("@") else path
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.sendto(message.encode(), addr)
        except OSError:
            return False
    return True


def route53_client(session: boto3.Session) -> object:
    # Exactly one attempt per call: the store retries throttling itself, visibly.
    cfg = botocore.config.Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10
    )
    return session.client("route53", config=cfg)


@dataclass(frozen=True)
class Parts:
    runner: Runner
    prober: Prober
    limiter: RateLimiter


def build_runner(
    config: Config,
    metrics: Metrics,
    *,
    session: boto3.Session | None = None,
    sleep: Callable[[float], object] = time.sleep,
    write: bool = True,
    background: bool = False,
    abort: Callable[[], bool] = lambda: False,
) -> Parts:
    """Wire the real prober, Route 53 store and override store into a Runner.

    `background` puts Route 53 and the overrides store on lanes of their own (the
    daemon); without it every call completes inside its round (`failover check`).
    """
    session = session or boto3.Session()
    prober = Prober(session)

    def pause(seconds: float) -> None:
        sleep(seconds)

    limiter = RateLimiter(config.daemon.route53_rate, sleep=pause)
    store = Route53Store(
        route53_client(session),  # type: ignore[arg-type]
        limiter,
        observer=metrics,
        sleep=pause,
        abort=abort,
    )
    overrides = overrides_store(config, session)
    store_kvs = kvs.open_store(session, config.kvs, metrics.kvs.request)
    replica = None
    # Replicas vote and the lease holder writes through the fence; `failover check`
    # (write=False) never joins: it neither publishes a view nor takes the lease.
    if config.cluster is not None and write:
        c = config.cluster
        watch = ClusterMetrics(metrics.registry)
        table = Table(tables.client(c.region, session), c.table, observer=watch, sleep=pause)
        replica = Replica(
            c,
            replica_name(c),
            table,
            interval=config.daemon.interval,
            background=background,
            metrics=watch,
        )
    runner = Runner(
        config,
        prober,
        store,
        overrides,
        metrics,
        write=write,
        background=background,
        cluster=replica,
        kvs=store_kvs,
    )
    if replica is not None:
        runner.writer.fencer = Fencer(store, replica.may_write)
    return Parts(runner, prober, limiter)


class Cadence:
    """A grid of the monotonic clock: ticks at start, start + interval, start + 2 x interval…

    The wall clock never enters: a clock stepped back or forward (NTP, a VM resumed)
    moves no tick. A tick that finds the previous round still running is missed,
    counted, and the grid goes on: rounds never stack, and never run late in a burst.
    """

    def __init__(self, interval: float, now: float) -> None:
        self.interval = interval
        self.next = now

    def due(self, now: float) -> int:
        """How many ticks have come since the last call (0: none); moves past them."""
        if now < self.next:
            return 0
        ticks = int((now - self.next) // self.interval) + 1
        self.next += ticks * self.interval
        return ticks

    def wait(self, now: float) -> float:
        return max(0.0, self.next - now)

    def retime(self, interval: float, now: float) -> None:
        """A new interval from a reload: the next tick comes at most one new interval away."""
        self.interval = interval
        self.next = min(self.next, now + interval)


class Daemon:
    """Runs rounds on the configured interval until stopped; reloads on SIGHUP.

    The main loop only keeps time: rounds run on a thread of their own, Route 53 and
    the overrides store on lanes of their own (see `Runner`), and canary writes on
    another; so a signal is handled at once, and a stop never waits on a dependency.
    """

    def __init__(
        self,
        config: Config,
        reload: Callable[[], Config],
        *,
        session: boto3.Session | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.reload_config = reload
        self.session = session or boto3.Session()
        if audit.enable():  # FAILOVER_AWS_AUDIT: record every AWS operation (tests, audits)
            audit.watch(self.session)
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.stop = threading.Event()
        self.reload_requested = False
        self._reload_after = float("-inf")
        parts = build_runner(
            config,
            self.metrics,
            session=self.session,
            sleep=self.stop.wait,
            background=True,
            abort=self.stop.is_set,
        )
        self.runner, self.prober, self.limiter = parts.runner, parts.prober, parts.limiter
        self.metrics.watch(self.runner.snapshot)
        self.liveness = Liveness(self._stale_after(config))
        self.endpoint: Endpoint | None = None
        if config.daemon.listen:
            self.endpoint = Endpoint(
                config.daemon.listen, self.metrics.registry, self.runner.snapshot, self.liveness
            )
        self.rounds: Lane[None] = Lane("round", background=True, clock=clock)
        self.canaries: Lane[None] = Lane("canary", background=True, clock=clock)
        # The backstop publishes on a lane and a cadence of its own, off the probe cadence.
        self.backstops: Lane[None] = Lane("backstop", background=True, clock=clock)
        self.publisher: backstop.Publisher | None = None
        self._publishing = Cadence(float(config.backstop.period_seconds), clock())
        self.metrics.registry.register(
            backstop.BackstopCollector(
                lambda: self.config, lambda: self.runner.records, lambda: self.publisher
            )
        )
        self.service = ServiceManager.from_environ(notify, clock, os.environ)

    @staticmethod
    def _stale_after(config: Config) -> float:
        return 3 * config.daemon.interval + 10.0

    # -- jobs -------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.stop.is_set():
            return
        report = self.runner.run_round()
        if report.error:
            return  # no heartbeat: /healthz and the watchdog notice rounds that fail
        self.liveness.beat()
        self.service.started("first round completed")

    def _write_canaries(self) -> None:
        try:
            canary.write(self.runner.config, time.time(), self.session)
        except FailoverError as e:
            log.error("canary_write_failed", error=str(e))

    def _publish(self) -> None:
        """One period's verdicts (none while blind) into CloudWatch; never raises."""
        config = self.config
        if self.publisher is None or self.publisher.region != config.backstop.region:
            self.publisher = backstop.Publisher(
                backstop.client(self.session, config), config.backstop.region
            )
        runner = self.runner
        self.publisher.publish(
            config, dict(runner.observe.health), blind=runner.frozen, wall=time.time()
        )

    def _step_backstop(self, now: float) -> float:
        """Start a publication when one is due; the seconds until the next is."""
        done = self.backstops.take()
        if done is not None and done.exception() is not None:
            log.error("backstop_publish_failed", error=repr(done.exception()))
        if not backstop.enabled(self.config):
            return 1.0
        if self._publishing.due(now) and self.backstops.idle:
            self.backstops.start(self._publish, float(self.config.backstop.period_seconds))
        return self._publishing.wait(now)

    def _missed(self, ticks: int) -> None:
        self.metrics.rounds_missed.inc(ticks)
        log.warning("round_missed", reason="the previous round is still running", ticks=ticks)

    # -- lifecycle --------------------------------------------------------------------
    def install_signals(self) -> None:
        def on_stop(signum: int, frame: FrameType | None) -> None:
            log.info("stop_requested", signal=signal.Signals(signum).name)
            self.stop.set()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self.reload_requested = True  # taken by the loop within one interval

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def run(self) -> int:
        if self.endpoint is not None:
            self.endpoint.start()
        now = self.clock()
        rounds = Cadence(self.config.daemon.interval, now)
        writes = Cadence(self.config.daemon.canary_write_interval or 1.0, now)
        log.info(
            "daemon_started",
            pools=len(self.config.pools),
            origins=len(self.config.all_origins()),
            interval=self.config.daemon.interval,
            dry_run=self.config.daemon.dry_run,
            listen=self.config.daemon.listen,
        )
        while not self.stop.is_set():
            self._step(rounds, writes)
            next_publish = self._step_backstop(self.clock())
            # The watchdog is paced here, by the loop that keeps time, and judged by
            # whether rounds complete: a slow round never delays a ping, a stuck one stops them.
            self.service.step(self.liveness.check()[0])
            now = self.clock()
            wait = min(rounds.wait(now), writes.wait(now) if self._writes_canaries() else 1.0)
            wait = min(wait, self.service.wait(), next_publish)
            if self.reload_requested:
                wait = min(wait, max(0.0, self._reload_after - now))
            self.stop.wait(wait)
        notify("STOPPING=1")
        if self.endpoint is not None:
            self.endpoint.stop()
        self.prober.close()  # cancels a round in flight; lanes left running are abandoned
        cluster = self.runner.cluster
        if cluster is not None and (epoch := cluster.lease.epoch) and cluster.release():
            log.info("lease_released", epoch=epoch)
        log.info("daemon_stopped")
        return 0

    def _step(self, rounds: Cadence, writes: Cadence) -> None:
        now = self.clock()
        if self.reload_requested and now >= self._reload_after:
            # SIGHUPs coalesce: however many come, at most one reload per interval.
            self.reload_requested = False
            self._reload_after = now + self.config.daemon.interval
            self._reload()
            rounds.retime(self.config.daemon.interval, now)
            writes.retime(self.config.daemon.canary_write_interval or 1.0, now)
            self._publishing.retime(float(self.config.backstop.period_seconds), now)
        self.rounds.take()
        ticks = rounds.due(now)
        if ticks and self.rounds.idle:
            self.rounds.start(self._tick, self.config.daemon.interval)
            ticks -= 1
        if ticks:
            self._missed(ticks)
        self.canaries.take()
        if writes.due(now) and self._writes_canaries() and self.canaries.idle:
            self.canaries.start(self._write_canaries, self.config.daemon.canary_write_interval)

    def _writes_canaries(self) -> bool:
        return self.config.daemon.canary_write_interval > 0 and bool(canary.sources(self.config))

    def _reload(self) -> None:
        try:
            new = self.reload_config()
        except ConfigError as e:
            log.error("config_rejected", problems=e.problems, kept="previous config")
            return
        if new.daemon.listen != self.config.daemon.listen:
            log.warning("config_listen_ignored", reason="a new listen address needs a restart")
        if (new.daemon.log_format, new.daemon.log_level) != (
            self.config.daemon.log_format,
            self.config.daemon.log_level,
        ):
            logs.configure(new.daemon.log_format, new.daemon.log_level)
        if new.cluster != self.config.cluster:
            log.warning("config_cluster_ignored", reason="a change to [cluster] needs a restart")
            new = dataclasses.replace(new, cluster=self.config.cluster)
        if new.daemon.overrides != self.config.daemon.overrides and new.cluster is None:
            self.runner.overrides.store = open_store(new.daemon.overrides, self.session)
        self.limiter.rate = new.daemon.route53_rate
        self.limiter.burst = max(1.0, new.daemon.route53_rate)
        self.runner.reconfigure(new)
        self.liveness.stale_after = self._stale_after(new)
        self.config = new
        log.info("config_reloaded", pools=len(new.pools), origins=len(new.all_origins()))
