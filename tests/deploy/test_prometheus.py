"""Alert rules pass promtool and their unit tests; rules and dashboard name only real metrics."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .tools import DEPLOY, run, tool

RULES = DEPLOY / "prometheus" / "alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "alerts_test.yml"
DASHBOARD = DEPLOY / "grafana" / "failover.json"

# The metric names DESIGN.md promises; histograms also expose _bucket/_sum/_count.
DESIGN_METRICS = {
    "failover_probe_total": "counter",
    "failover_probe_duration_seconds": "histogram",
    "failover_origin_healthy": "gauge",
    "failover_origin_weight": "gauge",
    "failover_origin_transitions_total": "counter",
    "failover_canary_age_seconds": "gauge",
    "failover_pool_failed_open": "gauge",
    "failover_writes_frozen": "gauge",
    "failover_route53_requests_total": "counter",
    "failover_route53_change_seconds": "histogram",
    "failover_last_apply_timestamp_seconds": "gauge",
    "failover_round_duration_seconds": "histogram",
    "failover_rounds_missed_total": "counter",
    "failover_build_info": "gauge",
    # Exported beyond DESIGN.md's list, and watched by a rule or a panel.
    "failover_last_round_timestamp_seconds": "gauge",
    "failover_origin_override": "gauge",
    "failover_probe_credentials_failed_total": "counter",
    "failover_clock_skew_seconds": "gauge",
    "failover_overrides_never_read": "gauge",
    "failover_record_problems_total": "counter",
    # Cluster mode only (CONTRACTS.md): a single daemon exports none of them.
    "failover_cluster_leader": "gauge",
    "failover_cluster_epoch": "gauge",
    "failover_cluster_replicas_live": "gauge",
    "failover_cluster_quorum": "gauge",
    "failover_cluster_disagreements": "gauge",
    "failover_cluster_view_age_seconds": "gauge",
    "failover_cluster_table_errors_total": "counter",
    # The backstop (failover/stages/backstop.py).
    "failover_backstop_armed": "gauge",
    "failover_backstop_alarm_state": "gauge",
    "failover_backstop_datapoints_total": "counter",
    "failover_backstop_publish_failures_total": "counter",
}
CLUSTER_PREFIX = "failover_cluster_"
# Series whose only values are 0 and 1: a panel must say what each means.
BOOLEAN_SERIES = {
    "failover_origin_healthy",
    "failover_pool_failed_open",
    "failover_writes_frozen",
    "failover_origin_override",
    "failover_cluster_leader",
    "up",
}
BOOLEAN = re.compile(r"\b(" + "|".join(sorted(BOOLEAN_SERIES)) + r")\b")
METRIC = re.compile(r"\bfailover_[a-z0-9_]+")


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"] if "definition" in v]
    return exprs


def _exposed(name: str) -> str:
    """The family a sample name belongs to (histogram series carry a suffix)."""
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and DESIGN_METRICS.get(base) == "histogram":
            return base
    return name


def test_promtool_accepts_the_rules() -> None:
    result = run(tool("promtool"), "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = run(tool("promtool"), "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("expr: failover_origin_healthy == 0", "expr: failover_origin_healthy < 0"),
        ("unless on (job, instance) (failover_writes_frozen == 1)", ""),
        ("> 4\n", "> 40\n"),
        (
            "unless on (job, instance) (time() - failover_last_apply_timestamp_seconds <= 300)",
            "and on (job, instance) (time() - failover_last_apply_timestamp_seconds > 300)",
        ),
        (
            "unless on (job, instance) (time() - failover_last_round_timestamp_seconds <= 180)",
            "and on (job, instance) (time() - failover_last_round_timestamp_seconds > 180)",
        ),
        (
            "expr: max by (job) (failover_cluster_leader) < 1",
            "expr: (max by (job) (failover_cluster_leader) or vector(0)) < 1",
        ),
        (
            "failover_cluster_replicas_live < failover_cluster_quorum",
            "failover_cluster_replicas_live <= failover_cluster_quorum",
        ),
        ("for: 15m", "for: 5m"),
    ],
    ids=[
        "never fires",
        "fires while frozen",
        "threshold too high",
        "stale weights missed when nothing was ever applied",
        "no round since start missed",
        "no leader fires for a single daemon",
        "quorum met counted as lost",
        "short disagreement fires",
    ],
)
def test_promtool_unit_tests_catch_a_broken_rule(tmp_path: Path, old: str, new: str) -> None:
    text = RULES.read_text()
    assert old in text
    (tmp_path / "alerts.yml").write_text(text.replace(old, new))
    shutil.copy(RULE_TESTS, tmp_path / "alerts_test.yml")
    result = run(tool("promtool"), "test", "rules", tmp_path / "alerts_test.yml")
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


def test_every_alert_has_a_summary_a_runbook_and_a_severity() -> None:
    for rule in _alerts():
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), rule["alert"]
        assert len(annotations.get("runbook", "").split()) >= 8, rule["alert"]
        assert rule.get("labels", {}).get("severity") in {"warning", "critical"}, rule["alert"]


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """Each alert has an evaluation that expects it and one that expects silence."""
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - firing == set()
    assert names - quiet == set()


def test_the_issue_s_alerts_are_all_there() -> None:
    names = {rule["alert"] for rule in _alerts()}
    assert {
        "FailoverOriginDown",
        "FailoverPoolFailedOpen",
        "FailoverWritesFrozen",
        "FailoverRoute53RequestsFailing",
        "FailoverAppliedStateStale",
        "FailoverProbesSlow",
        "FailoverOriginFlapping",
        "FailoverDaemonAbsent",
        "FailoverRoundsMissed",
        "FailoverRoundsNotCompleting",
        "FailoverNoLeader",
        "FailoverQuorumLost",
        "FailoverReplicaDisagrees",
    } <= names


def test_rules_and_dashboard_name_only_metrics_the_design_promises() -> None:
    used = {m for expr in [r["expr"] for r in _alerts()] for m in METRIC.findall(expr)}
    used |= {m for expr in _dashboard_exprs() for m in METRIC.findall(expr)}
    unknown = {m for m in used if _exposed(m) not in DESIGN_METRICS}
    assert unknown == set()
    # Everything the design exports is watched by an alert or a panel.
    assert {_exposed(m) for m in used} == set(DESIGN_METRICS)


def test_dashboard_is_grafana_json_with_unique_panel_ids() -> None:
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert dash["uid"] == "failover-daemon"
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dash["panels"])


def _mapped_values(mappings: list[dict[str, Any]]) -> set[str]:
    return {v for m in mappings if m.get("type") == "value" for v in m.get("options", {})}


def _for_ref(panel: dict[str, Any], ref: str, prop: str) -> Any:
    """A field property for one query of a panel: its override if any, else the default."""
    for o in panel["fieldConfig"].get("overrides", []):
        if o["matcher"] == {"id": "byFrameRefID", "options": ref}:
            for p in o["properties"]:
                if p["id"] == prop:
                    return p["value"]
    return panel["fieldConfig"]["defaults"].get(prop)


def test_every_panel_query_has_a_unit_and_every_0_1_series_maps_both_values() -> None:
    """A bare 0 or 1 (or a count with no unit) on a dashboard is read wrong at 3 a.m."""
    dash = json.loads(DASHBOARD.read_text())
    no_unit: list[str] = []
    unmapped: list[str] = []
    for panel in dash["panels"]:
        for target in panel["targets"]:
            where = f"{panel['title']} / {target['refId']}"
            if not _for_ref(panel, target["refId"], "unit"):
                no_unit.append(where)
            if BOOLEAN.search(target["expr"]):
                mappings = _for_ref(panel, target["refId"], "mappings") or []
                texts = [o.get("text") for m in mappings for o in m.get("options", {}).values()]
                if not {"0", "1"} <= _mapped_values(mappings) or not all(texts):
                    unmapped.append(where)
    assert no_unit == []
    assert unmapped == []
    checked = [t["expr"] for p in dash["panels"] for t in p["targets"] if BOOLEAN.search(t["expr"])]
    assert {m for e in checked for m in BOOLEAN.findall(e)} == BOOLEAN_SERIES


def test_timestamp_panels_say_what_an_absent_timestamp_means() -> None:
    """The timestamps are absent until first set: the panel must not read as 0 or blank."""
    dash = json.loads(DASHBOARD.read_text())
    panels = [
        p for p in dash["panels"] if any("_timestamp_seconds" in t["expr"] for t in p["targets"])
    ]
    assert {m for p in panels for t in p["targets"] for m in METRIC.findall(t["expr"])} == {
        "failover_last_apply_timestamp_seconds",
        "failover_last_round_timestamp_seconds",
    }
    for p in panels:
        assert p["fieldConfig"]["defaults"].get("noValue"), p["title"]
