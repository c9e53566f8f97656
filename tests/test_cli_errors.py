"""CLI input paths that must end in a clear error, never a traceback or a false reassurance."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.e2e_support import cli, free_port, make_buckets, write_config


@pytest.mark.slow
@pytest.mark.usefixtures("endpoint")
def test_check_fails_clearly_when_route53_cannot_be_read(tmp_path: Path) -> None:
    """Printing "would change: nothing" with exit 0 hides that nothing could be compared."""
    buckets = make_buckets(f"rvchk-{uuid.uuid4().hex[:8]}")
    config = tmp_path / "c.toml"
    write_config(config, "Z0UNREADABLE0ZONE", buckets, free_port(), tmp_path)
    env = {**os.environ, "AWS_ENDPOINT_URL_ROUTE_53": f"http://127.0.0.1:{free_port()}"}
    r = cli("check", "--config", str(config), env=env, timeout=90)
    assert r.returncode != 0, r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("healthcheck", "--url", "not-a-url"),
        ("healthcheck", "--url", "http://127.0.0.1:9/healthz", "--timeout", "-1"),
    ],
)
def test_healthcheck_with_a_bad_argument_is_a_clear_error_not_a_traceback(
    args: tuple[str, ...],
) -> None:
    r = cli(*args, timeout=30)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr


@pytest.mark.slow
@pytest.mark.usefixtures("endpoint")
def test_drain_when_route53_is_unreadable_says_what_was_not_checked_and_what_force_does(
    tmp_path: Path,
) -> None:
    """A drain refused with no hint leaves the operator guessing; --force drains unchecked."""
    config = tmp_path / "c.toml"
    buckets = {r: f"nozone-{r}" for r in ("eu-west-1", "us-east-1")}
    write_config(config, "Z0NOSUCHZONE0", buckets, free_port(), tmp_path)
    r = cli("drain", "www", "eu-west-1", "--reason", "x", "--wait", "0", "--config", str(config))
    assert r.returncode == 3, r.stderr
    assert "Route 53 could not be read" in r.stderr
    assert "could not be checked whether draining www/eu-west-1 leaves pool www" in r.stderr
    assert "--force drains without that check" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "overrides.json").exists()
    forced = cli(
        "drain", "www", "eu-west-1", "--reason", "x", "--wait", "0", "--force",
        "--config", str(config),
    )  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert '"action": "drain"' in (tmp_path / "overrides.json").read_text()
