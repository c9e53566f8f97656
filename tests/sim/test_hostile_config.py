"""Hostile configuration files through the real `failover validate`: exit 2, a clear error, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e_support import cli

pytestmark = pytest.mark.slow  # each case runs the real `failover validate`

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
CASES = {
    "duplicate_key": (b"[daemon]\ninterval = 1.0\ninterval = 2.0\n", "line 3"),
    "duplicate_table": (b"[daemon]\n[daemon]\n", "line 2"),
    "huge_number": (b"[health]\nfall = " + b"9" * 5000 + b"\n", "too long"),
    "deep_nesting": (b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    "unicode_everywhere": (
        '[[pools]]\nname = "w\u202ew"\nrecord = "\u00fc.example.com"\nzone_id = "Z1"\n'
        '[[pools.origins]]\nid = "\U0001f600"\nbucket = "b\u00fccket"\n'
        'region = "eu-west-1"\nweight = 1\n'.encode(),
        "pools[0].name",
    ),
    "wrong_types": (b'pools = "all of them"\n[daemon]\ninterval = "fast"\n', "daemon.interval"),
    "not_utf8": (b"[daemon]\ninterval = \xff\xfe\n", "UTF-8"),
    "binary": (bytes(range(256)) * 4, "byte 128"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_rejects_hostile_files_with_exit_2_and_no_traceback(
    case: str, tmp_path: Path
) -> None:
    data, where = CASES[case]
    path = tmp_path / "hostile.toml"
    path.write_bytes(data)
    r = cli("validate", "--config", str(path))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert where in r.stderr + r.stdout
    assert len(r.stderr) < 20_000  # a huge value is never echoed back whole


def test_the_example_with_its_keys_duplicated_is_rejected_naming_the_line(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    path = tmp_path / "twice.toml"
    path.write_text(text + "\n" + text)
    r = cli("validate", "--config", str(path))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "line" in r.stderr
