"""The deployment zip: reproducible, complete, and runnable on its own by the target Python."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from failover.sandbox.dns import DnsResponder
from tests.edge_router.conftest import EU
from tests.edge_router.events import s3_event

ROOT = Path(__file__).resolve().parents[2]


def build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge_router.build", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def target_python() -> str:
    """python3.13 (the Lambda@Edge runtime) when installed here, else this interpreter."""
    found = shutil.which("python3.13")
    if found and subprocess.run([found, "-V"], capture_output=True, check=False).returncode == 0:
        return found
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")))
    return pyenv[-1] if pyenv else sys.executable


def test_two_builds_are_byte_identical_and_report_size_and_hash(tmp_path: Path) -> None:
    first, second = build("--out", str(tmp_path / "a.zip")), build("--out", str(tmp_path / "b.zip"))
    assert first.returncode == 0, first.stderr
    a, b = (tmp_path / "a.zip").read_bytes(), (tmp_path / "b.zip").read_bytes()
    assert a == b
    report = json.loads(first.stdout)
    assert report["bytes"] == len(a)
    assert report["sha256"] == json.loads(second.stdout)["sha256"]


def test_entries_are_sorted_with_fixed_times_and_modes(tmp_path: Path) -> None:
    build("--out", str(tmp_path / "a.zip"))
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {"edge_router/handler.py", "edge_router/settings.json", "dns/resolver.py"} <= set(names)
    assert not [n for n in names if n.endswith(".pyc") or "tests/" in n]


def test_settings_the_handler_would_reject_are_not_packaged(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"allowed_buckets": 3}')
    result = build("--out", str(tmp_path / "x.zip"), "--settings", str(bad))
    assert result.returncode == 2
    assert "allowed_buckets" in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_the_zip_routes_a_request_on_the_target_python_alone(
    tmp_path: Path, responder: DnsResponder
) -> None:
    settings = tmp_path / "s.json"
    settings.write_text(
        json.dumps({"nameservers": [f"127.0.0.1:{responder.port}"], "allowed_buckets": ["www-*"]})
    )
    assert build("--out", str(tmp_path / "fn.zip"), "--settings", str(settings)).returncode == 0
    extracted = tmp_path / "task"  # Lambda unpacks the zip into /var/task
    with zipfile.ZipFile(tmp_path / "fn.zip") as archive:
        archive.extractall(extracted)
    # -I -S: no site-packages, no user paths; only the unpacked zip is importable.
    script = (
        "import json, sys\n"
        "sys.path.insert(0, '.')\n"
        "from edge_router.handler import handler\n"
        "print(json.dumps(handler(json.load(sys.stdin), None)))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "EDGE_ROUTER_SETTINGS"}
    result = subprocess.run(
        [target_python(), "-I", "-S", "-c", script],
        cwd=extracted,
        input=json.dumps(s3_event()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert json.loads(out[0])["event"] == "dns_answer_changed"
    assert json.loads(out[-1])["origin"]["s3"]["domainName"] == EU
