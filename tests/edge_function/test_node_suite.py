"""The router's own tests (edge_function/test/*.test.mjs) under Node's test runner, and the driver."""

from __future__ import annotations

import json
import re

from .node import EDGE, run


def _summary(tap: str) -> dict[str, int]:
    return {
        k: int(v)
        for k, v in re.findall(r"^# (tests|pass|fail|skipped|todo|cancelled) (\d+)$", tap, re.M)
    }


def test_the_routers_node_tests_all_pass() -> None:
    """Behaviour, property (fast-check), parse (acorn) and size checks of the shipped router.js."""
    files = sorted(str(p.relative_to(EDGE.parent)) for p in (EDGE / "test").glob("*.test.mjs"))
    assert len(files) >= 3, files
    result = run("--test", "--test-reporter=tap", *files)
    summary = _summary(result.stdout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert summary.get("fail") == 0, summary
    assert summary.get("pass", 0) >= 30, summary
    assert summary.get("skipped") == 0, summary
    assert summary.get("todo") == 0, summary


def test_the_driver_routes_each_json_line_with_the_pool_named_in_the_environment() -> None:
    """drive.mjs: one answer per line, in order; a bad line is reported and the run goes on."""
    value = {"v": 1, "s": 2, "o": [["s3-a", 1], ["s3-b", 3]]}
    lines = [
        {"kvs": {"api": value}, "random": 0.1},
        {"kvs": {"www": value}, "random": 0.1},
        "not json",
        {"kvs": {"api": value}, "random": 0.9, "origins": ["s3-b"]},
    ]
    stdin = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    result = run("edge_function/test/drive.mjs", stdin=stdin, env={"EDGE_FUNCTION_POOL": "api"})
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["group"] == ["s3-a", "s3-b"]
    assert out[1]["default"] is True  # the key "www" is another pool's
    assert "bad input line" in out[2]["error"]
    # s3-a is not an origin of this distribution: the group cannot be made, default target.
    assert out[3] == {
        "origin": None,
        "group": None,
        "statusCodes": None,
        "default": True,
        "calls": 0,
        "error": None,
    }
