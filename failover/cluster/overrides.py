"""Overrides in the cluster's table: one item, replaced only at the version it was read."""

from __future__ import annotations

from collections.abc import Mapping

from failover import overrides as docs
from failover.cluster.table import ConditionFailed, Table, TableError
from failover.errors import OverrideConflictError, OverrideError
from failover.model import OriginKey, Override

KEY = ("overrides", "current")


class TableOverrides:
    """The `VersionedStore` port on DynamoDB: `write(expected)` is a conditional put.

    A ConditionExpression is "a condition that must be satisfied in order for a
    conditional update to succeed" (API reference, ConditionCheck). Two operators who
    read the same version: one write lands, the other gets OverrideConflictError and
    `overrides.update` reads again, so no drain is lost.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self.location = f"dynamodb://{table.name}/overrides"

    def load(self) -> docs.Overrides:
        return self.read()[0]

    def read(self) -> tuple[docs.Overrides, str]:
        try:
            item = self.table.get(*KEY)
        except TableError as e:
            raise OverrideError(f"{self.location}: {e}") from e
        if item is None:
            return {}, ""
        body, version = item.get("body"), item.get("version")
        if not isinstance(body, str) or not isinstance(version, int):
            raise OverrideError(f"{self.location}: not a valid overrides item (body, version)")
        return docs.decode(body.encode(), self.location), str(version)

    def write(self, overrides: Mapping[OriginKey, Override], expected: str) -> None:
        version = int(expected) + 1 if expected else 1
        item = {
            "pk": KEY[0],
            "sk": KEY[1],
            "body": docs.encode(overrides).decode(),
            "version": version,
            "schema": 1,
        }
        try:
            if expected:
                self.table.put(item, "version = :v", {":v": int(expected)})
            else:
                self.table.put(item, "attribute_not_exists(pk)")
        except ConditionFailed as e:
            raise OverrideConflictError(f"{self.location}: changed since it was read") from e
        except TableError as e:
            raise OverrideError(f"{self.location}: {e}") from e

    def save(self, overrides: Mapping[OriginKey, Override]) -> None:
        docs.save(self, overrides)
