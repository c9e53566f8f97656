"""Metrics of the KeyValueStore sink: requests, writes, conflicts, errors and drift, bounded labels."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

KVS_OPERATIONS = ("DescribeKeyValueStore", "GetKey", "PutKey")
KVS_OUTCOMES = ("ok", "conflict", "not_found", "error")


class KvsMetrics:
    """Labelled by pool (bounded by the config), operation and outcome (fixed sets)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "failover_kvs_requests",
            "KeyValueStore API requests by operation and outcome.",
            ["operation", "outcome"],
            registry=registry,
        )
        self.writes = Counter(
            "failover_kvs_writes",
            "Pool values the KeyValueStore accepted.",
            ["pool"],
            registry=registry,
        )
        self.conflicts = Counter(
            "failover_kvs_conflicts",
            "Writes refused because the store's ETag had moved (409), each retried or re-decided.",
            ["pool"],
            registry=registry,
        )
        self.errors = Counter(
            "failover_kvs_errors",
            "KeyValueStore calls that failed for any reason but a conflict.",
            ["operation"],
            registry=registry,
        )
        self.drift = Counter(
            "failover_kvs_drift",
            "Pool values found on a re-read to differ from what the daemon last wrote.",
            ["pool"],
            registry=registry,
        )
        for op in KVS_OPERATIONS:
            self.errors.labels(op)
            for outcome in KVS_OUTCOMES:
                self.requests.labels(op, outcome)

    def request(self, operation: str, outcome: str) -> None:
        self.requests.labels(operation, outcome).inc()
        if outcome == "error":
            self.errors.labels(operation).inc()
