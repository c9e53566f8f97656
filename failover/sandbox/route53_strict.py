"""Make moto's Route 53 judge change batches the way AWS does, by delegating to the one model.

moto (5.2) checks a DELETE against its journal of past changes rather than the current
record, ignores Weight, deletes every record that shares a SetIdentifier, can leave half a
failed batch applied, accepts a duplicate CREATE and a Weight of 256, answers every change
with one fixed id, and never returns ``NextRecordIdentifier``. The daemon's compare-and-swap
(DELETE exactly what it read + CREATE the new value, in one batch) needs the real rules.
``install()`` patches moto's classes in place so that ChangeResourceRecordSets,
ListResourceRecordSets and GetChange are judged by ``failover.sandbox.route53_model`` —
the same rules the simulation and the benchmarks use (see that module for each rule and
its error). It holds under ``mock_aws()`` and in a ``ThreadedMotoServer`` started in the
same process; ``uninstall()`` restores moto. ``watch(zone)`` makes it keep every batch
accepted for that zone, in the order applied, with its comment: ``journal(zone)`` (the
cluster's race test audits epochs with it).

moto keeps the zone's sets as its own ``RecordSet`` objects (CloudFormation and its other
calls read them): each batch converts them to the model's dicts, lets the model apply the
batch to a copy, and converts back only the sets the batch wrote. moto drops attributes it
does not know (GeoProximityLocation, CidrRoutingConfig); the model cannot restore them.
Pagination: follow NextRecordName, NextRecordType and NextRecordIdentifier (botocore's
paginator does), never PageSize alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.route53 import models as r53_models
from moto.route53 import responses as r53_responses
from moto.route53.exceptions import Route53ClientError

from failover.sandbox import route53_model as model
from failover.sandbox.route53_model import ChangeLog, Key, Route53ModelError, RRSet

_LOCK = threading.RLock()
_originals: dict[str, Callable[..., Any]] = {}
_settings: dict[str, float] = {"insync_after": 0.0}
_local = threading.local()  # the batch's comment, from the API layer to the backend


@dataclass(frozen=True)
class Applied:
    """One batch Route 53 accepted, in the order it was applied: what an observer audits."""

    at: float  # time.monotonic() of this process when it was applied
    zone_id: str
    comment: str
    changes: tuple[tuple[str, RRSet], ...]  # (action, set) as sent, canonical
    before: Mapping[Key, RRSet | None]  # every set the batch touched, as it was


_journal: list[Applied] = []
_watched: set[str] = set()  # zone ids whose batches the journal keeps


def _to_dict(rs: Any) -> RRSet:
    """A moto RecordSet as the model's dict (every attribute moto keeps)."""
    records = [{"Value": v if isinstance(v, str) else str(v)} for v in rs.records or []]
    return model.canonical(
        {
            "Name": rs.name,
            "Type": rs.type,
            "SetIdentifier": rs.set_identifier,
            "Weight": rs.weight,
            "Region": rs.region,
            "Failover": rs.failover,
            "GeoLocation": rs.geo_location,
            "MultiValueAnswer": rs.multi_value_answer,
            "HealthCheckId": rs.health_check_id,
            "AliasTarget": rs.alias_target,
            "TTL": rs.ttl,
            "ResourceRecords": records,
        }
    )


def _to_moto(rrset: RRSet) -> Any:
    fields = dict(rrset)
    fields["ResourceRecords"] = [rr["Value"] for rr in rrset.get("ResourceRecords") or []]
    # moto builds RecordSet the same way; its abstract CloudFormation hooks are never called.
    return r53_models.RecordSet(fields)  # type: ignore[abstract]


def _held(zone: Any) -> tuple[dict[Key, RRSet], dict[Key, Any]]:
    sets: dict[Key, RRSet] = {}
    objects: dict[Key, Any] = {}
    for rs in zone.rrsets:
        as_dict = _to_dict(rs)
        key = model.key_of(as_dict)
        sets[key], objects[key] = as_dict, rs
    return sets, objects


def _moto_error(e: Route53ModelError) -> Route53ClientError:
    # moto takes the HTTP status from the error's shape in AWS's service model.
    return Route53ClientError(e.code, e.message)


def _strict_change_resource_record_sets(
    self: Any, zoneid: str, change_list: list[dict[str, Any]]
) -> None:
    zone = self.get_hosted_zone(zoneid)
    with _LOCK:
        sets, objects = _held(zone)
        try:
            after = model.apply_changes(zone.name, sets, change_list)
        except Route53ModelError as e:
            raise _moto_error(e) from e
        zone.rrsets = [
            objects[key] if sets.get(key) is rrset else _to_moto(rrset)
            for key, rrset in after.items()
        ]
        if model.zone_id_of(zone.id) in _watched:
            sent = tuple(
                (str(c["Action"]), model.canonical(c["ResourceRecordSet"])) for c in change_list
            )
            touched = {model.key_of(rrset): sets.get(model.key_of(rrset)) for _, rrset in sent}
            comment = str(getattr(_local, "comment", "") or "")
            _journal.append(Applied(time.monotonic(), zone.id, comment, sent, touched))


def _changes(backend: Any) -> ChangeLog:
    log: ChangeLog = backend.__dict__.setdefault("_strict_changes", ChangeLog())
    log.insync_after = _settings["insync_after"]
    return log


def _strict_change_response(self: Any) -> Any:
    comment = self._get_param("ChangeBatch.Comment") or ""
    _local.comment = str(comment)
    try:
        result = _originals["change_resource_record_sets"](self)
    finally:
        _local.comment = ""
    with _LOCK:
        result.result["ChangeInfo"] = _changes(self.backend).submit(str(comment))
    return result


def _strict_get_change(self: Any) -> Any:
    try:
        with _LOCK:
            info = _changes(self.backend).get(str(self._get_param("Id")))
    except Route53ModelError as e:
        raise _moto_error(e) from e
    return ActionResult({"ChangeInfo": info})


def _strict_list(self: Any) -> Any:
    zone = self.backend.get_hosted_zone(self._get_param("HostedZoneId"))
    with _LOCK:
        sets, objects = _held(zone)
        ordered = sorted(sets, key=model.sort_key)
        try:
            page, following, items = model.page_keys(
                ordered,
                start_name=self._get_param("StartRecordName"),
                start_type=self._get_param("StartRecordType"),
                start_identifier=self._get_param("StartRecordIdentifier"),
                max_items=self._get_param("MaxItems"),
            )
        except Route53ModelError as e:
            raise _moto_error(e) from e
    result: dict[str, Any] = {
        "ResourceRecordSets": [objects[key] for key in page],
        "IsTruncated": following is not None,
        "MaxItems": items,
    }
    if following is not None:
        result.update(NextRecordName=following[0], NextRecordType=following[1])
        if following[2]:
            result["NextRecordIdentifier"] = following[2]
    return ActionResult(result)


_PATCHES: dict[str, tuple[Any, Callable[..., Any]]] = {
    "backend_change": (r53_models.Route53Backend, _strict_change_resource_record_sets),
    "change_resource_record_sets": (r53_responses.Route53, _strict_change_response),
    "get_change": (r53_responses.Route53, _strict_get_change),
    "list_resource_record_sets": (r53_responses.Route53, _strict_list),
}


def _attribute(slot: str) -> str:
    return "change_resource_record_sets" if slot == "backend_change" else slot


def install(insync_after: float = 0.0) -> None:
    """Patch moto's Route 53 to be strict; calling it again changes only `insync_after`.

    GetChange reports a change INSYNC `insync_after` seconds after it was submitted.
    """
    with _LOCK:
        _settings["insync_after"] = insync_after
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


def watch(zone_id: str) -> None:
    """From now on, keep every batch accepted for this zone in the journal."""
    with _LOCK:
        _watched.add(model.zone_id_of(zone_id))


def journal(zone_id: str) -> list[Applied]:
    """Every batch Route 53 accepted for a watched zone, in order (none refused)."""
    bare = model.zone_id_of(zone_id)
    with _LOCK:
        return [a for a in _journal if model.zone_id_of(a.zone_id) == bare]


def installed() -> bool:
    """Whether the strict behaviour is active."""
    return bool(_originals)
