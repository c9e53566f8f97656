"""A record of every AWS operation the process makes, as JSON lines, when FAILOVER_AWS_AUDIT names a file.

Off unless the variable is set. botocore calls are recorded from the session's event
hooks (`provide-client-params`, which also fires for a presign: those are left out);
presigned canary GETs bypass botocore and are recorded by the prober when it sends
them. Each line: {"service", "operation", "params"} with the operation's identifying
parameters (bucket, key, zone, the change batch's actions, types and names; for
DynamoDB the client's Region, the table, the item's key and a query's key condition).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import IO, Any

ENV_VAR = "FAILOVER_AWS_AUDIT"
_KEPT = ("Bucket", "Key", "HostedZoneId", "Id", "Name", "KvsARN", "Namespace")
# DynamoDB: what IAM authorises a table call against (the table's ARN, built with the
# client's Region, and dynamodb:LeadingKeys, the partition key of the items touched).
_KEPT_DYNAMODB = (
    "Region",
    "TableName",
    "KeyConditionExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
)
_ITEM_KEY = ("pk", "sk")

_lock = threading.Lock()
_out: IO[str] | None = None


def enable(environ: Mapping[str, str] = os.environ) -> bool:
    """Open the record named by FAILOVER_AWS_AUDIT (append); False when it is not set."""
    global _out  # noqa: PLW0603 - one record per process, like its log stream
    path = environ.get(ENV_VAR, "")
    if not path:
        return False
    with _lock:
        if _out is None:
            _out = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
    return True


def record(service: str, operation: str, params: Mapping[str, Any]) -> None:
    """Append one operation to the record, if one is open."""
    if _out is None:
        return
    kept = _identity(params)
    if service == "dynamodb":
        kept |= _dynamodb_identity(params)
    # default=str: a parameter that is no JSON value is recorded as text, never raised
    # out of the event hook into the call it watches.
    line = json.dumps({"service": service, "operation": operation, "params": kept}, default=str)
    with _lock:
        _out.write(line + "\n")
        _out.flush()


def _identity(params: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {k: params[k] for k in _KEPT if k in params}
    batch = params.get("ChangeBatch")
    if isinstance(batch, Mapping):
        kept["Changes"] = [
            {
                "Action": c["Action"],
                "Type": c["ResourceRecordSet"]["Type"],
                "Name": c["ResourceRecordSet"]["Name"],
            }
            for c in batch.get("Changes", [])
        ]
    return kept


def _dynamodb_identity(params: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {k: params[k] for k in _KEPT_DYNAMODB if k in params}
    item = params.get("Item")
    if isinstance(item, Mapping):
        kept["Item"] = {k: item[k] for k in _ITEM_KEY if k in item}
    return kept


def watch(session: Any) -> None:
    """Record every botocore call made through clients of `session` (a boto3 Session)."""
    if _out is None:
        return

    def on_params(params: Mapping[str, Any], model: Any, context: Any = None, **_: Any) -> None:
        if isinstance(context, Mapping) and context.get("is_presign_request"):
            return  # a presign is no request; the GET made with it is recorded when sent
        service = model.service_model.service_name
        if service == "dynamodb" and isinstance(context, Mapping):
            params = {**params, "Region": context.get("client_region")}
        record(service, model.name, params)

    session.events.register("provide-client-params", on_params)
