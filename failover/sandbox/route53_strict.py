"""Make moto's Route 53 judge change batches the way AWS does: exact, atomic and state-based.

moto (5.2) checks a DELETE against its journal of past changes rather than the current
record, ignores Weight, deletes every record that shares a SetIdentifier, can leave half a
failed batch applied, accepts a duplicate CREATE and a Weight of 256, answers every change
with one fixed id, and never returns ``NextRecordIdentifier``. The daemon's compare-and-swap
(DELETE exactly what it read + CREATE the new value, in one batch) needs the real rules.
``install()`` patches moto's classes in place, so it holds under ``mock_aws()`` and in a
``ThreadedMotoServer`` started in the same process; ``uninstall()`` restores them.

=======================================  ===================================================
Property enforced                        Error (code: message)
=======================================  ===================================================
DELETE of a missing set                  InvalidChangeBatch: Tried to delete resource record
                                         set [name=…, type=…, set-identifier=…] but it was
                                         not found
DELETE must match every current field    InvalidChangeBatch: … but the values provided do
(TTL, Weight, values in any order,       not match the current values
alias, health check, routing fields);
Name case-insensitive, dot optional
CREATE of an existing (name, type, id)   InvalidChangeBatch: Tried to create resource record
                                         set […] but it already exists
UPSERT replaces that one set only        (no error)
Batch is all-or-nothing, applied in      every problem of the batch in one error; nothing
order on a copy (DELETE then CREATE of   is written unless all changes pass
the same set works)
Weight 0-255                             InvalidInput: Invalid XML ; cvc-maxInclusive-valid…
Weight needs SetIdentifier, and a        InvalidInput: Invalid request: Missing field
SetIdentifier needs a routing field      'SetIdentifier' … / Expected exactly one of […]
Weighted and non-weighted sets of one    InvalidChangeBatch: RRSet with DNS name … cannot be
name+type cannot coexist                 created as a non-weighted set exists …
Weighted sets of one name+type share     InvalidChangeBatch: RRSet with DNS name … cannot be
one TTL (checked after the whole batch)  created as weighted sets must contain the same TTL.
≤ 1,000 ResourceRecord elements and      InvalidChangeBatch: Number of records limit of 1000
≤ 32,000 value characters per request,   exceeded. / Number of characters limit of 32000
UPSERT counted twice                     exceeded.
Unique change ids ``/change/C…``;        ChangeResourceRecordSets answers PENDING; GetChange
GetChange knows them                     answers INSYNC, or NoSuchChange for an unknown id
Pagination of weighted sets              ListResourceRecordSets honours StartRecordIdentifier
                                         and returns NextRecordIdentifier
=======================================  ===================================================

Texts seen in AWS replies: "not found", "do not match the current values", "already
exists", "weighted sets must contain the same TTL", "a non-weighted set exists". Modelled on
AWS's style but unconfirmed: the InvalidInput texts, both limit texts (moto's own for
records), "weighted sets exist" and NoSuchChange's text; match on codes, not on these.
AWS's guide says an UPSERT with a different TTL rewrites the whole weighted group's TTL,
but AWS has been seen rejecting it; this module rejects it, so change every set's TTL in
one batch. Pagination: follow NextRecordName, NextRecordType and NextRecordIdentifier
(botocore's paginator does), never PageSize alone.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.route53 import models as r53_models
from moto.route53 import responses as r53_responses
from moto.route53.exceptions import (
    DnsNameInvalidForZone,
    InvalidActionValue,
    InvalidInput,
    Route53ClientError,
)
from moto.route53.utils import validate_domain_name

MAX_RECORDS_PER_REQUEST = 1000
MAX_VALUE_CHARS_PER_REQUEST = 32000
MAX_WEIGHT = 255
_ROUTING_FIELDS = ("Weight", "Region", "Failover", "GeoLocation", "MultiValueAnswer")
_ID_ALPHABET = string.ascii_uppercase + string.digits
_LOCK = threading.RLock()
_originals: dict[str, Callable[..., Any]] = {}

Key = tuple[str, str, str | None]


def _fqdn(name: str) -> str:
    """Lower-case a DNS name and give it its trailing dot: Route 53 compares names so."""
    lowered = name.lower()
    return lowered if lowered.endswith(".") else lowered + "."


def _key(rs: Any) -> Key:
    return (_fqdn(rs.name), rs.type, rs.set_identifier)


def _label(rs: Any) -> str:
    text = f"[name='{_fqdn(rs.name)}', type='{rs.type}'"
    return text + (f", set-identifier='{rs.set_identifier}']" if rs.set_identifier else "]")


def _view(rs: Any) -> dict[str, Any]:
    """Every field a DELETE must repeat exactly; resource record values in any order."""
    return {
        "TTL": rs.ttl,
        "Weight": rs.weight,
        "Region": rs.region,
        "Failover": rs.failover,
        "GeoLocation": rs.geo_location,
        "MultiValueAnswer": rs.multi_value_answer,
        "HealthCheckId": rs.health_check_id,
        "AliasTarget": rs.alias_target,
        "Values": sorted(rs.records or []),
    }


def _to_moto(rrset: dict[str, Any]) -> Any:
    fields = dict(rrset, Name=_fqdn(rrset["Name"]))
    fields["ResourceRecords"] = [rr["Value"] for rr in rrset.get("ResourceRecords") or []]
    # moto builds RecordSet the same way; its abstract CloudFormation hooks are never called.
    return r53_models.RecordSet(fields)  # type: ignore[abstract]


def _check_request(zone: Any, changes: list[dict[str, Any]]) -> None:
    """Reject what AWS refuses before looking at the zone: malformed changes and limits."""
    records = chars = 0
    for change in changes:
        action, rrset = change["Action"], change["ResourceRecordSet"]
        if action not in ("CREATE", "UPSERT", "DELETE"):
            raise InvalidActionValue(action)
        validate_domain_name(rrset["Name"], code="InvalidChangeBatch")
        name, zone_name = _fqdn(rrset["Name"]), _fqdn(zone.name)
        if name != zone_name and not name.endswith("." + zone_name):
            raise DnsNameInvalidForZone(name=rrset["Name"], zone_name=zone.name)
        where = (
            f"Change with [Action={action}, Name={rrset['Name']}, Type={rrset['Type']}, "
            f"SetIdentifier={rrset.get('SetIdentifier', 'null')}]"
        )
        weight = rrset.get("Weight")
        if weight is not None and not 0 <= int(weight) <= MAX_WEIGHT:
            raise InvalidInput(
                f"Invalid XML ; cvc-maxInclusive-valid: Value '{weight}' is not facet-valid "
                f"with respect to maxInclusive '{MAX_WEIGHT}' for type 'ResourceRecordSetWeight'."
            )
        has_routing = any(rrset.get(field) is not None for field in _ROUTING_FIELDS)
        if has_routing and not rrset.get("SetIdentifier"):
            raise InvalidInput(f"Invalid request: Missing field 'SetIdentifier' in {where}")
        if rrset.get("SetIdentifier") and not has_routing:
            raise InvalidInput(
                "Invalid request: Expected exactly one of [Weight, Region, Failover, "
                f"GeoLocation, MultiValueAnswer], but found none in {where}"
            )
        values = [rr["Value"] for rr in rrset.get("ResourceRecords") or []]
        factor = 2 if action == "UPSERT" else 1
        records += factor * len(values)
        chars += factor * sum(len(value) for value in values)
    if records > MAX_RECORDS_PER_REQUEST:
        raise Route53ClientError(
            "InvalidChangeBatch", f"Number of records limit of {MAX_RECORDS_PER_REQUEST} exceeded."
        )
    if chars > MAX_VALUE_CHARS_PER_REQUEST:
        raise Route53ClientError(
            "InvalidChangeBatch",
            f"Number of characters limit of {MAX_VALUE_CHARS_PER_REQUEST} exceeded.",
        )


def _group_problems(state: dict[Key, Any], written: dict[tuple[str, str], Any]) -> list[str]:
    """Rules over all sets of one name+type, judged on the zone as the batch leaves it."""
    problems = []
    for (name, rtype), last in written.items():
        group = [rs for key, rs in state.items() if key[:2] == (name, rtype)]
        weighted = [rs for rs in group if rs.weight is not None]
        head = f"RRSet with DNS name {name} and type {rtype}"
        if last.set_identifier:
            head += f", SetIdentifier {last.set_identifier}"
        if weighted and len(weighted) < len(group):
            what = "a non-weighted set exists" if last.weight is not None else "weighted sets exist"
            problems.append(f"{head} cannot be created as {what} with the same name and type.")
        elif len({rs.ttl for rs in weighted}) > 1:
            problems.append(f"{head} cannot be created as weighted sets must contain the same TTL.")
    return problems


def _simulate(current: Iterable[Any], changes: list[dict[str, Any]]) -> dict[Key, Any]:
    """Apply the batch in order to a copy of the zone; raise with every problem found."""
    state = {_key(rs): rs for rs in current}
    written: dict[tuple[str, str], Any] = {}
    problems = []
    for change in changes:
        action, new = change["Action"], _to_moto(change["ResourceRecordSet"])
        key = _key(new)
        found = state.get(key)
        if action == "CREATE" and found is not None:
            problems.append(
                f"Tried to create resource record set {_label(new)} but it already exists"
            )
        elif action in ("CREATE", "UPSERT"):
            state[key] = new
            written[key[:2]] = new
        elif found is None:
            problems.append(
                f"Tried to delete resource record set {_label(new)} but it was not found"
            )
        elif _view(found) != _view(new):
            problems.append(
                f"Tried to delete resource record set {_label(new)} "
                "but the values provided do not match the current values"
            )
        else:
            del state[key]
    problems += _group_problems(state, written)
    if problems:
        raise Route53ClientError("InvalidChangeBatch", ", ".join(problems))
    return state


def _strict_change_resource_record_sets(
    self: Any, zoneid: str, change_list: list[dict[str, Any]]
) -> None:
    zone = self.get_hosted_zone(zoneid)
    _check_request(zone, change_list)
    with _LOCK:
        zone.rrsets = list(_simulate(zone.rrsets, change_list).values())


def _changes(backend: Any) -> dict[str, dict[str, Any]]:
    registry: dict[str, dict[str, Any]] = backend.__dict__.setdefault("_strict_changes", {})
    return registry


def _strict_change_response(self: Any) -> Any:
    result = _originals["change_resource_record_sets"](self)
    change_id = "C" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(13))
    info = result.result["ChangeInfo"]
    info.update(Id=f"/change/{change_id}", Status="PENDING", SubmittedAt=datetime.now(UTC))
    comment = self._get_param("ChangeBatch.Comment")
    if comment:
        info["Comment"] = comment
    _changes(self.backend)[change_id] = dict(info)
    return result


def _strict_get_change(self: Any) -> Any:
    change_id = str(self._get_param("Id")).removeprefix("/change/")
    known = _changes(self.backend).get(change_id)
    if known is None:
        raise Route53ClientError("NoSuchChange", f"No change found with ID: {change_id}")
    return ActionResult({"ChangeInfo": dict(known, Status="INSYNC")})


def _order(rs: Any) -> tuple[str, str, str]:
    return (r53_models.reverse_domain_name(_fqdn(rs.name)), rs.type, rs.set_identifier or "")


def _strict_list(self: Any) -> Any:
    zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
    start_name = self._get_param("StartRecordName")
    start_type = self._get_param("StartRecordType")
    start_id = self._get_param("StartRecordIdentifier")
    max_items = self._get_int_param("MaxItems", 300)
    if start_type and not start_name:
        raise InvalidInput("The input is not valid")
    records = sorted(zone.rrsets, key=_order)
    if start_name:
        validate_domain_name(start_name)
        start = (
            r53_models.reverse_domain_name(_fqdn(start_name)),
            start_type or "",
            start_id or "",
        )
        records = [rs for rs in records if _order(rs) >= start]
    result: dict[str, Any] = {
        "ResourceRecordSets": records[:max_items],
        "IsTruncated": len(records) > max_items,
        "MaxItems": max_items,
    }
    if len(records) > max_items:
        following = records[max_items]
        result.update(NextRecordName=following.name, NextRecordType=following.type)
        if following.set_identifier:
            result["NextRecordIdentifier"] = following.set_identifier
    return ActionResult(result)


_PATCHES: dict[str, tuple[Any, Callable[..., Any]]] = {
    "backend_change": (r53_models.Route53Backend, _strict_change_resource_record_sets),
    "change_resource_record_sets": (r53_responses.Route53, _strict_change_response),
    "get_change": (r53_responses.Route53, _strict_get_change),
    "list_resource_record_sets": (r53_responses.Route53, _strict_list),
}


def _attribute(slot: str) -> str:
    return "change_resource_record_sets" if slot == "backend_change" else slot


def install() -> None:
    """Patch moto's Route 53 to be strict; calling it again changes nothing."""
    with _LOCK:
        for slot, (owner, replacement) in _PATCHES.items():
            if slot not in _originals:
                _originals[slot] = getattr(owner, _attribute(slot))
                setattr(owner, _attribute(slot), replacement)


def uninstall() -> None:
    """Restore moto's own Route 53 behaviour."""
    with _LOCK:
        for slot, (owner, _) in _PATCHES.items():
            if slot in _originals:
                setattr(owner, _attribute(slot), _originals.pop(slot))


def installed() -> bool:
    """Whether the strict behaviour is active."""
    return bool(_originals)
