"""An in-memory cluster table with DynamoDB's conditional semantics: tests and the simulation."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from failover.cluster.table import ConditionFailed, TableError
from failover.core import lease as leases
from failover.core import views
from failover.core.lease import Item


class MemoryTable:
    """The `TablePort` of a replica, shared by any number of replicas in one process.

    `down` makes every call fail as an unreachable table does (TableError); `calls`
    counts them by operation, as a bill would.
    """

    def __init__(self) -> None:
        self.lease: Item | None = None
        self.items: dict[str, dict[str, object]] = {}  # view items by sort key
        self.down = False
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def _call(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        if self.down:
            raise TableError(f"memory: {op}: the table is unreachable")

    def read_lease(self) -> Item | None:
        with self._lock:
            self._call("GetItem")
            return self.lease

    def write_lease(self, write: leases.Write) -> None:
        with self._lock:
            self._call("PutItem")
            if self.lease != write.expect:
                raise ConditionFailed("memory: PutItem: the condition failed")
            self.lease = write.new

    def read_views(self) -> list[dict[str, object]]:
        with self._lock:
            self._call("Query")
            return [dict(i) for _, i in sorted(self.items.items())]

    def publish(self, items: Sequence[Mapping[str, object]], previous_shards: int) -> None:
        with self._lock:
            for item in [*items[1:], *items[:1]]:
                self._call("PutItem")
                self.items[str(item["sk"])] = dict(item)
            replica = str(items[0]["replica"])
            for shard in range(len(items), previous_shards):
                self._call("DeleteItem")
                self.items.pop(views.sort_key(replica, shard), None)
