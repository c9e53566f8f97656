"""Route 53's record API as one strict, pure, in-memory model: zones, atomic batches, changes, pages.

Every local Route 53 of the project judges change batches here: the sandbox's moto patch
(``route53_strict``), the simulation (``failover.sim.route53``) and the benchmarks
(``bench/r53count.py``), so they cannot drift apart. It imports neither moto nor boto3:
errors are ``Route53ModelError(code, message)``, which adapters turn into botocore's
``ClientError`` (``route53_client``) or moto's ``Route53ClientError``. It lives in
``failover.sandbox`` (the local AWS world) because the sandbox is its main user; that
package's ``__init__`` imports nothing, so the simulation and the benchmarks import this
module without moto (an optional extra).

A record set is a dict in boto3's shape (``Name``, ``Type``, ``SetIdentifier``, ``Weight``,
``TTL``, ``ResourceRecords``, ``HealthCheckId``, ``AliasTarget``, ``Region``, ``Failover``,
``GeoLocation``, ``MultiValueAnswer``, …); the model keeps every attribute it is given and
returns it when listed. Names are stored lower-case with their trailing dot.

Error texts seen in AWS replies: "but it was not found", "but the values provided do not
match the current values", "but it already exists", "weighted sets must contain the same
TTL", "a non-weighted set exists", "is not permitted in zone". Modelled on AWS's style
but unconfirmed: the InvalidInput texts, the two request-limit texts, the 100-set text,
"weighted sets exist", "another routing policy" and NoSuchChange's; match on codes. AWS's
guide says an UPSERT with another TTL rewrites the whole weighted group's TTL, but AWS has
been seen rejecting it; this model rejects it (change every set's TTL in one batch). The
API reference also says "You can only specify one ResourceRecord per weighted resource
record set", which AWS does not enforce for the record types the project uses; neither
does this model.
"""

from __future__ import annotations

import bisect
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

RRSet = dict[str, Any]
Key = tuple[str, str, str]  # (lower-case name with trailing dot, type, set identifier or "")

MAX_WEIGHT = 255
MAX_SET_IDENTIFIER = 128
MAX_WEIGHTED_SETS = 100
MAX_RECORDS_PER_REQUEST = 1000
MAX_VALUE_CHARS_PER_REQUEST = 32000
MAX_ITEMS = 300
ROUTING_FIELDS = ("Weight", "Region", "Failover", "GeoLocation", "MultiValueAnswer")
_KEY_FIELDS = frozenset(("Name", "Type", "SetIdentifier"))
_ID_ALPHABET = string.ascii_uppercase + string.digits


class Route53ModelError(Exception):
    """What Route 53 answers instead: an error code, its message and the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


# -- names, keys and the canonical form of a set ------------------------------------------
def fqdn(name: str) -> str:
    """Lower-case a DNS name and give it its trailing dot.

    "You can optionally include a trailing dot. If you omit the trailing dot, Amazon Route
    53 assumes that the domain name that you specify is fully qualified. This means that
    Route 53 treats www.example.com (without a trailing dot) and www.example.com. (with a
    trailing dot) as identical." (API reference, ResourceRecordSet, Name)
    """
    lowered = name.lower()
    return lowered if lowered.endswith(".") else lowered + "."


def key_of(rrset: Mapping[str, Any]) -> Key:
    """A set is identified by name, type and set identifier."""
    return (fqdn(str(rrset["Name"])), str(rrset["Type"]), str(rrset.get("SetIdentifier") or ""))


def zone_id_of(zone_id: str) -> str:
    """`/hostedzone/Z1` and `Z1` name the same zone."""
    return zone_id.rsplit("/", 1)[-1]


def canonical(rrset: Mapping[str, Any]) -> RRSet:
    """A fresh copy as Route 53 keeps it: name normalised, numbers as int, no empty fields."""
    out: RRSet = {}
    for name, given in rrset.items():
        if given is None:
            continue
        if name == "Name":
            out[name] = fqdn(str(given))
        elif name in ("Weight", "TTL"):
            out[name] = int(given)
        elif name == "ResourceRecords":
            if given:
                out[name] = [{"Value": str(r["Value"])} for r in given]
        else:
            out[name] = dict(given) if isinstance(given, dict) else given
    return out


def copy_set(rrset: Mapping[str, Any]) -> RRSet:
    """A copy the caller may change freely (deepcopy's effect at a fraction of its cost)."""
    out = dict(rrset)
    if "ResourceRecords" in out:
        out["ResourceRecords"] = [dict(r) for r in out["ResourceRecords"]]
    return out


def match_view(rrset: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Every attribute a DELETE must repeat: all but the key, values in any order.

    "To delete a resource record set, you must specify all the same values that you
    specified when you created it." (API reference, ChangeResourceRecordSets) — TTL,
    Weight, HealthCheckId, AliasTarget, routing fields and anything else the set holds.
    "In the case of a DELETE action, if the current value does not match the actual
    value, an error is returned." (API reference, ResourceRecord, Value)
    """
    view = canonical(rrset)
    values = sorted(r["Value"] for r in view.pop("ResourceRecords", []))
    items = [(k, repr(v)) for k, v in view.items() if k not in _KEY_FIELDS]
    return (*sorted(items), ("ResourceRecords", repr(values)))


def _label(key: Key) -> str:
    text = f"[name='{key[0]}', type='{key[1]}'"
    return text + (f", set-identifier='{key[2]}']" if key[2] else "]")


def _policy(rrset: Mapping[str, Any]) -> str:
    return next((f for f in ROUTING_FIELDS if rrset.get(f) is not None), "simple")


# -- one change batch ---------------------------------------------------------------------
def _check_name(name: str, code: str) -> None:
    """Characters 0-32 and 127-254 must be escaped (Developer Guide, DNS domain name format)."""
    prev = ""
    for char in name:
        if (ord(char) <= 32 or 127 < ord(char) < 255) and prev != "\\":
            raise Route53ModelError(
                code,
                "FATAL problem: UnsupportedCharacter (Value contains unsupported characters) "
                f"encountered with '{char}'",
            )
        prev = char


def check_request(
    zone_name: str, changes: Sequence[Mapping[str, Any]], limits: bool = True
) -> None:
    """Reject what AWS refuses before looking at the zone: malformed changes and limits."""
    records = chars = 0
    zone = fqdn(zone_name)
    for change in changes:
        action, rrset = change.get("Action"), change["ResourceRecordSet"]
        if action not in ("CREATE", "UPSERT", "DELETE"):
            raise Route53ModelError(
                "InvalidInput",
                f"Invalid XML ; cvc-enumeration-valid: Value '{action}' is not facet-valid "
                "with respect to enumeration '[CREATE, DELETE, UPSERT]'. It must be a value "
                "from the enumeration.",
            )
        _check_name(str(rrset["Name"]), "InvalidChangeBatch")
        name = fqdn(str(rrset["Name"]))
        if name != zone and not name.endswith("." + zone):
            raise Route53ModelError(
                "InvalidChangeBatch",
                f"RRSet with DNS name {rrset['Name']} is not permitted in zone {zone_name}",
            )
        sid = rrset.get("SetIdentifier")
        where = (
            f"Change with [Action={action}, Name={rrset['Name']}, Type={rrset['Type']}, "
            f"SetIdentifier={'null' if sid is None else sid}]"
        )
        # "Weight … Valid Range: Minimum value of 0. Maximum value of 255." (API reference,
        # ResourceRecordSet; botocore's model: ResourceRecordSetWeight min 0, max 255)
        weight = rrset.get("Weight")
        if weight is not None and not 0 <= int(weight) <= MAX_WEIGHT:
            facet = "maxInclusive" if int(weight) > MAX_WEIGHT else "minInclusive"
            bound = MAX_WEIGHT if int(weight) > MAX_WEIGHT else 0
            raise Route53ModelError(
                "InvalidInput",
                f"Invalid XML ; cvc-{facet}-valid: Value '{weight}' is not facet-valid with "
                f"respect to {facet} '{bound}' for type 'ResourceRecordSetWeight'.",
            )
        # "SetIdentifier … Length Constraints: Minimum length of 1. Maximum length of 128."
        # (API reference, ResourceRecordSet; botocore: ResourceRecordSetIdentifier 1-128)
        if sid is not None and not 1 <= len(str(sid)) <= MAX_SET_IDENTIFIER:
            raise Route53ModelError(
                "InvalidInput",
                f"Invalid XML ; cvc-{'maxLength' if sid else 'minLength'}-valid: Value "
                f"'{sid}' with length = '{len(str(sid))}' is not facet-valid with respect "
                f"to {'maxLength' if sid else 'minLength'} "
                f"'{MAX_SET_IDENTIFIER if sid else 1}' for type 'ResourceRecordSetIdentifier'.",
            )
        # "SetIdentifier — Resource record sets that have a routing policy other than
        # simple: An identifier that differentiates among multiple resource record sets
        # that have the same combination of name and type" (API reference)
        has_routing = any(rrset.get(f) is not None for f in ROUTING_FIELDS)
        if has_routing and not sid:
            raise Route53ModelError(
                "InvalidInput", f"Invalid request: Missing field 'SetIdentifier' in {where}"
            )
        if sid and not has_routing:
            raise Route53ModelError(
                "InvalidInput",
                "Invalid request: Expected exactly one of [Weight, Region, Failover, "
                f"GeoLocation, MultiValueAnswer], but found none in {where}",
            )
        values = [str(r["Value"]) for r in rrset.get("ResourceRecords") or []]
        twice = 2 if action == "UPSERT" else 1
        records += twice * len(values)
        chars += twice * sum(len(v) for v in values)
    if not limits:
        return
    # "A request cannot contain more than 1000 ResourceRecord elements. When the value of
    # the Action element is UPSERT, each ResourceRecord element is counted twice."
    # (Developer Guide, Quotas: number of elements and characters in
    # ChangeResourceRecordSets requests)
    if records > MAX_RECORDS_PER_REQUEST:
        raise Route53ModelError(
            "InvalidChangeBatch", f"Number of records limit of {MAX_RECORDS_PER_REQUEST} exceeded."
        )
    # "The sum of the number of characters (including spaces) in all Value elements in a
    # request cannot exceed 32,000 characters. When the value of the Action element is
    # UPSERT, each character in a Value element is counted twice." (same page)
    if chars > MAX_VALUE_CHARS_PER_REQUEST:
        raise Route53ModelError(
            "InvalidChangeBatch",
            f"Number of characters limit of {MAX_VALUE_CHARS_PER_REQUEST} exceeded.",
        )


def _group_problems(
    state: Mapping[Key, RRSet], written: Mapping[tuple[str, str], Key]
) -> list[str]:
    """Rules over all sets of one name+type, judged on the zone as the whole batch leaves it."""
    groups: dict[tuple[str, str], list[RRSet]] = {g: [] for g in written}
    for key, rrset in state.items():
        group = groups.get(key[:2])
        if group is not None:
            group.append(rrset)
    problems = []
    for (name, rtype), last_key in written.items():
        group = groups[(name, rtype)]
        last = state.get(last_key)
        head = f"RRSet with DNS name {name} and type {rtype}"
        if last_key[2]:
            head += f", SetIdentifier {last_key[2]}"
        policies = {_policy(rs) for rs in group}
        weighted = [rs for rs in group if rs.get("Weight") is not None]
        # "You can't create latency, failover, or geolocation resource record sets that
        # have the same values for the Name and Type elements as weighted resource record
        # sets." (API reference, ResourceRecordSet, Weight)
        if len(policies) > 1:
            if weighted and last is not None and last.get("Weight") is not None:
                what = "a non-weighted set exists"
            elif weighted:
                what = "weighted sets exist"
            else:
                what = "sets with another routing policy exist"
            problems.append(f"{head} cannot be created as {what} with the same name and type.")
        # "You can create a maximum of 100 weighted resource record sets that have the same
        # values for the Name and Type elements." (API reference, ResourceRecordSet, Weight)
        elif len(weighted) > MAX_WEIGHTED_SETS:
            problems.append(
                f"{head} cannot be created as a maximum of {MAX_WEIGHTED_SETS} weighted sets "
                "can have the same name and type."
            )
        # "All of the resource record sets in a group of weighted resource record sets must
        # have the same value for TTL." (API reference, ResourceRecordSet, TTL)
        elif len({rs["TTL"] for rs in weighted if "TTL" in rs}) > 1:
            problems.append(f"{head} cannot be created as weighted sets must contain the same TTL.")
    return problems


def apply_changes(
    zone_name: str,
    current: Mapping[Key, RRSet],
    changes: Sequence[Mapping[str, Any]],
    *,
    limits: bool = True,
) -> dict[Key, RRSet]:
    """The zone after the batch, or Route53ModelError with every problem found.

    "Change batches are considered transactional changes. Route 53 validates the changes
    in the request and then either makes all or none of the changes in the change batch
    request." (API reference, ChangeResourceRecordSets) The changes are applied in order to
    a copy, so DELETE then CREATE of one set is a compare-and-swap; "you cannot delete the
    same resource record set more than once in a single change batch" follows. Sets the
    batch does not touch are the very objects of `current`. `limits=False` skips the
    per-request limits (for seeding a large zone in one call).
    """
    check_request(zone_name, changes, limits)
    state = dict(current)
    written: dict[tuple[str, str], Key] = {}
    problems: list[str] = []
    for change in changes:
        action, rrset = change["Action"], change["ResourceRecordSet"]
        key = key_of(rrset)
        found = state.get(key)
        if action == "CREATE" and found is not None:
            # "CREATE: Creates a resource record set that has the specified values."
            # (API reference, Change) — not one that exists already.
            problems.append(
                f"Tried to create resource record set {_label(key)} but it already exists"
            )
        elif action in ("CREATE", "UPSERT"):
            # "UPSERT: If a resource record set doesn't already exist, Route 53 creates it.
            # If a resource record set does exist, Route 53 updates it with the values in
            # the request." (API reference, Change)
            state[key] = canonical(rrset)
            written[key[:2]] = key
        elif found is None:
            problems.append(
                f"Tried to delete resource record set {_label(key)} but it was not found"
            )
        elif match_view(found) != match_view(rrset):
            problems.append(
                f"Tried to delete resource record set {_label(key)} "
                "but the values provided do not match the current values"
            )
        else:
            del state[key]
            written[key[:2]] = key
    problems += _group_problems(state, written)
    if problems:
        raise Route53ModelError("InvalidChangeBatch", ", ".join(problems))
    return state


# -- listing ------------------------------------------------------------------------------
def sort_key(key: Key) -> tuple[str, str, str]:
    """Route 53's listing order.

    "ListResourceRecordSets sorts results first by DNS name with the labels reversed, for
    example: com.example.www. Note the trailing dot, which can change the sort order when
    the record name contains characters that appear before . (decimal 46) in the ASCII
    table. … When multiple records have the same DNS name, ListResourceRecordSets sorts
    results by the record type." (API reference, ListResourceRecordSets) Sets of one name
    and type follow by set identifier, which is how StartRecordIdentifier resumes.
    """
    return (".".join(reversed(key[0].rstrip(".").split("."))) + ".", key[1], key[2])


def page_keys(
    ordered: Sequence[Key],
    *,
    start_name: str | None = None,
    start_type: str | None = None,
    start_identifier: str | None = None,
    max_items: int | str | None = None,
) -> tuple[list[Key], Key | None, int]:
    """One page of `ordered` (sorted by `sort_key`): its keys, the next key and MaxItems.

    "If you specify Name but not Type: The results begin with the first resource record set
    in the list whose name is greater than or equal to Name. If you specify Type but not
    Name: Amazon Route 53 returns the InvalidInput error. If you specify both Name and Type:
    The results begin with the first resource record set in the list whose name is greater
    than or equal to Name, and whose type is greater than or equal to Type." StartRecord-
    Identifier: "If results were truncated for a given DNS name and type, specify the value
    of NextRecordIdentifier from the previous response to get the next resource record set
    that has the current DNS name and type." "ListResourceRecordSets returns up to 300
    resource record sets at a time" (API reference, ListResourceRecordSets)
    """
    if (start_type and not start_name) or (start_identifier and not start_type):
        raise Route53ModelError("InvalidInput", "The input is not valid")
    items = MAX_ITEMS if max_items is None else int(max_items)
    if items < 1:
        raise Route53ModelError("InvalidInput", "The input is not valid")
    items = min(items, MAX_ITEMS)
    first = 0
    if start_name:
        _check_name(start_name, "InvalidInput")
        start = sort_key((fqdn(start_name), start_type or "", start_identifier or ""))
        first = bisect.bisect_left(ordered, start, key=sort_key)
    page = list(ordered[first : first + items])
    following = ordered[first + items] if len(ordered) > first + items else None
    return page, following, items


def list_page(
    sets: Mapping[Key, RRSet],
    ordered: Sequence[Key] | None = None,
    **start: Any,
) -> dict[str, Any]:
    """A ListResourceRecordSets answer in boto3's shape (copies of the sets).

    `start` takes page_keys's keywords; `ordered` is `sets`' keys in `sort_key` order if
    the caller keeps them so.
    """
    keys = ordered if ordered is not None else sorted(sets, key=sort_key)
    page, following, items = page_keys(keys, **start)
    out: dict[str, Any] = {
        "ResourceRecordSets": [copy_set(sets[k]) for k in page],
        "IsTruncated": following is not None,
        "MaxItems": str(items),
    }
    if following is not None:
        # "NextRecordName … NextRecordType … NextRecordIdentifier: Resource record sets that
        # have a routing policy other than simple: If results were truncated for a given
        # DNS name and type, the value of SetIdentifier for the next resource record set
        # that has the current DNS name and type." (API reference)
        out.update(NextRecordName=following[0], NextRecordType=following[1])
        if following[2]:
            out["NextRecordIdentifier"] = following[2]
    return out


# -- changes and their propagation --------------------------------------------------------
def random_change_id() -> str:
    """An id in Route 53's form: C and 13 upper-case letters or digits."""
    return "C" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(13))


@dataclass
class _Change:
    id: str
    submitted_at: float
    comment: str
    insync: bool = False


@dataclass
class ChangeLog:
    """Change ids and their status: PENDING, then INSYNC.

    "PENDING indicates that the changes in this request have not propagated to all Amazon
    Route 53 DNS servers managing the hosted zone. This is the initial status of all change
    batch requests. INSYNC indicates that the changes have propagated to all Route 53 DNS
    servers managing the hosted zone." (API reference, GetChange) "Changes generally
    propagate to all Route 53 name servers managing the hosted zone within 60 seconds."
    (API reference, ChangeResourceRecordSets) A change is INSYNC once `insync_after`
    seconds of `clock` have passed since it was submitted, or once `settle()` says so;
    with the default 0 s, the first GetChange already finds it INSYNC.
    """

    clock: Callable[[], float] = time.time
    insync_after: float = 0.0
    new_id: Callable[[], str] = random_change_id
    changes: dict[str, _Change] = field(default_factory=dict)

    def submit(self, comment: str = "") -> dict[str, Any]:
        """Record a new change; its ChangeInfo as ChangeResourceRecordSets answers it."""
        change_id = self.new_id()
        while change_id in self.changes:
            change_id = self.new_id()
        change = _Change(change_id, self.clock(), comment)
        self.changes[change_id] = change
        return self._info(change, "PENDING")

    def get(self, change_id: str) -> dict[str, Any]:
        """GetChange: the ChangeInfo now, or NoSuchChange."""
        bare = change_id.rsplit("/", 1)[-1]
        change = self.changes.get(bare)
        if change is None:
            raise Route53ModelError("NoSuchChange", f"No change found with ID: {bare}", 404)
        synced = change.insync or self.clock() - change.submitted_at >= self.insync_after
        return self._info(change, "INSYNC" if synced else "PENDING")

    def settle(self, change_id: str | None = None) -> None:
        """Let one change (every change if None) be INSYNC from now on."""
        targets = (
            self.changes.values()
            if change_id is None
            else [self.changes[change_id.rsplit("/", 1)[-1]]]
        )
        for change in targets:
            change.insync = True

    @staticmethod
    def _info(change: _Change, status: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "Id": f"/change/{change.id}",
            "Status": status,
            "SubmittedAt": datetime.fromtimestamp(change.submitted_at, UTC),
        }
        if change.comment:
            info["Comment"] = change.comment
        return info


# -- the model ----------------------------------------------------------------------------
@dataclass
class _Zone:
    name: str
    sets: dict[Key, RRSet] = field(default_factory=dict)
    ordered: list[Key] | None = None  # sets' keys in listing order, rebuilt after a change


class Route53Model:
    """Hosted zones and their record sets, changed only by whole, valid batches.

    Thread-safe: one lock serialises batches and listings, as Route 53 applies one batch
    of a zone at a time.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        insync_after: float = 0.0,
        new_id: Callable[[], str] = random_change_id,
    ) -> None:
        self.zones: dict[str, _Zone] = {}
        self.changes = ChangeLog(clock, insync_after, new_id)
        self._lock = threading.RLock()

    def create_zone(self, zone_id: str, name: str) -> None:
        """An empty hosted zone (no NS or SOA: nothing here reads them)."""
        with self._lock:
            self.zones[zone_id_of(zone_id)] = _Zone(fqdn(name))

    def _zone(self, zone_id: str) -> _Zone:
        zone = self.zones.get(zone_id_of(zone_id))
        if zone is None:
            raise Route53ModelError(
                "NoSuchHostedZone", f"No hosted zone found with ID: {zone_id_of(zone_id)}", 404
            )
        return zone

    def sets(self, zone_id: str) -> Mapping[Key, RRSet]:
        """The zone's sets now, by key (the model's own objects: read, never change them)."""
        return self._zone(zone_id).sets

    def get(self, zone_id: str, key: Key) -> RRSet | None:
        """A copy of one set, or None."""
        held = self._zone(zone_id).sets.get(key)
        return None if held is None else copy_set(held)

    def change(
        self, zone_id: str, changes: Sequence[Mapping[str, Any]], comment: str = ""
    ) -> dict[str, Any]:
        """ChangeResourceRecordSets: apply the batch whole or raise; the new ChangeInfo."""
        with self._lock:
            zone = self._zone(zone_id)
            zone.sets = apply_changes(zone.name, zone.sets, changes)
            zone.ordered = None
            return self.changes.submit(comment)

    def seed(self, zone_id: str, rrsets: Iterable[Mapping[str, Any]]) -> None:
        """Set-up: UPSERT many sets in one batch, every rule but the per-request limits."""
        with self._lock:
            zone = self._zone(zone_id)
            batch = [{"Action": "UPSERT", "ResourceRecordSet": rr} for rr in rrsets]
            zone.sets = apply_changes(zone.name, zone.sets, batch, limits=False)
            zone.ordered = None

    def list(self, zone_id: str, **start: Any) -> dict[str, Any]:
        """ListResourceRecordSets; `start` takes start_name, start_type, start_identifier, max_items."""
        with self._lock:
            zone = self._zone(zone_id)
            if zone.ordered is None:
                zone.ordered = sorted(zone.sets, key=sort_key)
            return list_page(zone.sets, zone.ordered, **start)

    def get_change(self, change_id: str) -> dict[str, Any]:
        """GetChange."""
        with self._lock:
            return self.changes.get(change_id)

    def settle(self, change_id: str | None = None) -> None:
        """Let one change (or all) be INSYNC now."""
        with self._lock:
            self.changes.settle(change_id)
