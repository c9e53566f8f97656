"""The demo's scenario: each outage injected, then what must follow checked against observations."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from failover.sandbox.observe import wait_until
from failover.sandbox.s3proxy import Kind
from failover.sandbox.scenario_backstop import backstop_outage
from failover.sandbox.world import REGIONS

if TYPE_CHECKING:
    from failover.sandbox.demo import Demo

# One region down, each with a different fault: (region, kind, what it models).
SINGLE_FAULTS: tuple[tuple[str, str, str], ...] = (
    ("eu-west-1", "http_503", "S3 answers 503 Slow Down"),
    ("us-east-1", "reset", "connections reset"),
    ("ap-southeast-2", "hang", "requests hang (probe times out)"),
    ("eu-west-1", "stale", "replication stopped: the canary is 3 h old"),
)


def steady(demo: Demo) -> None:
    demo.tl.head("steady state: three healthy regions, weight 100 each")
    since = time.time()
    assert demo.edge is not None  # noqa: S101 - set in start()
    edge = demo.edge
    wait_until(
        lambda: {h.region for h in edge.hits(since)} >= set(REGIONS), max(demo.patience, 15.0)
    )
    held = demo.show_records()
    demo.tl.expect(held == dict.fromkeys(REGIONS, 100), "Route 53 holds 100 for every region")
    demo.show_dns()
    demo.show_edge(since)
    reached = {h.region for h in edge.hits(since) if h.status == "200"}
    demo.tl.expect(reached == set(REGIONS), "requests reach all three buckets (HTTP 200)")
    assert demo.daemon is not None  # noqa: S101 - set in start()
    demo.tl.expect(not demo.daemon.events(0.0, "weights_applied"), "a steady start writes nothing")


def one_down(demo: Demo, region: str, kind: str, what: str) -> None:
    bound = demo.timings.bound()
    demo.tl.head(f"{region} down: {what} ({kind})")
    t0 = time.time()
    demo.sandbox.break_bucket(region, kind)
    demo.tl.say(f"injected {kind} into {demo.sandbox.buckets[region]}", t0)
    mine: Callable[[dict[str, Any]], bool] = lambda e: e.get("origin") == region  # noqa: E731
    demo.wait_event("origin_marked_down", t0, mine, f"{region} marked down")
    applied = demo.wait_event(
        "weights_applied",
        t0,
        lambda e: any(c["origin"] == region and c["to"] == 0 for c in e.get("changes", [])),
        f"Route 53 change takes {region} to weight 0",
    )
    took = applied.at - t0
    demo.tl.expect(
        took <= bound,
        f"failover time {took:.2f}s <= bound fall x interval + timeout + 1 s = {bound:.2f}s",
    )
    held = demo.show_records()
    demo.tl.expect(held.get(region) == 0, f"Route 53 holds 0 for {region}")
    if demo.store is not None:  # --router function: the store gets the same weights
        demo.wait_event(
            "kvs_weights_applied",
            t0,
            lambda e: any(c["origin"] == f"s3-{region}" and c["to"] == 0 for c in e["changes"]),
            f"the KeyValueStore's value takes s3-{region} to 0 (compare-and-swap on its ETag)",
        )
    dns_clean = wait_until(lambda: region not in demo.dns.sample(10), demo.patience)
    demo.tl.expect(dns_clean, f"DNS answers stop naming {region}")
    demo.show_dns()
    avoided, last = demo.edge_avoids(region, t0)
    demo.tl.expect(avoided, f"edge router stops sending requests to {region}")
    edge_bound = bound + demo.timings.ttl
    if last is None:
        demo.tl.say(
            f"no request went to {region} after the fault (the router's answer named another)"
        )
    else:
        demo.tl.say(
            f"last request to {region} {last - t0:.2f}s after the fault "
            f"(bound + TTL = {edge_bound:.2f}s)"
        )
        demo.tl.expect(last - t0 <= edge_bound, f"edge failover within {edge_bound:.2f}s")
    demo.show_edge(t0, 10)
    t1 = time.time()
    demo.sandbox.heal(region)
    demo.tl.say(f"healed {region}", t1)
    demo.wait_event("origin_marked_up", t1, mine, f"{region} marked up again")
    demo.wait_event(
        "weights_applied",
        t1,
        lambda e: any(c["origin"] == region and c["to"] == 100 for c in e.get("changes", [])),
        f"Route 53 change brings {region} back to 100",
    )
    demo.show_records()
    demo.tl.expect(demo.edge_reaches(region, t1), f"requests reach {region} again")
    demo.show_edge(t1, 10)


def every_region_down(demo: Demo) -> None:
    demo.tl.head("every region answers 503: fail open, nothing black-holed")
    t0 = time.time()
    demo.sandbox.break_all(Kind.HTTP_503)
    demo.tl.say("injected http_503 into all three buckets", t0)
    demo.wait_event("pool_failed_open", t0, lambda e: True, "pool fails open")
    # Let a few more rounds pass, then check nothing was written in between.
    wait_until(lambda: False, 3 * demo.timings.interval)
    held = demo.show_records()
    demo.tl.expect(
        held == dict.fromkeys(REGIONS, 100),
        "configured weights kept (never all zero: Route 53 would spread over the dead)",
    )
    dns = demo.show_dns()
    demo.tl.expect(set(dns) <= set(REGIONS) and bool(dns), "DNS still names the buckets")
    assert demo.edge is not None  # noqa: S101 - set in start()
    hits = demo.edge.hits(t0)
    demo.show_edge(t0)
    demo.tl.expect(
        bool(hits) and all(h.region in REGIONS for h in hits),
        "every request is still routed to a configured bucket (none left without an origin)",
    )
    t1 = time.time()
    demo.sandbox.heal()
    demo.tl.say("healed every region", t1)
    demo.tl.expect(demo.all_up(t1), "every region marked up again")


def network_cut(demo: Demo) -> None:
    demo.tl.head("the daemon's own network is cut: every probe times out or is reset")
    # Start from a settled record: a write decided before the cut may still be landing.
    configured = dict.fromkeys(REGIONS, 100)
    wait_until(lambda: demo.sandbox.records() == configured, demo.patience)
    before = demo.sandbox.records()
    t0 = time.time()
    demo.sandbox.break_all(Kind.HANG)
    demo.tl.say("injected hang into all three buckets (no HTTP answer from anywhere)", t0)
    frozen = demo.wait_event("writes_frozen", t0, lambda e: True, "writes frozen")
    wait_until(lambda: False, (demo.timings.fall + 2) * demo.timings.interval)
    assert demo.daemon is not None  # noqa: S101 - set in start()
    written = demo.daemon.events(frozen.at, "weights_applied")
    demo.tl.expect(not written, "no Route 53 write while frozen")
    demo.tl.expect(demo.show_records() == before, "Route 53 untouched")
    t1 = time.time()
    demo.sandbox.heal()
    demo.tl.say("network restored", t1)
    demo.wait_event("writes_unfrozen", t1, lambda e: True, "writes unfrozen")
    assert demo.daemon is not None  # noqa: S101 - set in start()
    # A round in which nothing answered says nothing about any origin: the blind
    # spell must not have taken a region out, then or now.
    wait_until(lambda: False, (demo.timings.rise + 1) * demo.timings.interval)
    downs = demo.daemon.events(t0, "origin_marked_down")
    demo.tl.expect(not downs, "no region marked down by the blind spell")
    demo.tl.expect(demo.show_records() == dict.fromkeys(REGIONS, 100), "every region still at 100")


def recovered(demo: Demo) -> None:
    demo.tl.head("recovered")
    since = time.time()
    held = demo.show_records()
    demo.tl.expect(held == dict.fromkeys(REGIONS, 100), "Route 53 holds 100 for every region")
    demo.show_dns()
    assert demo.edge is not None  # noqa: S101 - set in start()
    edge = demo.edge
    ok = wait_until(
        lambda: {h.region for h in edge.hits(since) if h.status == "200"} >= set(REGIONS),
        max(demo.patience, 15.0),
    )
    demo.show_edge(since)
    demo.tl.expect(ok, "requests reach all three buckets again")
    code, body = demo._get("/metrics")
    lines = [
        line
        for line in body.decode().splitlines()
        if line.startswith("failover_origin_transitions_total")
    ]
    demo.tl.expect(code == 200 and bool(lines), f"metrics served at http://{demo.listen}/metrics")
    for line in lines:
        demo.tl.say(f"  {line}")


def play(demo: Demo) -> None:
    """The whole scripted scenario, in order."""
    steady(demo)
    for region, kind, what in SINGLE_FAULTS:
        one_down(demo, region, kind, what)
    every_region_down(demo)
    network_cut(demo)
    recovered(demo)


def overrides_hang(demo: Demo) -> None:
    """The overrides bucket hangs while a region fails: failover within the bound all the same.

    The daemon read the (empty) S3 overrides store at start; from now on every read
    hangs. The read runs on a lane of its own with a deadline and a bounded client,
    so rounds keep their interval and use the last good overrides.
    """
    demo.tl.head("the overrides bucket hangs (every read of the S3 store never answers)")
    t0 = time.time()
    demo.sandbox.break_overrides("hang")
    demo.tl.say(f"injected hang into {demo.sandbox.ops_bucket} (overrides store)", t0)
    one_down(demo, "eu-west-1", "http_503", "S3 answers 503 while the overrides bucket hangs")
    demo.wait_event(
        "overrides_read_late",
        t0,
        lambda e: True,
        "the overrides read is reported late, the round did not wait for it",
    )
    code, body = demo._get("/metrics")
    ages = [
        line for line in body.decode().splitlines() if line.startswith("failover_overrides_age")
    ]
    demo.tl.expect(
        code == 200 and bool(ages), "the overrides' staleness is exported (last good value kept)"
    )
    for line in ages:
        demo.tl.say(f"  {line}")
    demo.sandbox.heal_overrides()
    demo.tl.say("healed the overrides bucket")


def play_overrides_hang(demo: Demo) -> None:
    steady(demo)
    overrides_hang(demo)
    recovered(demo)


STANDBY = ("us-east-1", "ap-southeast-2")  # eu-west-1 is the primary, then these in order


def standby_failover(demo: Demo) -> None:
    """A primary and two standbys: idle standbys, failover to the first, and back."""
    primary, first = "eu-west-1", STANDBY[0]
    idle = {primary: 100, first: 0, STANDBY[1]: 0}
    demo.tl.head(f"primary {primary}; standbys {', '.join(STANDBY)} (in that order), idle at 0")
    t0 = time.time()
    demo.tl.expect(
        wait_until(lambda: demo.sandbox.records() == idle, demo.patience),
        "the daemon takes the standbys to 0 (idle): only the primary serves",
    )
    demo.show_records()
    demo.tl.expect(demo.edge_reaches(primary, t0), f"requests reach {primary}")
    t1 = time.time()
    demo.sandbox.break_bucket(primary, "http_503")
    demo.tl.say(f"injected http_503 into {demo.sandbox.buckets[primary]} (the primary)", t1)
    demo.wait_event(
        "weights_applied",
        t1,
        lambda e: (
            {(c["origin"], c["to"]) for c in e.get("changes", [])} >= {(primary, 0), (first, 100)}
        ),
        f"one Route 53 change takes {primary} to 0 and gives {first} its weight",
    )
    held = demo.show_records()
    demo.tl.expect(
        held == {primary: 0, first: 100, STANDBY[1]: 0},
        f"only the first standby, {first}, serves; {STANDBY[1]} stays idle",
    )
    avoided, _ = demo.edge_avoids(primary, t1)
    demo.tl.expect(avoided, f"edge router stops sending requests to {primary}")
    demo.tl.expect(demo.edge_reaches(first, t1), f"requests reach the standby {first}")
    demo.show_edge(t1, 10)
    t2 = time.time()
    demo.sandbox.heal(primary)
    demo.tl.say(f"healed {primary}", t2)
    demo.wait_event(
        "weights_applied",
        t2,
        lambda e: (
            {(c["origin"], c["to"]) for c in e.get("changes", [])} >= {(primary, 100), (first, 0)}
        ),
        f"failback (auto): {primary} back to 100 and {first} idle again, in one change",
    )
    demo.tl.expect(demo.show_records() == idle, "Route 53 holds the idle layout again")
    demo.tl.expect(demo.edge_reaches(primary, t2), f"requests reach {primary} again")
    demo.show_edge(t2, 10)


# name -> (the scripted scenario, whether its daemon keeps overrides in the sandbox's S3,
# the regions configured as standbys, in order)
SCENARIOS: dict[str, tuple[Callable[[Demo], None], bool, tuple[str, ...]]] = {
    "default": (play, False, ()),
    "overrides-hang": (play_overrides_hang, True, ()),
    "standby": (standby_failover, False, STANDBY),
    "backstop": (backstop_outage, False, ()),
}
BACKSTOP = frozenset({"backstop"})  # scenarios whose sandbox emulates alarms and health checks
