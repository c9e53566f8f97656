"""An in-memory Route 53 transport as strict as AWS, with injected faults, for the simulation.

It stands where a boto3 Route 53 client stands (``list_resource_record_sets`` and
``change_resource_record_sets``) and judges batches the way AWS does, as
``failover.sandbox.route53_strict`` makes moto do: DELETE must match the current set
exactly, a duplicate CREATE is refused, weights are 0-255, a batch is all-or-nothing,
weighted sets of one name share a TTL and cannot sit beside a non-weighted set, and
listing is paginated. Faults raise what botocore raises: ``ClientError`` with AWS's
codes, and ``ReadTimeoutError`` for a request whose answer never came (applied or not).

It also watches the daemon's writes for what no daemon may do: leave a record with
every weight at 0, touch a set the config does not own, or overwrite a human's
change that no daemon has read (a lost update).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

MAX_WEIGHT = 255
ENDPOINT = "https://route53.amazonaws.com"

Key = tuple[str, str, str]  # (name with trailing dot, type, set identifier or "")
RRSet = dict[str, Any]


def fqdn(name: str) -> str:
    lowered = name.lower()
    return lowered if lowered.endswith(".") else lowered + "."


def key_of(rrset: Mapping[str, Any]) -> Key:
    return (fqdn(str(rrset["Name"])), str(rrset["Type"]), str(rrset.get("SetIdentifier", "")))


def _order(k: Key) -> tuple[tuple[str, ...], str, str]:
    return (tuple(reversed(k[0].rstrip(".").split("."))), k[1], k[2])


def _view(rrset: Mapping[str, Any]) -> tuple[object, ...]:
    values = sorted(str(r["Value"]) for r in rrset.get("ResourceRecords", []))
    return (rrset.get("TTL"), rrset.get("Weight"), tuple(values))


def _copy(rr: Mapping[str, Any]) -> RRSet:
    """A copy the caller may change freely (what deepcopy gives, at a fraction of its cost)."""
    out = dict(rr)
    if "ResourceRecords" in out:
        out["ResourceRecords"] = [dict(r) for r in out["ResourceRecords"]]
    return out


def client_error(code: str, message: str, operation: str, status: int = 400) -> Exception:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, operation)


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
        self.zones: dict[str, tuple[str, dict[Key, RRSet]]] = {}
        self.written: list[Written] = []
        self.unseen: dict[Key, RRSet | None] = {}  # human changes no daemon has read yet
        self.violations: list[tuple[str, str]] = []  # (invariant, detail)
        self.stats = Fake53Stats()

    # -- set-up and humans -----------------------------------------------------------
    def create_zone(self, zone_id: str, name: str) -> None:
        self.zones[zone_id] = (fqdn(name), {})

    def human(self, zone_id: str, changes: list[dict[str, Any]]) -> None:
        """A person (console, CloudFormation) changes records: applied without faults."""
        self._apply(zone_id, changes, "ChangeResourceRecordSets")
        _, sets = self.zones[zone_id]
        for c in changes:
            k = key_of(c["ResourceRecordSet"])
            held = sets.get(k)
            self.unseen[k] = None if held is None else _copy(held)

    def sets(self, zone_id: str) -> dict[Key, RRSet]:
        return self.zones[zone_id][1]

    def weight(self, zone_id: str, name: str, set_id: str) -> int | None:
        rr = self.zones[zone_id][1].get((fqdn(name), "TXT", set_id))
        return None if rr is None else int(rr["Weight"])

    # -- the API -----------------------------------------------------------------------
    def list_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        op = "ListResourceRecordSets"
        fault = self._fault(op)
        if fault in ("timeout", "lost"):
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=ENDPOINT)
        zone_id = str(kw["HostedZoneId"]).rsplit("/", 1)[-1]
        if zone_id not in self.zones:
            raise client_error("NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}", op)
        sets = self.zones[zone_id][1]
        items = int(kw.get("MaxItems", "300"))
        keys = sorted(sets, key=_order)
        if "StartRecordName" in kw:
            start = (
                fqdn(kw["StartRecordName"]),
                kw.get("StartRecordType", ""),
                kw.get("StartRecordIdentifier", ""),
            )
            keys = [k for k in keys if _order(k) >= _order(start)]
        page = keys[:items]
        self._seen(zone_id, kw, keys[items] if len(keys) > items else None)
        out: dict[str, Any] = {
            "ResourceRecordSets": [_copy(sets[k]) for k in page],
            "IsTruncated": len(keys) > items,
            "MaxItems": str(items),
        }
        if len(keys) > items:
            nxt = keys[items]
            out.update(NextRecordName=nxt[0], NextRecordType=nxt[1])
            if nxt[2]:
                out["NextRecordIdentifier"] = nxt[2]
        return out

    def _seen(self, zone_id: str, kw: Mapping[str, Any], following: Key | None) -> None:
        """A daemon that listed a range has read every change there, deletions included."""
        zone_name = self.zones[zone_id][0]
        low = (fqdn(kw["StartRecordName"]), "", "") if "StartRecordName" in kw else None
        for k in list(self.unseen):
            if k[0] != zone_name and not k[0].endswith("." + zone_name):
                continue
            if low is not None and _order(k) < _order(low):
                continue
            if following is not None and _order(k) >= _order(following):
                continue
            del self.unseen[k]

    def change_resource_record_sets(self, **kw: Any) -> dict[str, Any]:
        op = "ChangeResourceRecordSets"
        fault = self._fault(op)
        if fault == "timeout":
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=ENDPOINT)
        zone_id = str(kw["HostedZoneId"]).rsplit("/", 1)[-1]
        batch = kw["ChangeBatch"]
        changes: list[dict[str, Any]] = batch["Changes"]
        comment = str(batch.get("Comment", ""))
        before = dict(self.zones[zone_id][1]) if zone_id in self.zones else {}
        self._apply(zone_id, changes, op)
        self._judge(zone_id, before, changes, comment)
        self.written.append(
            Written(
                self.clock(),
                comment,
                [dict(c, ResourceRecordSet=_copy(c["ResourceRecordSet"])) for c in changes],
                comment.startswith("failover "),
                lost=fault == "lost",
            )
        )
        if fault == "lost":
            raise botocore.exceptions.ReadTimeoutError(endpoint_url=ENDPOINT)
        n = len(self.written)
        return {"ChangeInfo": {"Id": f"/change/C{n:013d}", "Status": "PENDING", "Comment": comment}}

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

    def _apply(self, zone_id: str, changes: list[dict[str, Any]], op: str) -> None:
        if zone_id not in self.zones:
            raise client_error("NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}", op)
        zone_name, current = self.zones[zone_id]
        state = dict(current)
        problems: list[str] = []
        touched: set[tuple[str, str]] = set()
        for change in changes:
            action, rr = change["Action"], change["ResourceRecordSet"]
            weight = rr.get("Weight")
            if weight is not None and not 0 <= int(weight) <= MAX_WEIGHT:
                raise client_error("InvalidInput", f"Invalid XML ; Weight {weight} > 255", op)
            k = key_of(rr)
            if k[0] != zone_name and not k[0].endswith("." + zone_name):
                raise client_error("InvalidChangeBatch", f"{k[0]} is not in {zone_name}", op)
            label = f"[name='{k[0]}', type='{k[1]}', set-identifier='{k[2]}']"
            found = state.get(k)
            if action == "CREATE" and found is not None:
                problems.append(
                    f"Tried to create resource record set {label} but it already exists"
                )
            elif action in ("CREATE", "UPSERT"):
                state[k] = _copy(dict(rr, Name=k[0]))
                touched.add(k[:2])
            elif action != "DELETE":
                raise client_error("InvalidInput", f"Invalid action {action}", op)
            elif found is None:
                problems.append(f"Tried to delete resource record set {label} but it was not found")
            elif _view(found) != _view(rr):
                problems.append(
                    f"Tried to delete resource record set {label} but the values provided "
                    "do not match the current values"
                )
            else:
                del state[k]
        for name, rtype in touched:
            group = [rr for k, rr in state.items() if k[:2] == (name, rtype)]
            weighted = [rr for rr in group if rr.get("Weight") is not None]
            if weighted and len(weighted) < len(group):
                problems.append(f"RRSet {name} {rtype}: weighted and non-weighted sets mixed")
            elif len({rr.get("TTL") for rr in weighted}) > 1:
                problems.append(
                    f"RRSet with DNS name {name} and type {rtype} cannot be created as "
                    "weighted sets must contain the same TTL."
                )
        if problems:
            raise client_error("InvalidChangeBatch", ", ".join(problems), op)
        self.zones[zone_id] = (zone_name, state)

    def _judge(
        self, zone_id: str, before: dict[Key, RRSet], changes: list[dict[str, Any]], comment: str
    ) -> None:
        """What a daemon's accepted batch must never have done."""
        if not comment.startswith("failover "):
            return
        after = self.zones[zone_id][1]
        deletes = {
            key_of(c["ResourceRecordSet"]): _view(c["ResourceRecordSet"])
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
                if was is None or deletes.get(k) != _view(was):
                    self.violations.append(
                        ("no_lost_update", f"{comment} overwrote a human change to {k} unread")
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
