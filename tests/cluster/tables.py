"""Helpers for tests on moto's DynamoDB: a fresh cluster table, and injected DynamoDB errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from failover.cluster import table as tables


def create_table(region: str = "us-east-1", name: str = "") -> str:
    """A table of the contract's schema (pk, sk; on demand), under a fresh name if none."""
    name = name or f"failover-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


class Faults:
    """Answers the next `times` calls of an operation with a DynamoDB error (JSON protocol)."""

    def __init__(
        self, client: Any, operation: str, code: str, times: int, status: int = 400
    ) -> None:
        self.remaining, self.injected = times, 0
        self.code, self.status = code, status
        client.meta.events.register(f"before-send.dynamodb.{operation}", self._answer)

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if self.remaining == 0:
            return None
        self.remaining -= 1
        self.injected += 1
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}", "message": "injected"}
        )
        headers = HTTPHeaders.from_dict(
            {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.0"}
        )
        return AWSResponse(request.url, self.status, headers, _Body(body.encode()))


def open_table(name: str, **kwargs: Any) -> tables.Table:
    return tables.Table(tables.client("us-east-1"), name, sleep=lambda s: None, **kwargs)
