"""An in-memory Route 53 client for benchmarks: counts requests, enforces CAS and request limits.

It answers the two calls `Route53Store` makes, with boto3's shapes and errors. moto is
correct but slow at 10,000 records; batching at scale is proven against the strict moto
server in tests/test_scale_route53.py, this fake only has to be fast and count.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

MAX_ELEMENTS = 1000
MAX_CHARS = 32000

Key = tuple[str, str, str]  # name, type, set identifier


def _error(code: str, message: str, op: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return ClientError(response, op)


class CountingRoute53:
    """Zones of record sets; `requests` counts calls by operation."""

    def __init__(self) -> None:
        self.zones: dict[str, dict[Key, dict[str, Any]]] = {}
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add_zone(self, zone_id: str) -> None:
        self.zones[zone_id] = {}

    def seed(self, zone_id: str, rrset: dict[str, Any]) -> None:
        self.zones[zone_id][_key(rrset)] = rrset

    def list_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        with self._lock:
            self.requests["ListResourceRecordSets"] += 1
            records = self.zones[kw["HostedZoneId"]]
            keys = sorted(records)
            start = (
                kw.get("StartRecordName", ""),
                kw.get("StartRecordType", ""),
                kw.get("StartRecordIdentifier", ""),
            )
            page_size = int(kw.get("MaxItems", "300"))
            chosen = [k for k in keys if k >= start][: page_size + 1]
            page = [records[k] for k in chosen[:page_size]]
            out: dict[str, Any] = {"ResourceRecordSets": page, "IsTruncated": False}
            if len(chosen) > page_size:
                nxt = chosen[page_size]
                out.update(
                    IsTruncated=True,
                    NextRecordName=nxt[0],
                    NextRecordType=nxt[1],
                    NextRecordIdentifier=nxt[2],
                )
            return out

    def change_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        op = "ChangeResourceRecordSets"
        with self._lock:
            self.requests[op] += 1
            records = self.zones[kw["HostedZoneId"]]
            changes = kw["ChangeBatch"]["Changes"]
            elements = chars = 0
            for c in changes:
                values = [r["Value"] for r in c["ResourceRecordSet"].get("ResourceRecords", [])]
                twice = 2 if c["Action"] == "UPSERT" else 1
                elements += len(values) * twice
                chars += sum(len(v) for v in values) * twice
            if elements > MAX_ELEMENTS or chars > MAX_CHARS:
                raise _error("InvalidInput", f"{elements} elements, {chars} characters", op)
            after = dict(records)
            for c in changes:
                rr, key = c["ResourceRecordSet"], _key(c["ResourceRecordSet"])
                if c["Action"] == "DELETE":
                    if after.get(key) != rr:
                        raise _error("InvalidChangeBatch", f"{key} does not match", op)
                    del after[key]
                elif c["Action"] == "CREATE":
                    if key in after:
                        raise _error("InvalidChangeBatch", f"{key} already exists", op)
                    after[key] = rr
                else:
                    after[key] = rr
            records.clear()
            records.update(after)
            return {"ChangeInfo": {"Id": f"/change/C{self.requests[op]}", "Status": "INSYNC"}}


def _key(rr: dict[str, Any]) -> Key:
    return (rr["Name"], rr["Type"], rr.get("SetIdentifier", ""))
