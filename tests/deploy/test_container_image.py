"""The Dockerfile, read instruction by instruction (no engine here to build it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .tools import DEPLOY

DOCKERFILE = DEPLOY / "container" / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    if pending:
        joined.append(pending)
    pairs = [(*w.split(None, 1), "") for w in joined]
    return [(pair[0].upper(), pair[1]) for pair in pairs]


def problems(text: str) -> list[str]:
    """What keeps a Dockerfile from running the daemon small, unprivileged and as PID 1."""
    found: list[str] = []
    steps = instructions(text)
    stages = [i for i, (op, _) in enumerate(steps) if op == "FROM"]
    if not stages:
        return ["no FROM"]
    final = steps[stages[-1] :]
    if not steps[stages[-1]][1].startswith("python:3.13-slim"):
        found.append("final stage is not python:3.13-slim")
    users = [arg for op, arg in final if op == "USER"]
    if not users or users[-1].split(":")[0] in {"root", "0"}:
        found.append("final stage runs as root")
    entry = [arg for op, arg in final if op == "ENTRYPOINT"]
    try:
        if not entry or json.loads(entry[-1]) != ["failover", "run"]:
            found.append('ENTRYPOINT is not ["failover", "run"]')
    except json.JSONDecodeError:
        found.append("ENTRYPOINT is in shell form: a shell would be PID 1 and eat SIGTERM")
    if not any(op == "EXPOSE" and "9464" in arg.split() for op, arg in final):
        found.append("metrics port 9464 not exposed")
    checks = [arg for op, arg in final if op == "HEALTHCHECK"]
    if not checks or not checks[-1].rstrip().endswith('CMD ["failover", "healthcheck"]'):
        found.append('HEALTHCHECK is not CMD ["failover", "healthcheck"]')
    if any("curl" in arg or "wget" in arg for _, arg in steps):
        found.append("image fetches or ships an HTTP client")
    return found


def test_dockerfile_runs_the_daemon_unprivileged_as_pid_1() -> None:
    assert problems(DOCKERFILE.read_text()) == []


def test_dockerfile_is_multi_stage_and_copies_only_the_venv() -> None:
    steps = instructions(DOCKERFILE.read_text())
    assert [arg for op, arg in steps if op == "FROM"] == [
        "python:3.13-slim AS build",
        "python:3.13-slim",
    ]
    final = steps[[op for op, _ in steps].index("FROM", 1) :]
    assert [arg for op, arg in final if op == "COPY"] == [
        "--from=build /opt/failover /opt/failover"
    ]


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ("USER 10001:10001", "USER root", "runs as root"),
        ("USER 10001:10001\n", "", "runs as root"),
        ('ENTRYPOINT ["failover", "run"]', "ENTRYPOINT failover run", "shell form"),
        ('ENTRYPOINT ["failover", "run"]', 'ENTRYPOINT ["sh", "-c", "failover run"]', "ENTRYPOINT"),
        ("EXPOSE 9464", "EXPOSE 8080", "9464"),
        ('CMD ["failover", "healthcheck"]', "CMD curl -f localhost:9464/healthz", "HEALTHCHECK"),
    ],
)
def test_structural_check_catches(old: str, new: str, complaint: str) -> None:
    text = DOCKERFILE.read_text()
    assert old in text
    found = problems(text.replace(old, new))
    assert any(complaint in p for p in found), found


def test_continuation_lines_are_joined(tmp_path: Path) -> None:
    assert instructions("FROM a\nRUN x \\\n  && y\n# note\nUSER 1\n") == [
        ("FROM", "a"),
        ("RUN", "x  && y"),
        ("USER", "1"),
    ]
