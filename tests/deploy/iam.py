"""The task role of daemon.yaml, rendered for given parameters, and a reviewed map of operations to IAM.

`TABLE` is the reviewed part: for each AWS operation the daemon may make, the IAM action
it needs, the resource ARN it is authorised against and the condition keys Route 53
evaluates. Sources: Service Authorization Reference, "Actions, resources, and condition
keys for Amazon Route 53" (ChangeResourceRecordSets and ListResourceRecordSets on
`hostedzone`, GetChange on `change`; condition keys
route53:ChangeResourceRecordSetsActions, ...RecordTypes, ...NormalizedRecordNames) and
"... for Amazon S3" (GetObject and PutObject on `object`), "... for Amazon DynamoDB"
(GetItem, PutItem, UpdateItem, DeleteItem, Query and DescribeTable on `table` — the
daemon calls GetItem, PutItem, DeleteItem and Query; condition key dynamodb:LeadingKeys, the partition key values of the items a request touches) and
"... for Amazon CloudFront KeyValueStore" (each data-plane operation on
`key-value-store`). An operation missing from the table fails the test that meets it:
review it, then add it.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.checks import load_template

from .tools import DEPLOY

Params = Mapping[str, Any]
ACCOUNT = "123456789012"  # moto's account, and the one the role is rendered for


@dataclass(frozen=True)
class Need:
    """What one recorded operation needs from IAM."""

    operation: str
    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _zone(p: Params) -> str:
    return f"arn:aws:route53:::hostedzone/{str(p['HostedZoneId']).rsplit('/', 1)[-1]}"


def _object(p: Params) -> str:
    return f"arn:aws:s3:::{p['Bucket']}/{p['Key']}"


def _change_context(p: Params) -> tuple[tuple[str, tuple[str, ...]], ...]:
    changes = p.get("Changes", [])
    return (
        ("route53:ChangeResourceRecordSetsActions", tuple(c["Action"] for c in changes)),
        ("route53:ChangeResourceRecordSetsRecordTypes", tuple(c["Type"] for c in changes)),
        (
            "route53:ChangeResourceRecordSetsNormalizedRecordNames",
            tuple(c["Name"].lower().removesuffix(".") for c in changes),
        ),
    )


def _table(p: Params) -> str:
    return f"arn:aws:dynamodb:{p['Region']}:{ACCOUNT}:table/{p['TableName']}"


def _value(attribute: Any) -> str:
    """A key value as the client sends it ({"S": "view"}) or as the resource layer does."""
    return str(attribute["S"]) if isinstance(attribute, Mapping) else str(attribute)


_EQUALS = re.compile(r"(#?\w+)\s*=\s*(:\w+)")


def _leading_keys(p: Params) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """dynamodb:LeadingKeys: the partition key `pk` of the item, or of a query's condition.

    A query whose condition cannot be read here gives "?", which no grant names: the
    test fails instead of treating an unknown key as none.
    """
    key = p.get("Key") or p.get("Item")
    if isinstance(key, Mapping) and "pk" in key:
        return (("dynamodb:LeadingKeys", (_value(key["pk"]),)),)
    names = p.get("ExpressionAttributeNames") or {}
    values = p.get("ExpressionAttributeValues") or {}
    for name, placeholder in _EQUALS.findall(str(p.get("KeyConditionExpression", ""))):
        if names.get(name, name) == "pk" and placeholder in values:
            return (("dynamodb:LeadingKeys", (_value(values[placeholder]),)),)
    return (("dynamodb:LeadingKeys", ("?",)),)


TABLE: dict[tuple[str, str], tuple[str, Callable[[Params], str], Callable[[Params], Any]]] = {
    ("route53", "ListResourceRecordSets"): ("route53:ListResourceRecordSets", _zone, lambda p: ()),
    ("route53", "ChangeResourceRecordSets"): (
        "route53:ChangeResourceRecordSets",
        _zone,
        _change_context,
    ),
    ("route53", "GetChange"): (
        "route53:GetChange",
        lambda p: f"arn:aws:route53:::change/{str(p['Id']).rsplit('/', 1)[-1]}",
        lambda p: (),
    ),
    ("s3", "GetObject"): ("s3:GetObject", _object, lambda p: ()),
    ("s3", "PutObject"): ("s3:PutObject", _object, lambda p: ()),
    ("dynamodb", "GetItem"): ("dynamodb:GetItem", _table, _leading_keys),
    ("dynamodb", "PutItem"): ("dynamodb:PutItem", _table, _leading_keys),
    ("dynamodb", "UpdateItem"): ("dynamodb:UpdateItem", _table, _leading_keys),
    ("dynamodb", "DeleteItem"): ("dynamodb:DeleteItem", _table, _leading_keys),
    ("dynamodb", "Query"): ("dynamodb:Query", _table, _leading_keys),
    ("dynamodb", "DescribeTable"): ("dynamodb:DescribeTable", _table, lambda p: ()),
    # Service Authorization Reference, "... for Amazon CloudFront KeyValueStore": each
    # operation is authorised as the action of the same name on the `key-value-store`.
    **{
        ("cloudfront-keyvaluestore", op): (
            f"cloudfront-keyvaluestore:{op}",
            lambda p: str(p["KvsARN"]),
            lambda p: (),
        )
        for op in ("DescribeKeyValueStore", "GetKey", "PutKey", "ListKeys", "UpdateKeys")
    },
    # CloudWatch, "Actions, resources, and condition keys": PutMetricData has no resource
    # type ("*") and the condition key cloudwatch:namespace; DescribeAlarms is read as "*".
    ("cloudwatch", "PutMetricData"): (
        "cloudwatch:PutMetricData",
        lambda p: "*",
        lambda p: (("cloudwatch:namespace", (p["Namespace"],)),),
    ),
    ("cloudwatch", "DescribeAlarms"): ("cloudwatch:DescribeAlarms", lambda p: "*", lambda p: ()),
}


def needs(record: Path) -> list[Need]:
    """Each recorded operation as what it needs; an operation not in TABLE raises KeyError."""
    out: list[Need] = []
    for line in record.read_text().splitlines():
        op = json.loads(line)
        key = (op["service"], op["operation"])
        if key not in TABLE:
            raise KeyError(f"{key} is not in the reviewed table tests/deploy/iam.py")
        action, resource, context = TABLE[key]
        params = op["params"]
        out.append(Need("/".join(key), action, resource(params), context(params)))
    return out


# ---- the role, rendered ------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    all_values_in: tuple[tuple[str, tuple[str, ...]], ...]  # ForAllValues:StringEquals
    all_values_like: tuple[tuple[str, tuple[str, ...]], ...] = ()  # ForAllValues:StringLike

    def allows(self, need: Need) -> bool:
        if not any(fnmatch.fnmatchcase(need.action, a) for a in self.actions):
            return False
        if not any(fnmatch.fnmatchcase(need.resource, r) for r in self.resources):
            return False
        context = dict(need.context)
        if not all(set(context.get(k, ())) <= set(v) for k, v in self.all_values_in):
            return False
        # StringLike: `*` any run of characters, `?` one (fnmatch's `[` never occurs in
        # the normalized names and patterns compared here).
        return all(
            all(any(fnmatch.fnmatchcase(x, p) for p in v) for x in context.get(k, ()))
            for k, v in self.all_values_like
        )


_NO_VALUE = object()


class _Renderer:
    def __init__(self, template: Mapping[str, Any], params: Params, region: str) -> None:
        declared = template.get("Parameters") or {}
        self.params: dict[str, Any] = {
            k: v["Default"] for k, v in declared.items() if "Default" in v
        } | dict(params)
        self.params["AWS::Partition"] = "aws"
        self.params["AWS::Region"] = region
        self.params["AWS::AccountId"] = ACCOUNT
        self.conditions = template.get("Conditions") or {}

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions[name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"}:
            return _NO_VALUE if node["Ref"] == "AWS::NoValue" else self.params[node["Ref"]]
        if set(node) == {"Condition"}:
            return self.condition(node["Condition"])
        if len(node) != 1 or not next(iter(node)).startswith("Fn::"):
            return {
                k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE
            }
        ((fn, args),) = node.items()
        if fn == "Fn::If":
            return self.value(args[1] if self.condition(args[0]) else args[2])
        if fn == "Fn::Sub":
            text, names = (args, {}) if isinstance(args, str) else (args[0], self.value(args[1]))
            for k, v in {**self.params, **names}.items():
                if isinstance(v, str):
                    text = text.replace("${" + k + "}", v)
            return text
        args = self.value(args)
        if fn == "Fn::Join":
            return str(args[0]).join(args[1])
        if fn == "Fn::Split":
            return str(args[1]).split(args[0])
        if fn == "Fn::Select":
            return args[1][int(args[0])]
        if fn == "Fn::Equals":
            return args[0] == args[1]
        if fn == "Fn::Not":
            return not args[0]
        if fn == "Fn::And":
            return all(args)
        if fn == "Fn::Or":
            return any(args)
        raise ValueError(f"{fn} is not rendered here")


def _strings(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value)


def task_role(params: Params, region: str = "eu-west-1") -> list[Statement]:
    """The task role's statements in daemon.yaml, with `params` (and defaults) filled in,
    for a stack in `region`."""
    template = load_template((DEPLOY / "cloudformation" / "daemon.yaml").read_text(), "daemon.yaml")
    renderer = _Renderer(template, params, region)
    role = template["Resources"]["TaskRole"]["Properties"]
    out: list[Statement] = []
    for policy in role["Policies"]:
        for raw in renderer.value(policy["PolicyDocument"]["Statement"]):
            assert raw["Effect"] == "Allow", raw
            cond = raw.get("Condition", {})
            # StringLikeIfExists narrows a grant no call names (S3's own ListBucket check
            # on a missing key): kept, never needed to match a recorded operation.
            # StringEquals on a single-valued key reads as the same test: every value in.
            assert set(cond) <= {
                "ForAllValues:StringEquals",
                "ForAllValues:StringLike",
                "StringEquals",
                "StringLikeIfExists",
            }, cond
            equals = {**cond.get("ForAllValues:StringEquals", {}), **cond.get("StringEquals", {})}
            out.append(
                Statement(
                    raw["Sid"],
                    _strings(raw["Action"]),
                    _strings(raw["Resource"]),
                    tuple((k, _strings(v)) for k, v in equals.items()),
                    tuple(
                        (k, _strings(v)) for k, v in cond.get("ForAllValues:StringLike", {}).items()
                    ),
                )
            )
    return out


def refused(statements: Iterable[Statement], recorded: Iterable[Need]) -> list[Need]:
    """Operations no statement allows."""
    statements = list(statements)
    return [n for n in recorded if not any(s.allows(n) for s in statements)]


def unused(statements: Iterable[Statement], recorded: Iterable[Need]) -> list[str]:
    """`Sid: action` grants that no recorded operation needed."""
    recorded = list(recorded)
    return [
        f"{s.sid}: {a}"
        for s in statements
        for a in s.actions
        if not any(
            Statement(s.sid, (a,), s.resources, s.all_values_in, s.all_values_like).allows(n)
            for n in recorded
        )
    ]
