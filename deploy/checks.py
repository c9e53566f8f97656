"""The project's own template checks: what cfn-lint and checkov let through (see FACTS.md).

Run as `python -m deploy.checks [TEMPLATE ...]` (default: every template under
deploy/cloudformation). Prints one line per problem, exits 1 if there is any,
2 if a template cannot be read.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from edge_router import settings as edge_settings

TEMPLATE_DIR = Path(__file__).parent / "cloudformation"
MAX_WEIGHT = 255
EDGE_MAX_TIMEOUT = 30  # seconds, origin-request trigger
EDGE_REGION = "us-east-1"  # Lambda@Edge functions are created there only
# The router's DNS lookup (bounded as a whole by settings.json's timeout) may take at most
# this share of the function's timeout: the rest is cold start and the handler, and a
# Lambda timeout is a 5xx to the viewer (FACTS.md, Lambda@Edge).
EDGE_DNS_SHARE = 1 / 3
EDGE_RUNTIME = "python3.13"
EDGE_PRINCIPALS = frozenset({"lambda.amazonaws.com", "edgelambda.amazonaws.com"})
REGION_LITERAL = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b")
VERSIONED_LAMBDA_ARN = re.compile(r"^arn:[\w-]+:lambda:us-east-1:\d{12}:function:[\w-]+:\d+$")

Template = Mapping[str, Any]


class TemplateError(Exception):
    """A template could not be read or is not a CloudFormation mapping."""


@dataclass(frozen=True)
class Problem:
    """One finding: which template, which resource (or section), what is wrong."""

    template: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.template}: {self.where}: {self.message}"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads short-form intrinsics (!Ref, !Sub, ...) as their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(text: str, name: str = "<template>") -> dict[str, Any]:
    """Parse a YAML (or JSON) CloudFormation template."""
    try:
        data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        raise TemplateError(f"{name}: not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{name}: no Resources mapping")
    return data


def _resources(template: Template, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, res in template["Resources"].items():
        if isinstance(res, dict) and res.get("Type") == kind:
            yield name, res.get("Properties") or {}


def _parameter(template: Template, value: Any) -> Mapping[str, Any] | None:
    """The parameter a value refers to with Ref, if it is one."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        param = (template.get("Parameters") or {}).get(value["Ref"])
        return param if isinstance(param, dict) else None
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _bounded(template: Template, value: Any, low: int, high: int, what: str) -> str | None:
    """Why `value` (a literal or a Ref to a parameter) may fall outside [low, high], or None."""
    literal = _int(value)
    if literal is not None:
        return None if low <= literal <= high else f"{what} {literal} is outside {low}-{high}"
    param = _parameter(template, value)
    if param is None:
        return f"{what} is neither a number nor a Ref to a parameter; cannot check {low}-{high}"
    pmin, pmax = _int(param.get("MinValue")), _int(param.get("MaxValue"))
    allowed = param.get("AllowedValues")
    if isinstance(allowed, list) and allowed:
        values = [_int(v) for v in allowed]
        if all(v is not None and low <= v <= high for v in values):
            return None
        return f"{what} parameter allows values outside {low}-{high}"
    if pmin is None or pmax is None or pmin < low or pmax > high:
        return f"{what} parameter needs MinValue >= {low} and MaxValue <= {high}"
    return None


def check_weighted_records(template: Template, name: str) -> list[Problem]:
    """Weight within 0-255, and only together with a SetIdentifier."""
    problems: list[Problem] = []
    sets: list[tuple[str, Mapping[str, Any]]] = list(
        _resources(template, "AWS::Route53::RecordSet")
    )
    for group, props in _resources(template, "AWS::Route53::RecordSetGroup"):
        for i, rs in enumerate(props.get("RecordSets") or []):
            if isinstance(rs, dict):
                sets.append((f"{group}.RecordSets[{i}]", rs))
    for where, props in sets:
        if "Weight" not in props:
            continue
        if not props.get("SetIdentifier"):
            problems.append(Problem(name, where, "Weight without SetIdentifier"))
        why = _bounded(template, props["Weight"], 0, MAX_WEIGHT, "Weight")
        if why:
            problems.append(Problem(name, where, why))
    return problems


def _edge_functions(template: Template) -> set[str]:
    """Functions CloudFront runs: those behind an associated version, or with an edge role."""
    found: set[str] = set()
    versions = dict(_resources(template, "AWS::Lambda::Version"))
    for assoc in _associations(template):
        arn = assoc[1].get("LambdaFunctionARN")
        if isinstance(arn, dict) and arn.get("Ref") in versions:
            fn = versions[arn["Ref"]].get("FunctionName")
            if isinstance(fn, dict) and "Ref" in fn:
                found.add(fn["Ref"])
    for fname, props in _resources(template, "AWS::Lambda::Function"):
        role = props.get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            role_res = template["Resources"].get(role["Fn::GetAtt"][0], {})
            if "edgelambda.amazonaws.com" in _trusted_services(role_res.get("Properties") or {}):
                found.add(fname)
    return found


def _trusted_services(role_props: Mapping[str, Any]) -> set[str]:
    services: set[str] = set()
    doc = role_props.get("AssumeRolePolicyDocument") or {}
    for stmt in doc.get("Statement") or []:
        if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
            continue
        svc = (stmt.get("Principal") or {}).get("Service")
        services.update([svc] if isinstance(svc, str) else list(svc or []))
    return services


def check_edge_functions(template: Template, name: str) -> list[Problem]:
    """Lambda@Edge limits: no environment, layers or VPC; timeout <= 30 s; x86_64; our runtime."""
    problems: list[Problem] = []
    functions = dict(_resources(template, "AWS::Lambda::Function"))
    for fname in sorted(_edge_functions(template)):
        props = functions.get(fname)
        if props is None:
            continue
        problems.extend(
            Problem(name, fname, f"{key} is not supported by Lambda@Edge")
            for key in ("Environment", "Layers", "VpcConfig", "DeadLetterConfig")
            if key in props
        )
        if "Timeout" in props:
            why = _bounded(template, props["Timeout"], 1, EDGE_MAX_TIMEOUT, "Timeout")
            if why:
                problems.append(Problem(name, fname, why))
        if props.get("Runtime") != EDGE_RUNTIME:
            problems.append(Problem(name, fname, f"Runtime must be {EDGE_RUNTIME}"))
        if "arm64" in (props.get("Architectures") or []):
            problems.append(Problem(name, fname, "Lambda@Edge does not run arm64"))
        role = props.get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            role_res = template["Resources"].get(role["Fn::GetAtt"][0], {})
            missing = EDGE_PRINCIPALS - _trusted_services(role_res.get("Properties") or {})
            if missing:
                problems.append(
                    Problem(name, fname, f"role must trust {', '.join(sorted(missing))}")
                )
    return problems


def _associations(template: Template) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for dname, props in _resources(template, "AWS::CloudFront::Distribution"):
        config = props.get("DistributionConfig") or {}
        behaviors = [("DefaultCacheBehavior", config.get("DefaultCacheBehavior") or {})]
        behaviors += [
            (f"CacheBehaviors[{i}]", b) for i, b in enumerate(config.get("CacheBehaviors") or [])
        ]
        for bname, behavior in behaviors:
            for i, assoc in enumerate(behavior.get("LambdaFunctionAssociations") or []):
                if isinstance(assoc, dict):
                    yield f"{dname}.{bname}.LambdaFunctionAssociations[{i}]", assoc


def check_versioned_associations(template: Template, name: str) -> list[Problem]:
    """CloudFront triggers numbered versions only: a Ref to an AWS::Lambda::Version, or its ARN."""
    problems: list[Problem] = []
    versions = dict(_resources(template, "AWS::Lambda::Version"))
    for where, assoc in _associations(template):
        arn = assoc.get("LambdaFunctionARN")
        if isinstance(arn, dict) and set(arn) == {"Ref"} and arn["Ref"] in versions:
            continue
        if isinstance(arn, str) and VERSIONED_LAMBDA_ARN.match(arn):
            continue
        problems.append(
            Problem(name, where, "LambdaFunctionARN must be a numbered version (Ref a Version)")
        )
    return problems


def check_region_neutral(template: Template, name: str) -> list[Problem]:
    """Templates marked `Metadata: {failover: {region_neutral: true}}` name no region."""
    marker = (template.get("Metadata") or {}).get("failover") or {}
    if not marker.get("region_neutral"):
        return []
    found = sorted(set(REGION_LITERAL.findall(yaml.safe_dump(template["Resources"]))))
    return [Problem(name, "Resources", f"hard-coded region {r}") for r in found]


def _unwrap(value: Any) -> Any:
    """The value an optional entry (`!If [C, value, !Ref AWS::NoValue]`) stands for."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return value["Fn::If"][1]
    return value


def check_replication_rules(template: Template, name: str) -> list[Problem]:
    """Several replication rules (one per destination: replication does not chain) need
    the V2 schema, selected by a Filter on each rule, and a priority each."""
    problems: list[Problem] = []
    for res, props in _resources(template, "AWS::S3::Bucket"):
        config = _unwrap(props.get("ReplicationConfiguration"))
        if not isinstance(config, dict):
            continue
        rules = [_unwrap(r) for r in config.get("Rules") or []]
        seen: dict[Any, int] = {}
        for i, rule in enumerate(rules):
            where = f"{res}.ReplicationConfiguration.Rules[{i}]"
            if len(rules) > 1 and "Filter" not in rule:
                problems.append(Problem(name, where, "no Filter: several rules need the V2 schema"))
            priority = rule.get("Priority")
            if priority is None:
                problems.append(Problem(name, where, "no Priority"))
            elif str(priority) in seen:
                problems.append(
                    Problem(
                        name,
                        where,
                        f"Priority {priority} already used by rule {seen[str(priority)]}",
                    )
                )
            else:
                seen[str(priority)] = i
    return problems


def _least(template: Template, value: Any) -> float | None:
    """The smallest value a literal or a Ref to a numeric parameter can take, or None."""
    literal = _int(value)
    if literal is not None:
        return float(literal)
    param = _parameter(template, value)
    if param is None:
        return None
    allowed = [_int(v) for v in param.get("AllowedValues") or []]
    candidates = [v for v in (*allowed, _int(param.get("MinValue"))) if v is not None]
    if not candidates and _int(param.get("Default")) is not None:
        candidates = [_int(param.get("Default")) or 0]
    return float(min(candidates)) if candidates else None


def check_edge_dns_timeout(template: Template, name: str) -> list[Problem]:
    """The router's DNS timeout (settings.json) is well under each edge function's Timeout."""
    functions = dict(_resources(template, "AWS::Lambda::Function"))
    edge = sorted(_edge_functions(template))
    if not edge:
        return []
    dns = edge_settings.load().timeout
    problems: list[Problem] = []
    for fname in edge:
        props = functions.get(fname) or {}
        # AWS Lambda's default timeout is 3 seconds when none is set.
        timeout = _least(template, props.get("Timeout", 3))
        if timeout is None:
            problems.append(Problem(name, fname, "Timeout cannot be read; cannot check DNS"))
        elif dns > timeout * EDGE_DNS_SHARE:
            problems.append(
                Problem(
                    name,
                    fname,
                    f"the router's DNS timeout ({dns:g} s, settings.json) must be at most "
                    f"{EDGE_DNS_SHARE:.2g} of the function's Timeout ({timeout:g} s): a "
                    "function timeout is a 5xx to the viewer",
                )
            )
    return problems


def check_edge_region_rule(template: Template, name: str) -> list[Problem]:
    """A template with edge functions refuses, in its Rules, every Region but us-east-1."""
    if not _edge_functions(template):
        return []
    for region in ("eu-west-1", "us-west-2", "ap-southeast-4"):
        if not rule_failures(template, _defaults(template), region):
            return [
                Problem(
                    name,
                    "Rules",
                    f"the stack deploys in {region}; Lambda@Edge needs {EDGE_REGION} "
                    "(add a rule asserting AWS::Region)",
                )
            ]
    return []


# ---- Rules, evaluated as CloudFormation would before making anything -----------------------


def _defaults(template: Template) -> dict[str, Any]:
    params = template.get("Parameters") or {}
    values: dict[str, Any] = {
        k: str(v["Default"]) for k, v in params.items() if isinstance(v, dict) and "Default" in v
    }
    values["_lists"] = tuple(
        k for k, v in params.items() if isinstance(v, dict) and "List" in str(v.get("Type"))
    )
    return values


def _rule_value(fn: Any, params: Mapping[str, Any], region: str) -> Any:
    """Evaluate rule functions (And, Or, Not, Equals, Contains, Join, Ref) as strings/lists."""
    if isinstance(fn, list):
        return [_rule_value(v, params, region) for v in fn]
    if not isinstance(fn, dict):
        return str(fn)
    if set(fn) == {"Ref"}:
        if fn["Ref"] == "AWS::Region":
            return region
        value = params[fn["Ref"]]
        if isinstance(value, list):
            return [str(v) for v in value]
        return str(value).split(",") if fn["Ref"] in params.get("_lists", ()) else str(value)
    ((op, args),) = fn.items()
    values = [_rule_value(a, params, region) for a in args]
    if op == "Fn::And":
        return all(values)
    if op == "Fn::Or":
        return any(values)
    if op == "Fn::Not":
        return not values[0]
    if op == "Fn::Equals":
        return values[0] == values[1]
    if op == "Fn::Contains":
        return values[1] in values[0]
    if op == "Fn::Join":
        return str(values[0]).join(values[1])
    raise TemplateError(f"rule function {op} is not evaluated here")


def rule_failures(template: Template, params: Mapping[str, Any], region: str) -> list[str]:
    """AssertDescriptions of the Rules a stack with `params` in `region` would fail."""
    params = {**_defaults(template), **params}
    failed: list[str] = []
    for rule in (template.get("Rules") or {}).values():
        condition = rule.get("RuleCondition")
        if condition is not None and not _rule_value(condition, params, region):
            continue
        failed.extend(
            str(a.get("AssertDescription", "")).strip()
            for a in rule.get("Assertions") or []
            if not _rule_value(a["Assert"], params, region)
        )
    return failed


CHECKS = (
    check_replication_rules,
    check_weighted_records,
    check_edge_functions,
    check_versioned_associations,
    check_region_neutral,
    check_edge_dns_timeout,
    check_edge_region_rule,
)


def check_template(template: Template, name: str) -> list[Problem]:
    """Every check against one parsed template."""
    return [p for check in CHECKS for p in check(template, name)]


def check_paths(paths: list[Path]) -> list[Problem]:
    """Read and check templates; raises TemplateError naming the first unreadable one."""
    problems: list[Problem] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise TemplateError(f"{path}: {e.strerror}") from e
        problems += check_template(load_template(text, str(path)), str(path))
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] or sorted(TEMPLATE_DIR.glob("*.yaml"))
    try:
        problems = check_paths(paths)
    except TemplateError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    for p in problems:
        sys.stdout.write(f"{p}\n")
    sys.stdout.write(f"{len(paths)} templates checked, {len(problems)} problems\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
