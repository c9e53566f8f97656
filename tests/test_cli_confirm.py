"""After saving an override, the CLI reads the daemon's /status until it shows it, or says why not."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from failover.commands.overrides import confirm
from failover.commands.shared import EXIT_OK, EXIT_UNCONFIRMED
from failover.model import OriginKey
from tests.e2e_support import cli, free_port
from tests.factories import Clock, make_config

KEY = OriginKey("www", "eu-west-1")
PIN = {"action": "pin", "by": "ops@host", "at": 5.0, "reason": "hold"}


def status_doc(override: dict[str, Any] | None, age: float | None = 1.0) -> dict[str, Any]:
    origin = {"id": KEY.origin, "override": override}
    return {"overrides_age": age, "pools": [{"name": KEY.pool, "origins": [origin]}]}


class Daemon:
    """A /status endpoint whose document the test sets, round by round."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.served = 0
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                doc = daemon.docs[min(daemon.served, len(daemon.docs) - 1)]
                daemon.served += 1
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.listen = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    d = Daemon()
    yield d
    d.server.shutdown()
    d.server.server_close()


def run_confirm(d: Daemon, wait: float | None = 3.0) -> int:
    clock = Clock(0.0)

    def sleep(seconds: float) -> None:
        clock.t += seconds

    config = make_config(listen=d.listen)
    return confirm(config, KEY, lambda held: held == PIN, wait, clock=clock, sleep=sleep)


def test_confirmed_once_the_daemon_reports_the_override(
    daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.docs = [status_doc(None), status_doc(None), status_doc(PIN)]
    assert run_confirm(daemon) == EXIT_OK
    assert "confirmed" in capsys.readouterr().out
    assert daemon.served == 3


def test_a_daemon_that_never_read_its_overrides_is_unconfirmed_and_says_so(
    daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.docs = [status_doc(None, age=None)]
    assert run_confirm(daemon) == EXIT_UNCONFIRMED
    err = capsys.readouterr().err
    assert "not confirmed" in err
    assert "never read the overrides" in err


def test_a_daemon_that_does_not_know_the_origin_is_unconfirmed(
    daemon: Daemon, capsys: pytest.CaptureFixture[str]
) -> None:
    daemon.docs = [{"overrides_age": 1.0, "pools": []}]
    assert run_confirm(daemon) == EXIT_UNCONFIRMED
    assert "does not know www/eu-west-1" in capsys.readouterr().err


def test_wait_0_does_not_ask_the_daemon(daemon: Daemon) -> None:
    daemon.docs = [status_doc(None)]
    assert run_confirm(daemon, wait=0) == EXIT_OK
    assert daemon.served == 0


def test_the_cli_exits_4_naming_why_when_no_daemon_answers(tmp_path: Path) -> None:
    config = tmp_path / "failover.toml"
    config.write_text(
        f"""[daemon]
listen = "127.0.0.1:{free_port()}"
overrides = "file://{tmp_path}/overrides.json"

[[pools]]
name = "www"
record = "www.origin.example.com"
zone_id = "Z1"

[[pools.origins]]
id = "eu-west-1"
bucket = "www-eu-west-1"
region = "eu-west-1"
"""
    )
    r = cli("pin", "www", "eu-west-1", "--reason", "hold", "--wait", "1", "--config", str(config))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "pin www/eu-west-1 set in" in r.stdout
    assert "saved, but not confirmed: no daemon answers at http://127.0.0.1:" in r.stderr
    assert json.loads((tmp_path / "overrides.json").read_text())["overrides"][0]["action"] == "pin"
