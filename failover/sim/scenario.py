"""The simulated world: its config, and a seeded generator of faults, alone and combined."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from failover.model import Config, DaemonSettings, HealthSettings, Origin, Outcome, Pool

INTERVAL = 10.0
# What an origin's own failure looks like; the daemon's own faults have kinds of their own.
FAILING = tuple(o for o in Outcome if not o.healthy and not o.own_fault)

# Probe faults change what canaries answer; Route 53 faults change what the API answers;
# the rest are people and processes: edits, overrides, restarts, dry-run.
PROBE_KINDS = ("outage", "partial", "flap", "slow", "stale", "cutoff", "source_down")
# The daemon's own faults: S3 refuses its requests whatever the origin's health.
OWN_FAULT_KINDS = ("creds_expiry", "clock_skew")
ROUTE53_KINDS = ("throttle", "busy", "r53_timeout", "lost_response", "r53_down")
# The overrides store misbehaving: refusing (403), slow, hung, or a garbled document.
OVERRIDES_KINDS = ("ovr_refuse", "ovr_slow", "ovr_hang", "ovr_garbled")
WINDOW_KINDS = ("drain", "pin", "dry_run")
STORE_KINDS = ("overrides_down",)
INSTANT_KINDS = ("human_edit", "human_delete", "human_ttl", "health_check", "restart")
KIND_WEIGHTS = {
    "outage": 6,
    "partial": 3,
    "flap": 4,
    "slow": 2,
    "stale": 2,
    "cutoff": 2,
    "source_down": 2,
    "throttle": 2,
    "busy": 2,
    "r53_timeout": 2,
    "lost_response": 2,
    "r53_down": 1,
    "ovr_refuse": 1,
    "ovr_slow": 1,
    "ovr_hang": 1,
    "ovr_garbled": 1,
    "drain": 1,
    "pin": 1,
    "dry_run": 1,
    "human_edit": 2,
    "human_delete": 1,
    "human_ttl": 2,
    "health_check": 2,
    "restart": 1,
    "overrides_down": 1,
    "creds_expiry": 2,
    "clock_skew": 1,
}
DESCRIPTIONS = {
    "outage": "regional outage, one probe outcome for every bucket of the region",
    "partial": "partial outage: some probes of some origins fail at random",
    "flap": "flapping with periods around fall, rise and hold-down",
    "slow": "latency near the probe timeout (some probes time out)",
    "stale": "stale canary (replication stopped): too old",
    "cutoff": "the prober cut off: every probe a transport failure",
    "source_down": "the canary-source Region down with max_age set: every replica's canary ages",
    "throttle": "Route 53 Throttling on some calls",
    "busy": "Route 53 PriorRequestNotComplete on some changes",
    "r53_timeout": "Route 53 request timed out before it was applied",
    "lost_response": "Route 53 applied a change but its answer was lost",
    "r53_down": "Route 53 refusing every call (throttled) for a while",
    "ovr_refuse": "the overrides store refuses every read (403 AccessDenied)",
    "ovr_slow": "the overrides store answers a round late (the value read a round ago)",
    "ovr_hang": "the overrides store hangs: every read runs past the lane's deadline",
    "ovr_garbled": "the overrides store serves a hostile document (deep, huge, wrong types)",
    "drain": "an operator drains an origin (sometimes the last one, forced)",
    "pin": "an operator pins an origin",
    "dry_run": "the daemon reloaded into dry-run",
    "human_edit": "a human changes a weight by hand",
    "human_delete": "a human deletes a weighted set",
    "human_ttl": "a human gives every set of a record another TTL: the daemon's batches "
    "then mix TTL and weight changes unless the TTL is corrected alone",
    "health_check": "a human attaches a Route 53 health check to an owned set",
    "restart": "the daemon is killed and restarted",
    "overrides_down": "the overrides store refuses reads; the daemon restarts meanwhile, "
    "with a drain in force",
    "creds_expiry": "credentials expiring under cached URLs: S3 answers ExpiredToken",
    "clock_skew": "the daemon's clock skewed: S3 answers RequestTimeTooSkewed or an expired URL",
}


@dataclass(frozen=True)
class Fault:
    """One fault: what, when (seconds from the start) and on what."""

    kind: str
    start: float
    end: float
    origins: frozenset[tuple[str, str]] = frozenset()  # (pool, origin id); empty = not per origin
    outcome: Outcome = Outcome.HTTP_5XX
    p: float = 1.0  # probability per probe or per call
    down: float = 0.0  # flapping: seconds failing, then `up` seconds answering
    up: float = 0.0
    weight: int = 0  # human edits: the weight typed in
    replica: str = ""  # cluster mode: the one replica it strikes ("" = every replica)
    episode: int = -1  # cluster mode: the episode of overlapping faults it belongs to

    @property
    def label(self) -> str:
        return f"outage:{self.outcome.value}" if self.kind == "outage" else self.kind


def _health(**kw: float) -> HealthSettings:
    return HealthSettings(**kw)  # type: ignore[arg-type]


def world_config(interval: float = INTERVAL, dry_run: bool = False) -> Config:
    """Four pools in two zones, with different thresholds, weights and sizes.

    Two are active/passive: www has one primary and two standbys, in order, that hand
    back on their own (after hold-down and slow start); docs has a standby an operator
    hands back (`failback = "manual"`), trusts the foreign set it shares its name with
    (`trust_unowned`) and has a renamed origin's old id to retire (`previous_ids`).
    api and img have no standby and no foreign set: their records alone can reach all
    zero. The foreign sets themselves are seeded by `run.py`.
    """
    specs = [
        (
            "www",
            "Z1SIMWWW",
            _health(
                timeout=2.0,
                fall=3,
                rise=2,
                hold_down=30.0,
                hold_down_max=240.0,
                max_age=600.0,
                slow_start=60.0,
            ),
            (("eu-west-1", 100), ("us-east-1", 100, True), ("ap-southeast-2", 100, True)),
        ),
        (
            "api",
            "Z1SIMWWW",
            _health(
                timeout=2.0, fall=2, rise=3, hold_down=60.0, hold_down_max=480.0, slow_start=120.0
            ),
            (("eu-west-1", 200), ("us-west-2", 50)),
        ),
        (
            "img",
            "Z2SIMIMG",
            _health(
                timeout=3.0, fall=4, rise=2, hold_down=40.0, hold_down_max=320.0, max_age=900.0
            ),
            (("eu-west-1", 50), ("eu-central-1", 100), ("us-east-1", 255), ("ap-northeast-1", 10)),
        ),
        (
            "docs",
            "Z2SIMIMG",
            _health(timeout=1.0, fall=3, rise=2, hold_down=30.0, hold_down_max=120.0),
            (("us-east-1", 100), ("eu-west-1", 100, True)),
        ),
    ]
    # The pools that check canary age name the Region their canary is written in.
    sources = {"www": "eu-west-1", "img": "eu-west-1"}
    standby = {
        "docs": {
            "failback": "manual",
            "trust_unowned": True,
            "previous_ids": ("docs-us-east-1-old",),
        },
    }
    pools = []
    for name, zone, h, origins in specs:
        zone_name = "example.com" if zone == "Z1SIMWWW" else "example.net"
        pools.append(
            Pool(
                name=name,
                record=f"{name}.origin.{zone_name}",
                zone_id=zone,
                ttl=30,
                origins=tuple(
                    Origin(
                        name,
                        region,
                        f"{name}-{region}",
                        region,
                        w,
                        "_failover/canary.json",
                        h,
                        standby=bool(rest),
                    )
                    for region, w, *rest in origins
                ),
                canary_source=sources.get(name, ""),
                **standby.get(name, {}),  # type: ignore[arg-type]
                backstop=name == "img",  # its sets carry health checks (the backstop)
            )
        )
    daemon = DaemonSettings(
        interval=interval, listen="", dry_run=dry_run, resync=300.0, route53_rate=5.0
    )
    return Config(daemon, HealthSettings(), tuple(pools))


@dataclass
class Scenario:
    seed: int
    hours: float
    faults: list[Fault] = field(default_factory=list)

    @property
    def end(self) -> float:
        return self.hours * 3600.0


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def generate(
    seed: int, hours: float, config: Config, kinds: tuple[str, ...] | None = None
) -> Scenario:
    """Episodes of one to three overlapping faults, separated by quiet spells.

    `kinds` narrows the mix (every kind by default), to aim a run at one rule.
    """
    rng = random.Random(seed)
    scenario = Scenario(seed, hours)
    origins = [o for p in config.pools for o in p.origins]
    regions = sorted({o.region for o in origins})
    mix = [k for k in KIND_WEIGHTS if kinds is None or k in kinds]
    weights = [KIND_WEIGHTS[k] for k in mix]
    t = rng.uniform(60.0, 600.0)
    while t < scenario.end:
        length = _log_uniform(rng, 60.0, 3 * 3600.0)
        episode: list[Fault] = []
        for _ in range(rng.choices((1, 2, 3), (6, 3, 1))[0]):
            kind = rng.choices(mix, weights)[0]
            start = t + rng.uniform(0.0, length / 2)
            end = min(start + _log_uniform(rng, 30.0, length), scenario.end)
            fault = _fault(rng, kind, start, end, origins, regions, config)
            struck = [f for f in episode if f.origins and f.kind in PROBE_KINDS]
            if (
                kind in ("human_edit", "human_delete", "human_ttl", "health_check")
                and struck
                and rng.random() < 0.7
            ):
                # People edit records during incidents: the origin in trouble, mid-incident.
                target = rng.choice(struck)
                when = rng.uniform(target.start, target.end)
                fault = Fault(
                    kind,
                    when,
                    when,
                    frozenset({rng.choice(sorted(target.origins))}),
                    weight=fault.weight,
                )
            if kind == "overrides_down":
                episode.extend(_unreadable_drain(rng, fault, origins))
            episode.append(fault)
        scenario.faults.extend(episode)
        t += length + _log_uniform(rng, 60.0, 2 * 3600.0)
    scenario.faults.sort(key=lambda f: f.start)
    return scenario


def _unreadable_drain(rng: random.Random, window: Fault, origins: list[Origin]) -> list[Fault]:
    """What makes a store that refuses reads dangerous: a drain the new daemon cannot read.

    The drain is in force (and written) before the store goes down and outlasts it;
    the daemon restarts early in the window, so its first rounds know no overrides.
    """
    one = rng.choice(origins)
    drain = Fault(
        "drain",
        max(0.0, window.start - rng.uniform(60.0, 300.0)),
        window.end + rng.uniform(30.0, 300.0),
        frozenset({(one.pool, one.id)}),
    )
    restart = window.start + rng.uniform(0.0, 60.0)
    return [drain, Fault("restart", restart, restart)]


def _fault(
    rng: random.Random,
    kind: str,
    start: float,
    end: float,
    origins: list[Origin],
    regions: list[str],
    config: Config,
) -> Fault:
    def of_region(region: str) -> frozenset[tuple[str, str]]:
        return frozenset((o.pool, o.id) for o in origins if o.region == region)

    def some() -> frozenset[tuple[str, str]]:
        picked = rng.sample(origins, rng.randint(1, 3))
        return frozenset((o.pool, o.id) for o in picked)

    one = rng.choice(origins)
    if kind == "outage":
        return Fault(kind, start, end, of_region(rng.choice(regions)), rng.choice(FAILING))
    if kind == "partial":
        return Fault(kind, start, end, some(), rng.choice(FAILING), p=rng.uniform(0.2, 0.9))
    if kind == "flap":
        h = one.health
        i = config.daemon.interval
        down = rng.choice([(h.fall + d) * i for d in (-1, 0, 1)] + [h.hold_down * 0.5])
        up = rng.choice(
            [(h.rise + d) * i for d in (-1, 0, 1)] + [h.hold_down * f for f in (0.5, 1.0, 1.5)]
        )
        return Fault(
            kind,
            start,
            end,
            frozenset({(one.pool, one.id)}),
            rng.choice(FAILING),
            down=max(down, i / 2),
            up=max(up, i / 2),
        )
    if kind in ("slow", "stale"):
        return Fault(kind, start, end, of_region(rng.choice(regions)), Outcome.TOO_OLD)
    if kind == "cutoff":
        return Fault(kind, start, end)
    if kind == "source_down":
        # The Region the canary is written in fails; the canaries it replicated to the
        # other Regions stop being refreshed and age together (world.SimProber).
        sources = sorted(
            {o.region for p in config.pools for o in p.origins if o.id == p.canary_source}
        )
        region = rng.choice(sources or regions)
        failing = [o for o in FAILING if o is not Outcome.TOO_OLD]
        return Fault(kind, start, end, of_region(region), rng.choice(failing))
    if kind in ("throttle", "busy", "r53_timeout", "lost_response"):
        return Fault(kind, start, end, p=rng.uniform(0.1, 0.8))
    if kind == "r53_down":
        return Fault(kind, start, min(end, start + rng.uniform(30.0, 900.0)), p=1.0)
    if kind == "creds_expiry":
        # Until every cached URL is re-signed with fresh credentials, or longer while the
        # credential provider itself hands out nothing new.
        length = rng.choice((rng.uniform(10.0, 60.0), rng.uniform(60.0, 600.0)))
        return Fault(kind, start, min(end, start + length), p=rng.uniform(0.2, 1.0))
    if kind == "clock_skew":
        return Fault(kind, start, end, p=rng.choice((1.0, rng.uniform(0.05, 0.9))))
    if kind in OVERRIDES_KINDS:
        return Fault(kind, start, end)
    if kind in ("drain", "pin"):
        return Fault(kind, start, end, frozenset({(one.pool, one.id)}))
    if kind == "dry_run":
        return Fault(kind, start, end)
    if kind == "overrides_down":
        # Long enough for a drained origin to pass its hold-down and `rise` probes.
        return Fault(kind, start, start + rng.uniform(180.0, 1200.0))
    if kind in ("human_edit", "human_delete"):
        return Fault(
            kind, start, start, frozenset({(one.pool, one.id)}), weight=rng.randint(0, 255)
        )
    if kind == "human_ttl":
        ttl = rng.choice((5, 60, 300, config.pool(one.pool).ttl + 1))
        return Fault(kind, start, start, frozenset({(one.pool, one.id)}), weight=ttl)
    if kind == "health_check":
        return Fault(kind, start, start, frozenset({(one.pool, one.id)}))
    return Fault("restart", start, start)
