"""Monthly DynamoDB cost of cluster mode, steady and during a full-Region outage, measured on moto.

Run: `python bench/cluster_cost.py` (prints the README's table as Markdown). Nothing is
assumed about sizes or calls: three real replicas (failover.cluster.replica.Replica on
the real failover.cluster.table.Table, and the overrides read each round does through
failover.cluster.overrides.TableOverrides) run rounds against moto's DynamoDB on an
injected clock, and a meter on the client prices each call as DynamoDB bills it:

- item size: "the sum of the lengths of its attribute names and values"; a string its
  UTF-8 bytes, a number "(1 byte per two significant digits) + (1 byte)", a Boolean
  "(1 byte)" (Developer Guide, "DynamoDB item sizes and formats");
- PutItem: "If an item with the same primary key exists in the table, the operation
  replaces the item. For calculating provisioned throughput consumption, the item size
  that matters is the larger of the two", one write unit per KB; DeleteItem the size of
  the item deleted; GetItem one read unit per 4 KB (strongly consistent), at least one;
  Query: "All items returned are treated as a single read operation, whereby DynamoDB
  computes the total size of all items and then rounds up to the next 4 KB boundary"
  (Developer Guide, "DynamoDB read and write operations").

The platform: `--origins` origins in pools of three, one origin per Region (pool names
of 12 characters, origin ids the Region names, as in the sample configs); "one Region of
three down" is every replica seeing one origin of every pool down. A round every
`--interval` seconds (10 by default).

On a global table every write is billed once per replica table ("one rWRU per replica
table is charged for each write up to 1KB", AWS, "Understanding Amazon DynamoDB billing
for global tables"), and replicated bytes cross Regions; reads are billed where made.

Prices: us-east-1 list prices, on-demand, Standard table class, looked up 2026-11-30:
$0.625 per million write request units and $0.125 per million read request units (the
US East prices since AWS's 1 November 2024 reduction; AWS's on-demand pricing page draws
its price table client-side, so the figures were read from pages quoting it: check them
at https://aws.amazon.com/dynamodb/pricing/on-demand/ before relying on them), replicated
write request units priced as write request units (AWS, same billing guide: "Replicated
write units (rWCUs and rWRUs) are priced the same as single-Region write units"), storage
$0.25 per GB-month (a few hundred KB here). Inter-Region transfer at $0.02 per GB is an
assumption, not confirmed; it is shown apart.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
from moto import mock_aws

from failover.cluster.overrides import TableOverrides
from failover.cluster.replica import Replica
from failover.cluster.table import Table
from failover.model import (
    ClusterSettings,
    Config,
    DaemonSettings,
    Health,
    HealthSettings,
    Origin,
    OriginKey,
    Pool,
    State,
)

WRU = 0.625e-6  # $ per write request unit
RRU = 0.125e-6  # $ per read request unit
RWRU = WRU  # $ per replicated write request unit
TRANSFER_PER_GB = 0.02  # $, assumed inter-Region rate
SECONDS_PER_MONTH = 30 * 24 * 3600
KB = 1024
REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")
TABLE = "failover-cluster"
TABLE_REPLICAS = 3  # MRSC: the replica tables each write is billed in


# ---- the meter ---------------------------------------------------------------------------
def attribute_bytes(name: str, value: Mapping[str, Any]) -> int:
    ((kind, v),) = value.items()
    size = len(name.encode())
    if kind == "S":
        return size + len(str(v).encode())
    if kind == "N":
        digits = str(v).lstrip("-").replace(".", "").strip("0") or "0"
        return size + math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return size + 1
    raise ValueError(f"{kind}: not an attribute type the cluster's items use")


def item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(attribute_bytes(k, v) for k, v in item.items())


@dataclass
class Meter:
    """Calls and units by replica, priced from each request and response as billed."""

    who: str = ""
    held: dict[tuple[str, str], int] = field(default_factory=dict)  # item sizes by key
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (replica, op)
    wru: Counter[str] = field(default_factory=Counter)
    rru: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)  # bytes, by replica

    def reset(self) -> None:
        self.calls.clear()
        self.wru.clear()
        self.rru.clear()
        self.written.clear()

    def watch(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", self._params)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def _params(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["metered"] = dict(params)

    def _after(self, parsed: Mapping[str, Any], model: Any, context: Any, **_: Any) -> None:
        op, params, who = model.name, context.get("metered", {}), self.who
        self.calls[who, op] += 1
        if op == "PutItem":
            item = params["Item"]
            key = (item["pk"]["S"], item["sk"]["S"])
            new = item_bytes(item)
            self.wru[who] += max(1, math.ceil(max(new, self.held.get(key, 0)) / KB))
            self.written[who] += new
            if "Error" not in parsed:
                self.held[key] = new
        elif op == "DeleteItem":
            key = (params["Key"]["pk"]["S"], params["Key"]["sk"]["S"])
            self.wru[who] += max(1, math.ceil(self.held.pop(key, 0) / KB))
        elif op == "GetItem":
            found = parsed.get("Item")
            self.rru[who] += max(1, math.ceil((item_bytes(found) if found else 0) / (4 * KB)))
        elif op == "Query":
            total = sum(item_bytes(i) for i in parsed.get("Items", []))
            self.rru[who] += max(1, math.ceil(total / (4 * KB)))


# ---- the platform and the run --------------------------------------------------------------
def platform(origins: int) -> Config:
    health = HealthSettings()
    pools = []
    for p in range(math.ceil(origins / len(REGIONS))):
        name = f"pool-{p:07d}"
        members = tuple(
            Origin(name, r, f"{name}-{r}", r, 100, "_failover/canary.json", health) for r in REGIONS
        )
        pools.append(Pool(name, f"{name}.example.com", "Z1", 30, members))
    return Config(DaemonSettings(interval=10.0, listen=""), health, tuple(pools))


@dataclass(frozen=True)
class Round:
    """One round of the whole cluster, as measured."""

    wru: int  # write request units (one table)
    rru: int  # read request units
    bytes_written: int
    leader: dict[str, int]  # its calls by operation
    follower: dict[str, int]  # one other replica's


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def measure(origins: int, replicas: int = 3, interval: float = 10.0) -> tuple[Round, Round]:
    """(steady, one Region of three down): a settled round of each, from a run on moto."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_ENDPOINT_URL", None)  # moto in-process, not a server
    config = platform(origins)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
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
        meter = Meter()
        meter.watch(client)
        clock = Clock()
        settings = ClusterSettings(TABLE, replicas, lease_seconds=30.0, lease_margin_seconds=5.0)
        table = Table(client, TABLE)
        cluster = [
            Replica(settings, f"r{i}", table, interval=interval, background=False, clock=clock)
            for i in range(replicas)
        ]
        overrides = TableOverrides(table)
        up = {o.key: Health(state=State.UP) for o in config.all_origins()}
        down = dict(up) | {
            OriginKey(p.name, REGIONS[1]): Health(state=State.DOWN) for p in config.pools
        }

        def rounds(health: Mapping[OriginKey, Health], n: int) -> Round:
            for _ in range(n):
                meter.reset()
                leader = ""
                for r in cluster:
                    meter.who = r.me
                    overrides.load()  # each replica's overrides stage, once a round
                    if r.round(config, health, False, {})[0]:
                        leader = r.me
                clock.t += interval
            other = next(r.me for r in cluster if r.me != leader)

            def by_op(who: str) -> dict[str, int]:
                return {op: n for (w, op), n in sorted(meter.calls.items()) if w == who}

            return Round(
                sum(meter.wru.values()),
                sum(meter.rru.values()),
                sum(meter.written.values()),
                by_op(leader),
                by_op(other),
            )

        steady = rounds(up, 6)
        outage = rounds(down, 4)
    return steady, outage


# ---- the bill ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    single_region: float  # $ per month, single-Region table
    mrsc: float  # $ per month, MRSC global table (requests only)
    transfer: float  # $ per month, replicated bytes to the other Regions (assumed rate)


def monthly(r: Round, interval: float) -> Cost:
    rounds = SECONDS_PER_MONTH / interval
    reads = r.rru * rounds * RRU
    single = r.wru * rounds * WRU + reads
    mrsc = r.wru * rounds * RWRU * TABLE_REPLICAS + reads
    gb = r.bytes_written * rounds * (TABLE_REPLICAS - 1) / 1e9
    return Cost(single, mrsc, gb * TRANSFER_PER_GB)


def table(measured: Mapping[int, tuple[Round, Round]], interval: float) -> list[str]:
    lines = [
        (
            "| Origins | State | Writes/round (WRU) | Reads/round (RRU) | Single-Region $/month "
            "| MRSC (3 replicas) $/month | MRSC $/hour | + transfer $/month |"
        ),
        "|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for n, (steady, outage) in measured.items():
        for state, r in (("steady", steady), ("one Region of three down", outage)):
            c = monthly(r, interval)
            lines.append(
                f"| {n:,} | {state} | {r.wru} | {r.rru} | {c.single_region:.2f} "
                f"| {c.mrsc:.2f} | {c.mrsc / (SECONDS_PER_MONTH / 3600):.3f} | {c.transfer:.2f} |"
            )
    return lines


def _calls(calls: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {op}" for op, n in calls.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--origins", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args(argv)
    measured = {n: measure(n, args.replicas, args.interval) for n in args.origins}
    print(
        f"{args.replicas} replicas, a round every {args.interval:g} s, measured on moto; "
        "us-east-1 on-demand prices (2026-11-30), 30-day month"
    )
    print("\n".join(table(measured, args.interval)))
    for n, (steady, outage) in measured.items():
        print(
            f"{n:,} origins, calls per round: leader {_calls(steady.leader)}; each other "
            f"replica {_calls(steady.follower)}; Region down: leader {_calls(outage.leader)}, "
            f"{outage.bytes_written // args.replicas:,} B of view written per replica"
        )
    n = args.origins[-1]
    ratio = (
        monthly(measured[n][1], args.interval).mrsc / monthly(measured[n][0], args.interval).mrsc
    )
    print(
        f"outage/steady ratio at {n:,} origins (MRSC): {ratio:.0f}x; "
        "storage: a few hundred KB, under $0.01/month"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
