"""The `[kvs]` table and the rules for pools whose weights go to a CloudFront KeyValueStore.

Limits, from AWS's documentation:

- "Key size - 512 characters", "Value size - 1024 characters", "File size - 5 MB"
  (CloudFront Developer Guide, "File format for key-value pairs", for a store's
  import file; that the same figures bound a store written key by key, as the
  Quotas page's "Quotas on key value stores" lists them, is unconfirmed here). A
  pool's key is its name (at most 64 characters by the pool-name rule); its value
  names every origin, so the value's size caps a pool's size.
- "Origins per distribution: 25" and "Origin groups per distribution: 10", both
  adjustable (CloudFront Quotas, general quotas on distributions; a later copy of the
  page lists 100 origins). A pool's origins are the distribution's own origins, and
  the shipped function (edge_function/router.js) reads at most 25 and only ids of
  `A-Za-z0-9._-`: a value it would refuse is never configured here.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from failover.config_schema import KVS, show
from failover.core.kvs import edge_id, longest, writes_store
from failover.model import KvsSettings, Pool

MAX_KEY = 512  # bytes of a key
MAX_VALUE = 1024  # bytes of a value
MAX_STORE = 5 * 1024 * 1024  # bytes of a store, every key and value together
MAX_DISTRIBUTION_ORIGINS = 25  # origins of one distribution (default quota; the function's bound)
_EDGE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")  # the ids the function accepts
_ARN = re.compile(r"arn:aws[a-z-]*:cloudfront::\d{12}:key-value-store/[A-Za-z0-9-]{1,64}")
_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?/?")

Add = Callable[[str, str], None]


def crt_missing() -> bool:
    """Whether `awscrt` cannot be imported: the store's client signs with SigV4A, which
    botocore does only through it (`pip install 'failover[function]'`)."""
    return importlib.util.find_spec("awscrt") is None


def read(raw: object, table: Callable[..., tuple[dict[str, Any], set[str]]]) -> KvsSettings:
    """`[kvs]`'s keys, read by the config's table reader (which records their problems)."""
    values, _ = table(raw, "kvs", KVS)
    return KvsSettings(**values)


def check(
    kvs: KvsSettings,
    pools: Sequence[Pool],
    seen: Sequence[Mapping[str, Any]],
    add: Add,
) -> None:
    """Cross-table rules: sinks against routers, the store's ARN, and the store's limits."""
    where = {values.get("name"): i for i, values in reversed(list(enumerate(seen)))}
    for i, values in enumerate(seen):
        sink, router = values.get("sink", "route53"), values.get("router", "lambda-edge")
        if sink == "kvs" and router == "lambda-edge":
            add(
                f"pools[{i}].sink",
                '"kvs": the Lambda@Edge router reads the Route 53 record, which this pool '
                'would no longer write; set router = "function" (or sink = "both")',
            )
        if router == "function" and sink == "route53":
            add(
                f"pools[{i}].router",
                '"function" reads the KeyValueStore: set sink = "kvs" or "both"',
            )
    if kvs.arn and not _ARN.fullmatch(kvs.arn):
        add(
            "kvs.arn",
            f"{show(kvs.arn)} is not a KeyValueStore ARN "
            "(arn:aws:cloudfront::123456789012:key-value-store/ID)",
        )
    for key, v in (("endpoint_url", kvs.endpoint_url), ("proxy", kvs.proxy)):
        if v and not _URL.fullmatch(v):
            add(f"kvs.{key}", f"{show(v)} is not an http(s)://host[:port] URL")
    users = [p for p in pools if writes_store(p)]
    if not users:
        return
    first = f"pools[{where.get(users[0].name, 0)}].sink"
    if not kvs.arn:
        add("kvs.arn", f"missing: pool {show(users[0].name)} writes to the store ({first})")
    if crt_missing():
        add(
            first,
            "the KeyValueStore client signs with SigV4A, which needs awscrt: "
            "pip install 'failover[function]'",
        )
    total = 0
    for p in users:
        at = f"pools[{where.get(p.name, 0)}]"
        size = longest(p)
        total += len(p.name.encode("utf-8")) + size
        if len(p.name.encode("utf-8")) > MAX_KEY:
            add(f"{at}.name", f"a KeyValueStore key is at most {MAX_KEY} bytes")
        if size > MAX_VALUE:
            add(
                f"{at}.origins",
                f"the pool's value can reach {size} bytes; a KeyValueStore value is at most "
                f"{MAX_VALUE} (fewer origins or shorter cf_origin_id)",
            )
        if len(p.origins) > MAX_DISTRIBUTION_ORIGINS:
            add(
                f"{at}.origins",
                f"{len(p.origins)} origins; a distribution has at most "
                f"{MAX_DISTRIBUTION_ORIGINS} (CloudFront quota)",
            )
        ids: dict[str, str] = {}
        for j, o in enumerate(p.origins):
            eid = edge_id(o)
            if not _EDGE_ID.fullmatch(eid):
                add(
                    f"{at}.origins[{j}].cf_origin_id",
                    f"{show(eid)}: the function takes origin ids of 1-128 of A-Z a-z 0-9 . _ -",
                )
            if eid in ids:
                add(
                    f"{at}.origins[{j}].cf_origin_id",
                    f"{show(eid)} is also origin {show(ids[eid])}'s distribution origin id",
                )
            ids.setdefault(eid, o.id)
    if total > MAX_STORE:
        add(
            "kvs",
            f"the pools' keys and values can reach {total:,} bytes; a store holds {MAX_STORE:,}",
        )
