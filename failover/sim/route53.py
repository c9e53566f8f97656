"""The simulation's Route 53: the project's one strict model, with injected faults and a judge.

It stands where a boto3 Route 53 client stands (``list_resource_record_sets`` and
``change_resource_record_sets``) and lets ``failover.sandbox.route53_model`` judge every
batch, as the sandbox's moto server does: DELETE must match the current set exactly, a
duplicate CREATE is refused, weights are 0-255, a batch is all-or-nothing, weighted sets
of one name share a TTL, and listing is paginated. Faults raise what botocore raises:
``ClientError`` with AWS's codes, and ``ReadTimeoutError`` for a request whose answer
never came (applied or not).

It also watches the daemon's writes for what no daemon may do: leave a record with
every weight at 0, touch a set the config does not own, or overwrite a human's
change that no daemon has read (a lost update).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from failover.sandbox.route53_client import ModelClient, client_error
from failover.sandbox.route53_model import (
    MAX_WEIGHT,
    Key,
    Route53Model,
    RRSet,
    copy_set,
    fqdn,
    key_of,
    match_view,
    sort_key,
)

# What the daemon writes of a set; anything else (HealthCheckId, …) it must repeat as read.
_OWNED = frozenset({"Name", "Type", "SetIdentifier", "Weight", "TTL", "ResourceRecords"})


def _unowned(rrset: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rrset.items() if k not in _OWNED and v is not None}


__all__ = ["MAX_WEIGHT", "FakeRoute53", "Written", "client_error", "fqdn", "key_of"]

ENDPOINT = "https://route53.amazonaws.com"


@dataclass
class Written:
    """A change batch the fake accepted."""

    at: float
    comment: str
    changes: list[dict[str, Any]]
    by_daemon: bool
    lost: bool = False  # applied, but its answer never reached the caller


@dataclass
class Fake53Stats:
    calls: Counter[str] = field(default_factory=Counter)  # by "operation:fault-or-ok"


class FakeRoute53:
    """Route 53's record API for a few zones, in memory; `fault(operation)` picks faults."""

    def __init__(
        self,
        clock: Callable[[], float],
        fault: Callable[[str], str | None] = lambda op: None,
        owned: Mapping[str, set[str]] | None = None,
    ) -> None:
        self.clock = clock
        self.fault = fault
        self.owned = {fqdn(n): ids for n, ids in (owned or {}).items()}
        serial = itertools.count(1)
        self.model = Route53Model(clock=clock, new_id=lambda: f"C{next(serial):013d}")
        self.client = ModelClient(self.model)
        self.written: list[Written] = []
        self.unseen: dict[Key, RRSet | None] = {}  # human changes no daemon has read yet
        self.violations: list[tuple[str, str]] = []  # (invariant, detail)
        self.human_changes = 0  # batches people applied
        self.stats = Fake53Stats()

    # -- set-up and humans -----------------------------------------------------------
    def create_zone(self, zone_id: str, name: str) -> None:
        self.model.create_zone(zone_id, name)

    def human(self, zone_id: str, changes: list[dict[str, Any]]) -> None:
        """A person (console, CloudFormation) changes records: applied without faults."""
        self.human_changes += 1
        self.client.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes, "Comment": "by hand"}
        )
        sets = self.model.sets(zone_id)
        for c in changes:
            k = key_of(c["ResourceRecordSet"])
            held = sets.get(k)
            self.unseen[k] = None if held is None else copy_set(held)

    def sets(self, zone_id: str) -> Mapping[Key, RRSet]:
        return self.model.sets(zone_id)

    def weight(self, zone_id: str, name: str, set_id: str) -> int | None:
        rr = self.model.sets(zone_id).get((fqdn(name), "TXT", set_id))
        return None if rr is None else int(rr["Weight"])

    # -- the API -----------------------------------------------------------------------
    def list_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        fault = self._fault("ListResourceRecordSets")
        if fault in ("timeout", "lost"):
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=ENDPOINT)
        page = self.client.list_resource_record_sets(**kw)
        following = None
        if page["IsTruncated"]:
            following = (
                str(page["NextRecordName"]),
                str(page["NextRecordType"]),
                str(page.get("NextRecordIdentifier", "")),
            )
        self._seen(str(kw["HostedZoneId"]), kw, following)
        return page

    def _seen(self, zone_id: str, kw: Mapping[str, Any], following: Key | None) -> None:
        """A daemon that listed a range has read every change there, deletions included."""
        zone_name = self.model.zones[zone_id.rsplit("/", 1)[-1]].name
        low = (fqdn(kw["StartRecordName"]), "", "") if "StartRecordName" in kw else None
        for k in list(self.unseen):
            if k[0] != zone_name and not k[0].endswith("." + zone_name):
                continue
            if low is not None and sort_key(k) < sort_key(low):
                continue
            if following is not None and sort_key(k) >= sort_key(following):
                continue
            del self.unseen[k]

    def change_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        op = "ChangeResourceRecordSets"
        fault = self._fault(op)
        if fault == "timeout":
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=ENDPOINT)
        zone_id = str(kw["HostedZoneId"])
        batch = kw["ChangeBatch"]
        changes: list[dict[str, Any]] = batch["Changes"]
        comment = str(batch.get("Comment", ""))
        zone = self.model.zones.get(zone_id.rsplit("/", 1)[-1])
        before = dict(zone.sets) if zone is not None else {}
        reply = self.client.change_resource_record_sets(**kw)
        self._judge(zone_id, before, changes, comment)
        self.written.append(
            Written(
                self.clock(),
                comment,
                [dict(c, ResourceRecordSet=copy_set(c["ResourceRecordSet"])) for c in changes],
                comment.startswith("failover "),
                lost=fault == "lost",
            )
        )
        if fault == "lost":
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=ENDPOINT)
        return reply

    def get_change(self, **kw: Any) -> dict[str, Any]:
        """GetChange, without faults: following a change decides nothing."""
        return self.client.get_change(**kw)

    # -- rules -------------------------------------------------------------------------
    def _fault(self, op: str) -> str | None:
        fault = self.fault(op)
        if fault == "busy" and op != "ChangeResourceRecordSets":
            fault = None
        self.stats.calls[f"{op}:{fault or 'ok'}"] += 1
        if fault == "throttle":
            raise client_error("Throttling", "Rate exceeded", op)
        if fault == "busy":
            raise client_error(
                "PriorRequestNotComplete",
                "The request was rejected because Route 53 was still processing a prior request.",
                op,
            )
        return fault

    def _judge_attributes(self, changes: list[dict[str, Any]], comment: str) -> None:
        """A daemon's swap keeps what it does not own, and never changes a TTL with a weight."""
        deleted = {
            key_of(c["ResourceRecordSet"]): c["ResourceRecordSet"]
            for c in changes
            if c["Action"] == "DELETE"
        }
        retimed = reweighted = False
        for c in changes:
            if c["Action"] != "CREATE":
                continue
            new = c["ResourceRecordSet"]
            old = deleted.get(key_of(new))
            if old is None:
                continue
            if _unowned(old) != _unowned(new):
                self.violations.append(
                    ("unowned_attributes_kept", f"{comment} changed {key_of(new)}: {old} → {new}")
                )
            retimed |= old.get("TTL") != new.get("TTL")
            reweighted |= old.get("Weight") != new.get("Weight")
        if retimed and reweighted:
            self.violations.append(
                ("ttl_change_alone", f"{comment} changed TTLs and weights in one batch")
            )

    def _judge(
        self, zone_id: str, before: dict[Key, RRSet], changes: list[dict[str, Any]], comment: str
    ) -> None:
        """What a daemon's accepted batch must never have done."""
        if not comment.startswith("failover "):
            return
        after = self.model.sets(zone_id)
        deletes = {
            key_of(c["ResourceRecordSet"]): match_view(c["ResourceRecordSet"])
            for c in changes
            if c["Action"] == "DELETE"
        }
        for c in changes:
            k = key_of(c["ResourceRecordSet"])
            owned = self.owned.get(k[0])
            if owned is not None and k[2] not in owned:
                self.violations.append(("unknown_set_untouched", f"{comment} touched {k}"))
            if k in self.unseen:
                was = before.get(k)
                if was is None or deletes.get(k) != match_view(was):
                    self.violations.append(
                        ("no_lost_update", f"{comment} overwrote a human change to {k} unread")
                    )
        self._judge_attributes(changes, comment)
        for k, was in before.items():
            check = was.get("HealthCheckId")
            if check is not None and (after.get(k) or {}).get("HealthCheckId") != check:
                self.violations.append(
                    ("health_check_kept", f"{comment} dropped {k}'s health check {check}")
                )
        names = {key_of(c["ResourceRecordSet"])[:2] for c in changes}
        for name, rtype in names:
            weights = [
                int(rr["Weight"])
                for k, rr in after.items()
                if k[:2] == (name, rtype) and rr.get("Weight") is not None
            ]
            if not weights or any(weights):
                continue
            self.violations.append(("never_all_zero", f"{comment} left {name} all zero"))
