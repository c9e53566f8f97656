"""An in-memory Route 53 client for benchmarks: the project's strict model, counting requests.

It answers the calls `Route53Store` makes with boto3's shapes and errors, judged by
`failover.sandbox.route53_model` (compare-and-swap, atomic batches, weights, weighted TTLs,
the per-request limits), as the sandbox's moto server and the simulation are. moto is as
strict (it delegates to the same model) but slow at 10,000 records; this client only adds
a lock and a count of requests by operation.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from failover.sandbox.route53_client import ModelClient
from failover.sandbox.route53_model import Route53Model


class CountingRoute53(ModelClient):
    """Zones of record sets; `requests` counts calls by operation."""

    def __init__(self, model: Route53Model | None = None) -> None:
        super().__init__(model)
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add_zone(self, zone_id: str, name: str) -> None:
        self.model.create_zone(zone_id, name)

    def seed(self, zone_id: str, rrsets: Iterable[Mapping[str, Any]]) -> None:
        """Set-up, not counted: every rule holds except the per-request limits."""
        self.model.seed(zone_id, rrsets)

    def list_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self.requests["ListResourceRecordSets"] += 1
            return super().list_resource_record_sets(**kw)

    def change_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self.requests["ChangeResourceRecordSets"] += 1
            return super().change_resource_record_sets(**kw)

    def get_change(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self.requests["GetChange"] += 1
            return super().get_change(**kw)
