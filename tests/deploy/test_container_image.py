"""The Dockerfile, read instruction by instruction (no engine here to build it)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from .tools import DEPLOY

DOCKERFILE = DEPLOY / "container" / "Dockerfile"
INSTALL = "/opt/failover/bin/pip install --no-compile ."
FUNCTION_EXTRA = ".[function]"  # the one extra an image may add, for the KeyValueStore sink


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


def pip_installs(steps: list[tuple[str, str]]) -> list[list[str]]:
    """The arguments after `install` of every `pip install` (or `python -m pip install`) run."""
    found: list[list[str]] = []
    for op, arg in steps:
        if op != "RUN":
            continue
        for command in re.split(r"&&|\|\||;|\|", arg):
            words = shlex.split(command)
            for i, word in enumerate(words[1:], start=1):
                if word == "install" and re.fullmatch(r"pip[0-9.]*", words[i - 1].rsplit("/")[-1]):
                    found.append(words[i + 1 :])
    return found


def install_problems(steps: list[tuple[str, str]]) -> list[str]:
    """What would let the image install more than the package and its runtime dependencies.

    The [sandbox] extra (moto's server, Flask, the Docker SDK, sympy...) and [dev] are for a
    developer's machine; `failover run` needs neither.
    """
    installs = pip_installs(steps)
    found: list[str] = []
    if not any("." in args for args in installs):
        found.append("no pip install of the package")
    for args in installs:
        for word in args:
            if word.split("=")[0] in {"-r", "--requirement", "-e", "--editable"}:
                found.append(f"pip install {word}: a requirements file or an editable install")
            elif word == FUNCTION_EXTRA:
                continue  # awscrt for the KeyValueStore sink, behind WITH_FUNCTION only
            elif "[" in word:
                found.append(f"pip install {word}: installs extras into the image")
            elif not word.startswith("-") and word != ".":
                found.append(f"pip install {word}: installs more than the package")
    return found


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
    found.extend(install_problems(steps))
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
        (INSTALL, INSTALL.replace(" .", " '.[sandbox]'"), "extras"),
        (INSTALL, INSTALL.replace(" .", ' ".[dev]"'), "extras"),
        (INSTALL, INSTALL.replace(" .", " .[sandbox,dev]"), "extras"),
        (INSTALL, INSTALL.replace(" .", " 'failover[sandbox]'"), "extras"),
        (INSTALL, INSTALL + " moto", "more than the package"),
        (INSTALL, INSTALL.replace(" .", " -e ."), "editable"),
        (INSTALL, INSTALL.replace(" .", " -r requirements-dev.txt ."), "requirements"),
        (
            "&& /opt/failover/bin/python -m compileall",
            "&& /opt/failover/bin/python -m pip install moto && /opt/failover/bin/python -m compileall",
            "more than the package",
        ),
        ("RUN " + INSTALL, "RUN /opt/failover/bin/python -m venv --help", "no pip install"),
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


def test_the_image_installs_the_package_alone_without_extras() -> None:
    """The daemon's image holds its runtime dependencies, not the sandbox's mock AWS."""
    steps = instructions(DOCKERFILE.read_text())
    assert pip_installs(steps) == [["--no-compile", "."], ["--no-compile", FUNCTION_EXTRA]]
    assert install_problems(steps) == []
