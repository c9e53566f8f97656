"""The long-running service: scheduler, signals, reload, HTTP endpoint, systemd notification."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

import boto3
import botocore.config
import structlog
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler

from failover import canary, logs
from failover.aws.probe import Prober
from failover.aws.route53 import RateLimiter, Route53Store
from failover.errors import ConfigError, FailoverError
from failover.http import Endpoint, Liveness
from failover.metrics import Metrics
from failover.model import Config
from failover.overrides import open_store
from failover.round import Runner

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
) -> Parts:
    """Wire the real prober, Route 53 store and override store into a Runner."""
    session = session or boto3.Session()
    prober = Prober(session)

    def pause(seconds: float) -> None:
        sleep(seconds)

    limiter = RateLimiter(config.daemon.route53_rate, sleep=pause)
    store = Route53Store(route53_client(session), limiter, observer=metrics, sleep=pause)  # type: ignore[arg-type]
    overrides = open_store(config.daemon.overrides, session)
    runner = Runner(config, prober, store, overrides, metrics, write=write)
    return Parts(runner, prober, limiter)


class Daemon:
    """Runs rounds on the configured interval until stopped; reloads on SIGHUP."""

    def __init__(
        self,
        config: Config,
        reload: Callable[[], Config],
        *,
        session: boto3.Session | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.reload_config = reload
        self.session = session or boto3.Session()
        self.metrics = metrics or Metrics()
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        parts = build_runner(config, self.metrics, session=self.session, sleep=self.stop.wait)
        self.runner, self.prober, self.limiter = parts.runner, parts.prober, parts.limiter
        self.metrics.watch(self.runner.snapshot)
        self.liveness = Liveness(self._stale_after(config))
        self.endpoint: Endpoint | None = None
        if config.daemon.listen:
            self.endpoint = Endpoint(
                config.daemon.listen, self.metrics.registry, self.runner.snapshot, self.liveness
            )
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self._ready_sent = False

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
        if not self._ready_sent:
            self._ready_sent = notify("READY=1\nSTATUS=first round completed")
        notify("WATCHDOG=1")

    def _write_canaries(self) -> None:
        try:
            canary.write(self.runner.config, time.time(), self.session)
        except FailoverError as e:
            log.error("canary_write_failed", error=str(e))

    def _missed(self, event: JobEvent) -> None:
        self.metrics.rounds_missed.inc()
        log.warning("round_missed", reason="the previous round is still running")

    def _schedule(self, config: Config) -> None:
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=config.daemon.interval,
            id="round",
            max_instances=1,
            coalesce=True,
            next_run_time=_now(),
            replace_existing=True,
            misfire_grace_time=None,
        )
        if config.daemon.canary_write_interval > 0 and canary.sources(config):
            self.scheduler.add_job(
                self._write_canaries,
                "interval",
                seconds=config.daemon.canary_write_interval,
                id="canary",
                max_instances=1,
                coalesce=True,
                next_run_time=_now(),
                replace_existing=True,
            )
        elif self.scheduler.get_job("canary") is not None:
            self.scheduler.remove_job("canary")

    # -- lifecycle --------------------------------------------------------------------
    def install_signals(self) -> None:
        def on_stop(signum: int, frame: FrameType | None) -> None:
            log.info("stop_requested", signal=signal.Signals(signum).name)
            self.stop.set()

        def on_hup(signum: int, frame: FrameType | None) -> None:
            self.reload_requested.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def run(self) -> int:
        if self.endpoint is not None:
            self.endpoint.start()
        self.scheduler.add_listener(self._missed, EVENT_JOB_MAX_INSTANCES)
        self._schedule(self.config)
        self.scheduler.start()
        log.info(
            "daemon_started",
            pools=len(self.config.pools),
            origins=len(self.config.all_origins()),
            interval=self.config.daemon.interval,
            dry_run=self.config.daemon.dry_run,
            listen=self.config.daemon.listen,
        )
        while not self.stop.wait(0.2):
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload()
        notify("STOPPING=1")
        self.scheduler.shutdown(wait=False)
        if self.endpoint is not None:
            self.endpoint.stop()
        self.prober.close()
        log.info("daemon_stopped")
        return 0

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
        if new.daemon.overrides != self.config.daemon.overrides:
            self.runner.overrides_store = open_store(new.daemon.overrides, self.session)
        self.limiter.rate = new.daemon.route53_rate
        self.limiter.burst = max(1.0, new.daemon.route53_rate)
        self.runner.reconfigure(new)
        self.liveness.stale_after = self._stale_after(new)
        self.config = new
        self._schedule(new)
        log.info("config_reloaded", pools=len(new.pools), origins=len(new.all_origins()))


def _now() -> datetime:
    return datetime.now(UTC)
