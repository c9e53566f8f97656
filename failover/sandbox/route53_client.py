"""A boto3-shaped Route 53 client over the in-memory model, raising what botocore raises.

``Route53Store`` (and anything else written for ``boto3.client("route53")``) drives
``ModelClient`` unchanged: the three record calls take boto3's keyword arguments and
return boto3's shapes, and the model's refusals become ``botocore.exceptions.ClientError``
with Route 53's code, message and HTTP status. Fault injection belongs to the users that
need it (the simulation, the benchmarks), which wrap or extend this class.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from failover.sandbox.route53_model import Route53Model, Route53ModelError


def client_error(code: str, message: str, operation: str, status: int = 400) -> Exception:
    """The ClientError botocore raises for Route 53's error reply."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, operation)


class ModelClient:
    """ListResourceRecordSets, ChangeResourceRecordSets and GetChange against one model."""

    def __init__(self, model: Route53Model | None = None) -> None:
        self.model = model if model is not None else Route53Model()

    def list_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        op = "ListResourceRecordSets"
        try:
            return self.model.list(
                str(kw["HostedZoneId"]),
                start_name=kw.get("StartRecordName"),
                start_type=kw.get("StartRecordType"),
                start_identifier=kw.get("StartRecordIdentifier"),
                max_items=kw.get("MaxItems"),
            )
        except Route53ModelError as e:
            raise client_error(e.code, e.message, op, e.status) from e

    def change_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        op = "ChangeResourceRecordSets"
        batch = kw["ChangeBatch"]
        try:
            info = self.model.change(
                str(kw["HostedZoneId"]), batch["Changes"], str(batch.get("Comment", ""))
            )
        except Route53ModelError as e:
            raise client_error(e.code, e.message, op, e.status) from e
        return {"ChangeInfo": info}

    def get_change(self, **kw: Any) -> dict[str, Any]:
        op = "GetChange"
        try:
            return {"ChangeInfo": self.model.get_change(str(kw["Id"]))}
        except Route53ModelError as e:
            raise client_error(e.code, e.message, op, e.status) from e
