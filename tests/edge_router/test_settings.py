"""Settings: the baked-in file, the env override, and errors that name every bad key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_router.settings import Settings, SettingsError, load, parse


def test_the_baked_in_settings_are_valid_and_allow_no_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EDGE_ROUTER_SETTINGS", raising=False)
    settings = load()
    assert settings.allowed_buckets == ()
    assert settings.allow_header == "x-dns-origin-allow"
    assert settings.nameservers == ()


def test_the_env_variable_names_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"nameservers": ["127.0.0.1:5353", "10.0.0.2"], "retry": 2}))
    monkeypatch.setenv("EDGE_ROUTER_SETTINGS", str(path))
    settings = load()
    assert settings.nameservers == (("127.0.0.1", 5353), ("10.0.0.2", 53))
    assert settings.retry == 2.0
    assert settings.timeout == Settings().timeout


def test_every_problem_is_reported_at_once_naming_its_key() -> None:
    with pytest.raises(SettingsError) as info:
        parse(
            {
                "nameservers": ["dns.example:53", "127.0.0.1:99999"],
                "timeout": 0,
                "min_ttl": 10,
                "max_ttl": 5,
                "stale": -1,
                "retry": True,
                "allowed_buckets": "www-*",
                "allow_header": "X-Allow",
                "colour": "blue",
            },
            "test.json",
        )
    keys = [p.split(":")[0] for p in info.value.problems]
    assert keys == [
        "colour",
        "stale",
        "retry",
        "timeout",
        "min_ttl",
        "nameservers[0]",
        "nameservers[1]",
        "allowed_buckets",
        "allow_header",
    ]
    assert str(info.value).startswith("test.json: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [("[1]", "JSON object"), ("{", "invalid JSON at line 1"), ('{"timeout": NaN}', "number")],
)
def test_unreadable_files_get_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load(path)


def test_a_missing_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load(tmp_path / "missing.json")
