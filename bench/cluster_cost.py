"""Monthly DynamoDB cost of cluster mode, steady and during a full-Region outage, from the table contract.

Run: `python bench/cluster_cost.py` (prints the README's table as Markdown). Every figure
follows from the model below; change an assumption with the options and the table
follows.

What each round costs (CONTRACTS.md, cluster mode; interval 10 s by default):
- each replica writes its view: only origins not plainly up, sharded below DynamoDB's
  400 KB item limit; one write per shard, each shard's write request units =
  ceil(item bytes / 1 KB) ("A standard write request unit can write an item up to 1 KB");
- the leader renews the lease (one conditional write of a small item: 1 unit);
- the leader reads every view with one strongly consistent Query, which is billed on the
  total size of the items returned, in 4 KB units ("A strongly consistent read request of
  up to 4 KB requires one read request unit"); it reads the overrides item (1 unit);
- every other replica reads the lease (strongly consistent GetItem, 1 unit) to see
  whether it advances.
On a global table every write is billed once per replica table ("one rWRU per replica
table is charged for each write up to 1KB", AWS, "Understanding Amazon DynamoDB billing
for global tables"), and replicated bytes cross Regions.

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
from dataclasses import dataclass

WRU = 0.625e-6  # $ per write request unit
RRU = 0.125e-6  # $ per read request unit
RWRU = WRU  # $ per replicated write request unit
TRANSFER_PER_GB = 0.02  # $, assumed inter-Region rate
SECONDS_PER_MONTH = 30 * 24 * 3600
KB = 1024
ITEM_LIMIT = 400 * KB
SHARD_BYTES = 350 * KB  # a shard stays below the limit with room for its attributes


@dataclass(frozen=True)
class Model:
    replicas: int = 3
    interval: float = 10.0
    entry_bytes: int = 40  # one origin in a view: its id and its state
    item_overhead: int = 120  # pk, sk, seq, blind, shards, schema and their names
    table_replicas: int = 3  # MRSC: replica tables each write is billed in
    steady_not_up: int = 0  # origins not plainly up on a steady platform


@dataclass(frozen=True)
class Round:
    wru: int  # write request units per round (one table)
    rru: int  # read request units per round
    bytes_written: int


def _view_items(origins_listed: int, m: Model) -> list[int]:
    """Byte sizes of one replica's view shards."""
    payload = origins_listed * m.entry_bytes
    shards = max(1, math.ceil(payload / SHARD_BYTES))
    per_shard = math.ceil(payload / shards)
    sizes = [per_shard + m.item_overhead] * shards
    assert all(s < ITEM_LIMIT for s in sizes)
    return sizes


def one_round(origins_listed: int, m: Model) -> Round:
    view = _view_items(origins_listed, m)
    view_wru = sum(math.ceil(s / KB) for s in view)
    lease_wru = 1
    wru = m.replicas * view_wru + lease_wru
    query_rru = math.ceil(m.replicas * sum(view) / (4 * KB))
    rru = query_rru + 1 + (m.replicas - 1)  # views, overrides, lease reads by the others
    written = m.replicas * sum(view) + 100
    return Round(wru, rru, written)


@dataclass(frozen=True)
class Cost:
    single_region: float  # $ per month, single-Region table
    mrsc: float  # $ per month, MRSC global table (requests only)
    transfer: float  # $ per month, replicated bytes to the other Regions (assumed rate)


def monthly(r: Round, m: Model) -> Cost:
    rounds = SECONDS_PER_MONTH / m.interval
    reads = r.rru * rounds * RRU
    single = r.wru * rounds * WRU + reads
    mrsc = r.wru * rounds * RWRU * m.table_replicas + reads
    gb = r.bytes_written * rounds * (m.table_replicas - 1) / 1e9
    return Cost(single, mrsc, gb * TRANSFER_PER_GB)


def table(origins: list[int], m: Model) -> list[str]:
    lines = [
        (
            "| Origins | State | Writes/round (WRU) | Reads/round (RRU) | Single-Region $/month "
            "| MRSC (3 replicas) $/month | MRSC $/hour | + transfer $/month |"
        ),
        "|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for n in origins:
        cases = [("steady", m.steady_not_up), ("one Region of three down", math.ceil(n / 3))]
        for state, listed in cases:
            r = one_round(listed, m)
            c = monthly(r, m)
            lines.append(
                f"| {n:,} | {state} | {r.wru} | {r.rru} | {c.single_region:.2f} "
                f"| {c.mrsc:.2f} | {c.mrsc / (SECONDS_PER_MONTH / 3600):.3f} | {c.transfer:.2f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--entry-bytes", type=int, default=40)
    parser.add_argument("--origins", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args(argv)
    m = Model(replicas=args.replicas, interval=args.interval, entry_bytes=args.entry_bytes)
    print(
        f"{m.replicas} replicas, a round every {m.interval:g} s, {m.entry_bytes} B per listed "
        f"origin, us-east-1 on-demand prices (2026-11-30), 30-day month"
    )
    print("\n".join(table(args.origins, m)))
    steady = monthly(one_round(0, m), m).mrsc
    outage = monthly(one_round(math.ceil(args.origins[-1] / 3), m), m).mrsc
    print(
        f"outage/steady ratio at {args.origins[-1]:,} origins (MRSC): {outage / steady:.0f}x; "
        f"storage: a few hundred KB, under $0.01/month"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
