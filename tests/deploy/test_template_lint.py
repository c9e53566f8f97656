"""cfn-lint and checkov over the templates: no error, no failed check, every skip explained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.checks import load_template

from .tools import DEPLOY, TEMPLATES, run, tool


def test_there_are_seven_templates() -> None:
    assert [t.name for t in TEMPLATES] == [
        "backstop.yaml",
        "cluster-global-table.yaml",
        "cluster-table.yaml",
        "daemon.yaml",
        "edge-function.yaml",
        "edge.yaml",
        "origin-bucket.yaml",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_finds_nothing_in(template: Path) -> None:
    result = run(tool("cfn-lint"), template)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.slow
def test_cfn_lint_does_report_a_broken_template(tmp_path: Path) -> None:
    """The lint step can fail: an unknown property in the edge function is an error."""
    text = (DEPLOY / "cloudformation" / "edge.yaml").read_text()
    broken = tmp_path / "edge.yaml"
    broken.write_text(
        text.replace("      MemorySize: 128\n", "      MemorySize: 128\n      Memroy: 1\n")
    )
    result = run(tool("cfn-lint"), broken)
    assert result.returncode != 0
    assert "Memroy" in result.stdout


def _checkov(directory: Path) -> dict[str, dict[str, object]]:
    result = run(
        tool("checkov"), "-d", directory, "--quiet", "--skip-download", "-o", "json", timeout=300
    )
    assert result.returncode in (0, 1), result.stderr
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return {r["check_type"]: r for r in reports}


@pytest.mark.slow
def test_checkov_fails_no_check_on_deploy_and_scans_templates_and_image(tmp_path: Path) -> None:
    reports = _checkov(DEPLOY)
    assert {"cloudformation", "dockerfile"} <= set(reports)
    for kind, report in reports.items():
        summary = report["summary"]
        assert isinstance(summary, dict)
        assert summary["failed"] == 0, (kind, report["results"])
        assert summary["parsing_errors"] == 0, kind
        assert summary["passed"] > 0, kind


def test_checkov_skips_are_each_justified_in_the_template() -> None:
    skips = 0
    for path in TEMPLATES:
        template = load_template(path.read_text(), path.name)
        resources = dict(template["Resources"])
        for key in [k for k in resources if k.startswith("Fn::ForEach::")]:
            resources.update(resources.pop(key)[2])  # a loop's body: its resources
        for name, resource in resources.items():
            for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
                skips += 1
                assert skip["id"].startswith("CKV_"), (path.name, name)
                assert len(skip.get("comment", "").split()) >= 5, (path.name, name, skip)
    assert skips > 0
    assert "checkov:skip" not in (DEPLOY / "container" / "Dockerfile").read_text()


@pytest.mark.slow
def test_checkov_flags_what_a_skip_hides(tmp_path: Path) -> None:
    """Without its justified skip, the log group's missing KMS key is a failed check."""
    text = (DEPLOY / "cloudformation" / "daemon.yaml").read_text()
    (tmp_path / "daemon.yaml").write_text(text.replace("checkov:", "unchecked:"))
    report = _checkov(tmp_path)["cloudformation"]
    failed = report["results"]
    assert isinstance(failed, dict)
    assert "CKV_AWS_158" in {c["check_id"] for c in failed["failed_checks"]}
