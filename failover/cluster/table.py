"""The cluster's DynamoDB table: the lease, the views and the overrides, with conditional writes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import boto3
import botocore.config
import botocore.exceptions
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from failover.core import lease as leases
from failover.core import views
from failover.core.lease import Item
from failover.errors import FailoverError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SCHEMA = views.SCHEMA
LEASE_KEY = {"pk": "lease", "sk": "lease"}
# Worth another attempt, with backoff. ReplicatedWriteConflictException: "The request
# was rejected because one or more items in the request are being modified by a request
# in another Region." (DynamoDB API reference; botocore marks it retry-safe.) Throttling
# and server errors may be outlived by a retry too.
RETRYABLE = frozenset(
    {
        "ReplicatedWriteConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSIENT = (
    botocore.exceptions.ConnectionError,
    botocore.exceptions.HTTPClientError,
    botocore.exceptions.ReadTimeoutError,
    OSError,
)
# Bounded calls: the table is reached from a lane of its own, and a call that hangs
# must end well within a round or two, never at botocore's 60 s default.
CLIENT = botocore.config.Config(
    connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 1, "mode": "standard"}
)


class TableError(FailoverError):
    """The cluster table could not be read or written (after retries)."""


class ConditionFailed(TableError):  # noqa: N818 - DynamoDB's own name for it
    """A conditional write found the item other than expected."""


class Observer(Protocol):
    def table_error(self, op: str) -> None: ...


def client(region: str, session: boto3.Session | None = None) -> DynamoDBClient:
    return (session or boto3.Session()).client(
        "dynamodb", region_name=region or None, config=CLIENT
    )


_ser, _de = TypeSerializer(), TypeDeserializer()


def _typed(item: Mapping[str, object]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in item.items()}


def _plain(item: Mapping[str, Any]) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in item.items():
        value = _de.deserialize(v)
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        out[k] = value
    return out


class Table:
    """Thin, retrying access to one table; every call strongly consistent or conditional.

    "If you set ConsistentRead to true, DynamoDB returns a response with the most
    up-to-date data, reflecting the updates from all prior write operations that
    were successful." (Developer Guide, Read consistency): the lease and the views
    are read with ConsistentRead. A refused condition is ConditionalCheckFailedException,
    "A condition specified in the operation failed to be evaluated." (API reference).
    """

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        name: str,
        *,
        observer: Observer | None = None,
        attempts: int = 4,
        backoff: float = 0.05,
        sleep: Callable[[float], object] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.client, self.name = dynamodb, name
        self.observer = observer
        self.attempts, self.backoff = attempts, backoff
        self._sleep, self._rand = sleep, rand

    # -- the lease ----------------------------------------------------------------------
    def read_lease(self) -> Item | None:
        resp = self._call(
            "GetItem",
            self.client.get_item,
            TableName=self.name,
            Key=_typed(LEASE_KEY),
            ConsistentRead=True,
        )
        if "Item" not in resp:
            return None
        item = _plain(resp["Item"])
        return Item(str(item.get("holder", "")), _int(item, "epoch"), _int(item, "renewal"))

    def write_lease(self, write: leases.Write) -> None:
        """Put the lease item if it still holds what was read; ConditionFailed if not."""
        new = {
            **LEASE_KEY,
            "holder": write.new.holder,
            "epoch": write.new.epoch,
            "renewal": write.new.renewal,
            "schema": SCHEMA,
        }
        if write.expect is None:
            condition, values = "attribute_not_exists(pk)", {}
        else:
            condition = "holder = :h AND epoch = :e AND renewal = :r"
            values = {
                ":h": write.expect.holder,
                ":e": write.expect.epoch,
                ":r": write.expect.renewal,
            }
        self.put(new, condition, values)

    # -- views --------------------------------------------------------------------------
    def read_views(self) -> list[dict[str, object]]:
        return self.query(views.PK)

    def publish(self, items: Sequence[Mapping[str, object]], previous_shards: int) -> None:
        """Write a view's shards, the others before shard 0, and drop shards it no longer has.

        A reader checks every shard against shard 0's seq, so a view read between
        these writes is skipped, never mixed with the round before.
        """
        for item in [*items[1:], *items[:1]]:
            self.put(item)
        replica = str(items[0]["replica"])
        for shard in range(len(items), previous_shards):
            self._call(
                "DeleteItem",
                self.client.delete_item,
                TableName=self.name,
                Key=_typed({"pk": views.PK, "sk": views.sort_key(replica, shard)}),
            )

    # -- plumbing -----------------------------------------------------------------------
    def get(self, pk: str, sk: str) -> dict[str, object] | None:
        resp = self._call(
            "GetItem",
            self.client.get_item,
            TableName=self.name,
            Key=_typed({"pk": pk, "sk": sk}),
            ConsistentRead=True,
        )
        return _plain(resp["Item"]) if "Item" in resp else None

    def put(
        self,
        item: Mapping[str, object],
        condition: str = "",
        values: Mapping[str, object] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": _typed(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = _typed(values)
        self._call("PutItem", self.client.put_item, **kwargs)

    def query(self, pk: str) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _typed({":pk": pk}),
            "ConsistentRead": True,
        }
        while True:
            resp = self._call("Query", self.client.query, **kwargs)
            out.extend(_plain(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _call(self, op: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn(**kwargs)
            except botocore.exceptions.ClientError as e:
                code = str(e.response.get("Error", {}).get("Code", "Unknown"))
                if code == CONDITION_FAILED:
                    raise ConditionFailed(f"{self.name}: {op}: the condition failed") from e
                status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                self._failed(op)
                if (code not in RETRYABLE and status < 500) or attempt == self.attempts:
                    message = str(e.response.get("Error", {}).get("Message", ""))
                    raise TableError(f"{self.name}: {op}: {code}: {message}") from e
            except (botocore.exceptions.BotoCoreError, OSError) as e:
                self._failed(op)
                if not isinstance(e, TRANSIENT) or attempt == self.attempts:
                    raise TableError(f"{self.name}: {op}: {type(e).__name__}: {e}") from e
            self._sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + self._rand()))
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self, op: str) -> None:
        if self.observer is not None:
            self.observer.table_error(op)


def _int(item: Mapping[str, object], name: str) -> int:
    value = item.get(name, 0)
    return value if isinstance(value, int) else 0
