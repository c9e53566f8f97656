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
