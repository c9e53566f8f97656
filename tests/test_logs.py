"""Every log record, whichever library emits it, comes out in the configured format, once."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from failover import logs
from tests.conftest import Zone
from tests.e2e_support import free_port, make_buckets, pool_for, start, wait_for, write_config

LIBRARIES = (
    "dns.resolver",
    "botocore.credentials",
    "urllib3.connectionpool",
    "s3transfer",
)


@pytest.fixture(autouse=True)
def _detach() -> Iterator[None]:
    logs.reset()
    yield
    logs.reset()


def _boom() -> None:
    raise RuntimeError("boom")


def _emit_everything() -> None:
    """Our events, other libraries' records, a warning and two tracebacks."""
    structlog.get_logger("failover").info("weights_applied", pool="www", changes=2)
    structlog.get_logger("failover.route53").warning("route53_throttled", attempt=1)
    for name in LIBRARIES:
        logging.getLogger(name).warning("%s says %s", name, "something\nover two lines")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("a library is deprecated", DeprecationWarning, stacklevel=1)
    try:
        _boom()
    except RuntimeError:
        structlog.get_logger("failover").exception("round_failed")
        logging.getLogger("botocore.hooks").exception("Error during hook")


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    assert lines
    docs = [json.loads(line) for line in lines]  # any line that is not JSON fails here
    assert all(isinstance(d, dict) for d in docs)
    return docs


def test_in_json_mode_every_record_of_every_library_is_one_json_line() -> None:
    out = io.StringIO()
    logs.configure("json", "info", out)
    _emit_everything()
    docs = _json_lines(out.getvalue())
    by_event = {d["event"]: d for d in docs}
    assert by_event["weights_applied"]["changes"] == 2
    assert by_event["route53_throttled"]["level"] == "warning"
    for name in LIBRARIES:
        doc = by_event[f"{name} says something\nover two lines"]
        assert (doc["logger"], doc["level"]) == (name, "warning")
        assert doc["timestamp"].endswith("Z")
    warned = [d for d in docs if d.get("logger") == "py.warnings"]
    assert len(warned) == 1
    assert "DeprecationWarning: a library is deprecated" in warned[0]["event"]
    tracebacks = [d for d in docs if "RuntimeError: boom" in d.get("exception", "")]
    assert {d["event"] for d in tracebacks} == {"round_failed", "Error during hook"}
    assert len(docs) == 2 + len(LIBRARIES) + 1 + 2


def test_console_mode_renders_every_record_as_a_readable_line() -> None:
    out = io.StringIO()
    logs.configure("console", "info", out)
    structlog.get_logger("failover").info("weights_applied", pool="www")
    logging.getLogger("botocore.credentials").warning("Refreshing credentials failed")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert "weights_applied" in lines[0]
    assert "pool=www" in lines[0]
    assert "Refreshing credentials failed" in lines[1]
    assert "[botocore.credentials]" in lines[1]
    assert not [line for line in lines if line.startswith("{")]


def test_configuring_again_replaces_the_handler_instead_of_adding_one() -> None:
    """A reload calls configure again: each record is still written exactly once."""
    first, second = io.StringIO(), io.StringIO()
    handlers = len(logging.getLogger().handlers)
    logs.configure("json", "info", first)
    logs.configure("json", "info", second)
    logs.configure("json", "debug", second)
    assert len(logging.getLogger().handlers) == handlers + 1
    structlog.get_logger("failover").info("config_reloaded")
    logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
    assert first.getvalue() == ""
    events = [d["event"] for d in _json_lines(second.getvalue())]
    assert events == ["config_reloaded", "Connection pool is full"]


def test_the_level_filters_our_events_and_libraries_speak_from_warning_up() -> None:
    out = io.StringIO()
    logs.configure("json", "debug", out)
    structlog.get_logger("failover.canary").debug("canary_read")
    logging.getLogger("botocore.endpoint").debug("Making request")
    logging.getLogger("botocore.credentials").info("Found credentials")
    logs.configure("json", "warning", out)
    structlog.get_logger("failover").info("weights_applied")
    structlog.get_logger("failover").warning("origin_marked_down")
    events = [d["event"] for d in _json_lines(out.getvalue())]
    assert events == ["canary_read", "origin_marked_down"]


@pytest.mark.e2e
def test_a_running_daemon_writes_only_json_lines_including_botocore_s_warnings(
    zone: Zone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore warns at client creation about an over-long app id; a reload logs once."""
    # botocore/args.py: "The configured value for user_agent_appid exceeds the maximum
    # length of %d characters." (USERAGENT_APPID_MAXLEN = 50); the value is still used.
    monkeypatch.setenv("AWS_SDK_UA_APP_ID", "x" * 60)
    buckets = make_buckets(f"logs-{uuid.uuid4().hex[:8]}")
    zone.put(pool_for(buckets), dict.fromkeys(buckets, 100))
    config = tmp_path / "failover.toml"
    write_config(config, zone.id, buckets, free_port(), tmp_path)
    log = tmp_path / "daemon.log"
    proc = start(config, log)

    def seen(event: str) -> bool:
        return f'"event": "{event}"' in log.read_text()

    try:
        wait_for("a completed round", lambda: seen("origin_marked_up"))
        text = config.read_text()
        config.write_text(
            text.replace('log_format = "json"', 'log_format = "json"\nlog_level = "debug"')
        )
        os.kill(proc.pid, signal.SIGHUP)
        wait_for("the reload", lambda: seen("config_reloaded"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    docs = _json_lines(log.read_text())
    botocore = [d for d in docs if d.get("logger", "").startswith("botocore")]
    assert botocore
    assert all("user_agent_appid" in d["event"] for d in botocore)
    assert [d["event"] for d in docs].count("config_reloaded") == 1
    assert docs[-1]["event"] == "daemon_stopped"
