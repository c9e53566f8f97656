"""What the installed package holds and needs: no mock AWS for the daemon, no simulation."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from setuptools.config.expand import find_packages

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
INSTALL_HINT = "pip install 'failover[sandbox]'"


@pytest.fixture
def without_moto(tmp_path: Path) -> dict[str, str]:
    """An environment where `import moto` fails as it does when the extra is not installed."""
    shadow = tmp_path / "shadow" / "moto"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'moto'\", name='moto')\n"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), str(ROOT)])}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )


def _failover(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "failover", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )


def _shipped_packages() -> list[str]:
    """The packages a wheel holds, found by setuptools from pyproject's own find table."""
    table = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    return sorted(find_packages(**table, root_dir=str(ROOT)))


def test_the_shadow_really_hides_moto(without_moto: dict[str, str]) -> None:
    r = _python("import moto.server", without_moto)
    assert r.returncode == 1
    assert "ModuleNotFoundError: No module named 'moto'" in r.stderr


@pytest.mark.parametrize("command", ["demo", "sandbox"])
def test_sandbox_commands_without_the_extra_exit_2_naming_the_install_command(
    command: str, without_moto: dict[str, str], tmp_path: Path
) -> None:
    extra = ("--config-out", str(tmp_path / "c.toml")) if command == "sandbox" else ()
    r = _failover(command, *extra, env=without_moto)
    assert r.returncode == 2, r.stderr
    assert INSTALL_HINT in r.stderr
    assert f"failover {command} needs the sandbox extra" in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
    assert not (tmp_path / "c.toml").exists()


def test_validate_runs_without_moto(without_moto: dict[str, str]) -> None:
    r = _failover("validate", "--config", str(ROOT / "config.example.toml"), env=without_moto)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("config OK")


def test_every_shipped_module_outside_the_sandbox_imports_without_moto(
    without_moto: dict[str, str],
) -> None:
    """What `failover run`, `check`, `status`, `validate` and the edge router load needs no moto."""
    packages = [p for p in _shipped_packages() if not p.startswith("failover.sandbox")]
    modules = [
        f"{p}.{f.stem}" if f.stem != "__init__" else p
        for p in packages
        for f in sorted((ROOT / p.replace(".", "/")).glob("*.py"))
        if f.stem != "__main__"
    ]
    assert {"failover.cli", "failover.daemon", "failover.aws.probe", "edge_router.handler"} <= set(
        modules
    )
    r = _python(
        f"import importlib\nfor m in {modules!r}:\n    importlib.import_module(m)\n", without_moto
    )
    assert r.returncode == 0, r.stderr


def test_importing_the_cli_and_the_daemon_loads_no_moto() -> None:
    """A guarded `try: import moto` would pass the shadow test; this one sees it load."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = (
        "import sys, failover.cli, failover.daemon\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'moto', 'flask', 'werkzeug'}))\n"
    )
    r = _python(code, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_moto_is_a_dependency_of_the_sandbox_extra_only_and_dev_includes_it() -> None:
    project = PYPROJECT["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("moto")]
    extras = project["optional-dependencies"]
    assert [d for d in extras["sandbox"] if d.startswith("moto[server")]
    assert "failover[sandbox]" in extras["dev"]


def test_the_wheel_ships_the_sandbox_but_not_the_simulation() -> None:
    shipped = _shipped_packages()
    assert {"failover", "failover.aws", "failover.sandbox", "edge_router"} <= set(shipped)
    assert [p for p in shipped if p == "failover.sim" or p.startswith("failover.sim.")] == []


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _simulation(names: set[str]) -> list[str]:
    return sorted(n for n in names if n == "failover.sim" or n.startswith("failover.sim."))


def test_no_shipped_module_imports_the_simulation() -> None:
    """The wheel leaves `failover.sim` out, so a command that imported it would fail installed."""
    offenders = {
        str(f.relative_to(ROOT)): _simulation(_imports(f))
        for p in _shipped_packages()
        for f in (ROOT / p.replace(".", "/")).glob("*.py")
    }
    assert {f: names for f, names in offenders.items() if names} == {}


def test_the_import_scan_sees_every_way_of_naming_the_simulation(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import failover.simple\n"
        "def f():\n"
        "    from failover import sim\n"
        "    import failover.sim.route53\n"
        "    from failover.sim.world import SimClock\n"
    )
    assert _simulation(_imports(source)) == [
        "failover.sim",
        "failover.sim.route53",
        "failover.sim.world",
        "failover.sim.world.SimClock",
    ]
