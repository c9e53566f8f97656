"""Deliberately broken variants of the core, each of which the simulation must catch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from failover.aws.route53 import Route53Store, _to_rrset
from failover.core import evidence, health, policy
from failover.model import (
    Change,
    Desired,
    Guard,
    Health,
    Origin,
    OriginKey,
    Outcome,
    Override,
    Pool,
    ProbeResult,
)


def _no_fail_open(real: Callable[..., Desired]) -> Callable[..., Desired]:
    def decide(
        pool: Pool,
        health_: Mapping[str, Health],
        applied: Mapping[str, int | None],
        overrides: Mapping[str, Override],
        *,
        frozen: bool,
        now: float,
    ) -> Desired:
        d = real(pool, health_, applied, overrides, frozen=frozen, now=now)
        if not d.failed_open:
            return d
        decisions = tuple(
            policy._decide_origin(
                o, health_.get(o.id, Health()), applied.get(o.id), overrides.get(o.id), now
            )
            for o in pool.origins
        )
        return Desired(pool=pool.name, decisions=decisions)

    return decide


def _upsert_change(
    self: Route53Store,
    zone_id: str,
    changes: Sequence[Change],
    comment: str,
    guards: Sequence[Guard] = (),
) -> str:
    batch: list[Any] = [
        {"Action": "UPSERT", "ResourceRecordSet": _to_rrset(c.new)} for c in changes
    ]
    resp = self._call(
        "ChangeResourceRecordSets",
        self.client.change_resource_record_sets,
        {"HostedZoneId": zone_id, "ChangeBatch": {"Comment": comment[:256], "Changes": batch}},
    )
    return str(resp["ChangeInfo"]["Id"]).rsplit("/", 1)[-1]


def _absolute_age(
    origins: Sequence[Origin], results: Mapping[OriginKey, ProbeResult], **_: Any
) -> evidence.Freshness:
    """Canaries judged by absolute age, each alone, as the prober once did."""
    by_key = {o.key: o for o in origins}
    judged = {
        k: replace(r, outcome=Outcome.TOO_OLD)
        if r.outcome.healthy and r.age is not None and 0 < by_key[k].health.max_age < r.age
        else r
        for k, r in results.items()
    }
    return evidence.Freshness(judged, frozenset(), [])


# The faults each mutant needs to be exercised, and the simulated hours that suffice.
MIXES: dict[str, tuple[tuple[str, ...] | None, float]] = {
    "fail_open_disabled": (None, 60.0),
    "hold_down_ignored": (None, 60.0),
    "freeze_ignored": (("outage", "cutoff"), 60.0),
    "cas_replaced_by_upsert": (("flap", "outage", "partial", "human_edit", "human_delete"), 150.0),
    "freshness_absolute": (("source_down", "stale"), 60.0),
}
MUTANTS = {
    "fail_open_disabled": "the pool rule dropped: a pool whose origins all fail is not kept open",
    "hold_down_ignored": "an origin comes back as soon as it has `rise` successes",
    "freeze_ignored": "a blind prober never freezes writes",
    "cas_replaced_by_upsert": "changes are written as UPSERT, last writer wins",
    "freshness_absolute": "canaries judged by absolute age: the source's outage ages out every replica",
}


@contextmanager
def mutant(name: str) -> Iterator[None]:
    """Install one broken variant of the real code for the duration, then restore it."""
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, attr: str, value: object) -> None:
        saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, value)

    if name == "fail_open_disabled":
        patch(policy, "decide", _no_fail_open(policy.decide))
    elif name == "hold_down_ignored":
        patch(health, "held_down_until", lambda h: float("-inf"))
    elif name == "freeze_ignored":
        patch(evidence, "blind", lambda results: False)
    elif name == "cas_replaced_by_upsert":
        patch(Route53Store, "change", _upsert_change)
    elif name == "freshness_absolute":
        patch(evidence, "freshness", _absolute_age)
    else:
        raise KeyError(name)
    try:
        yield
    finally:
        for owner, attr, value in reversed(saved):
            setattr(owner, attr, value)
