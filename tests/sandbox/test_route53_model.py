"""The one Route 53 model judges batches, changes and listings by AWS's documented rules."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError

from failover.aws.route53 import RateLimiter, Route53Store
from failover.errors import ConflictError
from failover.model import Change, WeightedSet
from failover.sandbox.route53_client import ModelClient
from failover.sandbox.route53_model import Route53Model, Route53ModelError

ZONE = "Z1"
NAME = "origin.example.com."


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def rrset(
    sid: str | None = "eu",
    value: str = "eu.s3",
    *,
    weight: int | None = 100,
    ttl: int = 60,
    name: str = NAME,
    values: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": name,
        "Type": "TXT",
        "TTL": ttl,
        "ResourceRecords": [{"Value": f'"{v}"'} for v in (values or [value])],
        **extra,
    }
    if sid is not None:
        record["SetIdentifier"] = sid
    if weight is not None:
        record["Weight"] = weight
    return record


def create(record: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "CREATE", "ResourceRecordSet": record}


def upsert(record: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "UPSERT", "ResourceRecordSet": record}


def delete(record: dict[str, Any]) -> dict[str, Any]:
    return {"Action": "DELETE", "ResourceRecordSet": record}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def model(clock: Clock) -> Route53Model:
    m = Route53Model(clock=clock)
    m.create_zone(ZONE, "example.com")
    return m


def held(model: Route53Model) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {k: dict(v) for k, v in model.sets(ZONE).items()}


def refused(model: Route53Model, *changes: dict[str, Any]) -> Route53ModelError:
    """The batch fails and the zone is exactly as it was."""
    before = held(model)
    with pytest.raises(Route53ModelError) as caught:
        model.change(ZONE, list(changes))
    assert held(model) == before, "a refused batch must leave the zone untouched"
    return caught.value


# -- DELETE is a compare-and-swap ---------------------------------------------------------
def test_delete_of_the_exact_current_set_removes_it_whatever_the_name_case_or_value_order(
    model: Route53Model,
) -> None:
    model.change(ZONE, [create(rrset(values=["a", "b"]))])
    model.change(ZONE, [delete(rrset(values=["b", "a"], name="ORIGIN.Example.COM"))])
    assert held(model) == {}


@pytest.mark.parametrize(
    "stale",
    [
        rrset(ttl=61),
        rrset(weight=7),
        rrset(value="other"),
        rrset(HealthCheckId="hc-other"),
        rrset(),  # the current set has a health check; this DELETE leaves it out
    ],
    ids=["TTL", "Weight", "values", "another HealthCheckId", "no HealthCheckId"],
)
def test_delete_that_differs_in_any_attribute_is_refused(
    model: Route53Model, stale: dict[str, Any]
) -> None:
    model.change(ZONE, [create(rrset(HealthCheckId="hc-1"))])
    error = refused(model, delete(stale))
    assert error.code == "InvalidChangeBatch"
    assert error.message == (
        f"Tried to delete resource record set [name='{NAME}', type='TXT', "
        "set-identifier='eu'] but the values provided do not match the current values"
    )


def test_delete_that_repeats_the_health_check_id_is_accepted(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset(HealthCheckId="hc-1"))])
    model.change(ZONE, [delete(rrset(HealthCheckId="hc-1"))])
    assert held(model) == {}


def test_delete_of_a_missing_set_is_refused_as_not_found(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset("us"))])
    error = refused(model, delete(rrset()))
    assert (error.code, error.message) == (
        "InvalidChangeBatch",
        (
            f"Tried to delete resource record set [name='{NAME}', type='TXT', "
            "set-identifier='eu'] but it was not found"
        ),
    )


def test_deleting_one_set_twice_in_a_batch_is_refused(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset()), create(rrset("us"))])
    assert "but it was not found" in refused(model, delete(rrset()), delete(rrset())).message


def test_of_two_writers_that_read_the_same_set_only_the_first_swaps_it(
    model: Route53Model,
) -> None:
    model.change(ZONE, [create(rrset(value="read"))])
    model.change(ZONE, [delete(rrset(value="read")), create(rrset(value="first"))])
    error = refused(model, delete(rrset(value="read")), create(rrset(value="second")))
    assert "do not match the current values" in error.message
    assert model.sets(ZONE)[(NAME, "TXT", "eu")]["ResourceRecords"] == [{"Value": '"first"'}]


# -- CREATE and UPSERT --------------------------------------------------------------------
def test_create_of_an_existing_set_is_refused(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset(value="first"))])
    error = refused(model, create(rrset(value="second")))
    assert error.message == (
        f"Tried to create resource record set [name='{NAME}', type='TXT', "
        "set-identifier='eu'] but it already exists"
    )


def test_upsert_creates_or_replaces_only_its_own_set(model: Route53Model) -> None:
    model.change(ZONE, [upsert(rrset()), create(rrset("us", "us.s3"))])
    model.change(ZONE, [upsert(rrset(value="eu2", weight=7, HealthCheckId="hc-9"))])
    assert held(model) == {
        (NAME, "TXT", "eu"): rrset(value="eu2", weight=7, HealthCheckId="hc-9"),
        (NAME, "TXT", "us"): rrset("us", "us.s3"),
    }


# -- one batch is all or nothing ----------------------------------------------------------
def test_a_failing_second_change_leaves_the_first_unapplied(model: Route53Model) -> None:
    error = refused(model, create(rrset()), delete(rrset("us")))
    assert "but it was not found" in error.message
    assert held(model) == {}


def test_a_refused_batch_names_every_problem(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset())])
    message = refused(model, create(rrset()), delete(rrset("us"))).message
    assert "already exists" in message
    assert "not found" in message


def test_a_name_outside_the_zone_refuses_the_whole_batch(model: Route53Model) -> None:
    error = refused(model, create(rrset()), create(rrset("us", name="origin.other.org.")))
    assert (
        error.message
        == "RRSet with DNS name origin.other.org. is not permitted in zone example.com."
    )


# -- weights, identifiers and weighted groups ---------------------------------------------
@pytest.mark.parametrize(
    ("weight", "accepted"), [(0, True), (255, True), (256, False), (-1, False)]
)
def test_weight_is_between_0_and_255(model: Route53Model, weight: int, accepted: bool) -> None:
    if accepted:
        model.change(ZONE, [create(rrset(weight=weight))])
        assert model.sets(ZONE)[(NAME, "TXT", "eu")]["Weight"] == weight
        return
    assert refused(model, create(rrset(weight=weight))).code == "InvalidInput"


@pytest.mark.parametrize(
    ("sid", "accepted"), [("e", True), ("e" * 128, True), ("e" * 129, False), ("", False)]
)
def test_set_identifier_is_1_to_128_characters(
    model: Route53Model, sid: str, accepted: bool
) -> None:
    if accepted:
        model.change(ZONE, [create(rrset(sid))])
        assert list(model.sets(ZONE)) == [(NAME, "TXT", sid)]
        return
    assert refused(model, create(rrset(sid))).code == "InvalidInput"


def test_weight_needs_a_set_identifier_and_a_set_identifier_a_routing_policy(
    model: Route53Model,
) -> None:
    assert "Missing field 'SetIdentifier'" in refused(model, create(rrset(sid=None))).message
    assert "Expected exactly one of [Weight" in refused(model, create(rrset(weight=None))).message


def test_at_most_100_weighted_sets_share_a_name_and_type(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset(f"s{i}", str(i))) for i in range(100)])
    error = refused(model, create(rrset("s100", "100")))
    assert error.code == "InvalidChangeBatch"
    assert "a maximum of 100 weighted sets" in error.message
    model.change(ZONE, [create(rrset("t0", name="other.example.com."))])  # another name: fine


def test_a_batch_leaving_weighted_ttls_different_is_refused(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset(ttl=60)), create(rrset("us", ttl=60))])
    error = refused(model, upsert(rrset(ttl=30)))
    assert error.message == (
        f"RRSet with DNS name {NAME} and type TXT, SetIdentifier eu cannot be created as "
        "weighted sets must contain the same TTL."
    )


def test_a_batch_changing_every_weighted_ttl_together_is_accepted(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset(ttl=60)), create(rrset("us", ttl=60))])
    model.change(ZONE, [upsert(rrset(ttl=30)), upsert(rrset("us", ttl=30))])
    assert {rs["TTL"] for rs in model.sets(ZONE).values()} == {30}


def test_weighted_and_non_weighted_sets_of_one_name_and_type_cannot_coexist(
    model: Route53Model,
) -> None:
    model.change(ZONE, [create(rrset(sid=None, weight=None))])
    error = refused(model, create(rrset()))
    assert "cannot be created as a non-weighted set exists" in error.message
    model.change(ZONE, [delete(rrset(sid=None, weight=None)), create(rrset())])
    assert list(model.sets(ZONE)) == [(NAME, "TXT", "eu")]


# -- per-request limits -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ([create(rrset(f"s{i}", values=[str(v) for v in range(100)])) for i in range(10)], True),
        ([create(rrset(f"s{i}", values=[str(v) for v in range(101)])) for i in range(10)], False),
        ([upsert(rrset(values=[str(v) for v in range(500)]))], True),
        ([upsert(rrset(values=[str(v) for v in range(501)]))], False),
    ],
    ids=["1000 records", "1010 records", "UPSERT of 500", "UPSERT of 501"],
)
def test_a_request_holds_at_most_1000_records_and_upsert_counts_twice(
    model: Route53Model, changes: list[dict[str, Any]], accepted: bool
) -> None:
    if accepted:
        model.change(ZONE, changes)
        return
    error = refused(model, *changes)
    assert (error.code, error.message) == (
        "InvalidChangeBatch",
        "Number of records limit of 1000 exceeded.",
    )


@pytest.mark.parametrize(
    ("action", "chars", "accepted"),
    [(create, 32000, True), (create, 32001, False), (upsert, 16000, True), (upsert, 16001, False)],
)
def test_a_request_holds_at_most_32000_value_characters_and_upsert_counts_twice(
    model: Route53Model, action: Any, chars: int, accepted: bool
) -> None:
    values = ["x" * 200] * (chars // 200) + ["y" * (chars % 200)] * bool(chars % 200)
    record = rrset()
    record["ResourceRecords"] = [{"Value": v} for v in values]
    assert sum(len(v) for v in values) == chars
    if accepted:
        model.change(ZONE, [action(record)])
        return
    error = refused(model, action(record))
    assert (error.code, error.message) == (
        "InvalidChangeBatch",
        "Number of characters limit of 32000 exceeded.",
    )


# -- change ids and GetChange -------------------------------------------------------------
def test_every_batch_gets_its_own_change_id_answered_pending(model: Route53Model) -> None:
    ids = {model.change(ZONE, [upsert(rrset(weight=w))])["Id"] for w in range(20)}
    assert len(ids) == 20
    info = model.change(ZONE, [upsert(rrset(weight=1))], comment="failover c-1")
    assert info["Status"] == "PENDING"
    assert info["Comment"] == "failover c-1"
    assert info["Id"].startswith("/change/C")
    assert len(info["Id"].removeprefix("/change/")) == 14


def test_get_change_is_pending_until_the_configured_seconds_have_passed(clock: Clock) -> None:
    model = Route53Model(clock=clock, insync_after=30.0)
    model.create_zone(ZONE, "example.com")
    change_id = model.change(ZONE, [create(rrset())])["Id"]
    clock.t += 29.0
    assert model.get_change(change_id)["Status"] == "PENDING"
    clock.t += 1.0
    assert model.get_change(change_id)["Status"] == "INSYNC"


def test_a_pending_change_can_be_settled_by_the_caller(clock: Clock) -> None:
    model = Route53Model(clock=clock, insync_after=1e9)
    model.create_zone(ZONE, "example.com")
    first = model.change(ZONE, [create(rrset())])["Id"]
    second = model.change(ZONE, [create(rrset("us"))])["Id"]
    model.settle(first)
    assert model.get_change(first)["Status"] == "INSYNC"
    assert model.get_change(second)["Status"] == "PENDING"


def test_get_change_of_an_unknown_id_is_no_such_change(model: Route53Model) -> None:
    with pytest.raises(Route53ModelError) as caught:
        model.get_change("/change/CNOSUCHCHANGE1")
    assert (caught.value.code, caught.value.status) == ("NoSuchChange", 404)


# -- listing ------------------------------------------------------------------------------
def test_listing_orders_by_reversed_name_string_then_type_then_identifier(
    model: Route53Model,
) -> None:
    model.change(
        ZONE,
        [
            create(rrset(sid=None, weight=None, name="www.example.com.")),
            create(rrset(sid=None, weight=None, name="www-x.example.com.")),
            create(rrset("b", name="a.www.example.com.")),
            create(rrset("a", name="a.www.example.com.")),
            create(
                {
                    "Name": "www.example.com.",
                    "Type": "A",
                    "TTL": 60,
                    "ResourceRecords": [{"Value": "192.0.2.1"}],
                }
            ),
        ],
    )
    listed = [
        (rs["Name"], rs["Type"], rs.get("SetIdentifier", ""))
        for rs in model.list(ZONE)["ResourceRecordSets"]
    ]
    # "com.example.www-x." sorts before "com.example.www.": '-' (45) comes before '.' (46).
    assert listed == [
        ("www-x.example.com.", "TXT", ""),
        ("www.example.com.", "A", ""),
        ("www.example.com.", "TXT", ""),
        ("a.www.example.com.", "TXT", "a"),
        ("a.www.example.com.", "TXT", "b"),
    ]


def test_pages_resume_at_the_next_name_type_and_identifier(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset(f"s{i}", str(i), HealthCheckId=f"hc-{i}")) for i in range(5)])
    start: dict[str, Any] = {}
    pages = []
    for _ in range(10):
        page = model.list(ZONE, max_items="2", **start)
        pages.append(page)
        if not page["IsTruncated"]:
            break
        start = {
            "start_name": page["NextRecordName"],
            "start_type": page["NextRecordType"],
            "start_identifier": page["NextRecordIdentifier"],
        }
    assert [len(p["ResourceRecordSets"]) for p in pages] == [2, 2, 1]
    listed = [rs for p in pages for rs in p["ResourceRecordSets"]]
    assert listed == [rrset(f"s{i}", str(i), HealthCheckId=f"hc-{i}") for i in range(5)]
    assert pages[0]["MaxItems"] == "2"


def test_a_page_holds_at_most_300_sets(model: Route53Model) -> None:
    model.seed(ZONE, [rrset(sid=None, weight=None, name=f"n{i}.example.com.") for i in range(301)])
    page = model.list(ZONE, max_items=1000)
    assert (len(page["ResourceRecordSets"]), page["IsTruncated"], page["MaxItems"]) == (
        300,
        True,
        "300",
    )


def test_a_start_type_without_a_start_name_is_invalid_input(model: Route53Model) -> None:
    with pytest.raises(Route53ModelError) as caught:
        model.list(ZONE, start_type="TXT")
    assert caught.value.code == "InvalidInput"


def test_a_listed_set_is_a_copy(model: Route53Model) -> None:
    model.change(ZONE, [create(rrset())])
    model.list(ZONE)["ResourceRecordSets"][0]["ResourceRecords"][0]["Value"] = '"changed"'
    assert model.sets(ZONE)[(NAME, "TXT", "eu")]["ResourceRecords"] == [{"Value": '"eu.s3"'}]


def test_an_unknown_zone_is_no_such_hosted_zone(model: Route53Model) -> None:
    with pytest.raises(Route53ModelError) as caught:
        model.list("/hostedzone/ZNONE")
    assert (caught.value.code, caught.value.status) == ("NoSuchHostedZone", 404)


# -- through the boto3-shaped client, as the daemon drives it -----------------------------
def test_the_client_raises_botocore_client_errors_with_route53s_code(model: Route53Model) -> None:
    client = ModelClient(model)
    with pytest.raises(ClientError) as caught:
        client.change_resource_record_sets(
            HostedZoneId=f"/hostedzone/{ZONE}",
            ChangeBatch={"Changes": [delete(rrset())]},
        )
    assert caught.value.response["Error"]["Code"] == "InvalidChangeBatch"
    assert caught.value.operation_name == "ChangeResourceRecordSets"


def test_the_daemons_store_sees_a_stale_swap_as_a_conflict(model: Route53Model) -> None:
    store = Route53Store(
        ModelClient(model),  # type: ignore[arg-type]
        RateLimiter(1000.0),
        sleep=lambda s: None,
    )
    record = "origin.example.com"
    read = WeightedSet(record, "eu", 100, 60, ("eu.s3",))
    model.change(ZONE, [create(rrset())])
    store.change(ZONE, [Change("p", read, WeightedSet(record, "eu", 0, 60, ("eu.s3",)), "t")], "a")
    stale = Change("p", read, WeightedSet(record, "eu", 5, 60, ("eu.s3",)), "t")
    with pytest.raises(ConflictError):
        store.change(ZONE, [stale], "b")
    assert store.read(ZONE, [record])[record].sets["eu"].weight == 0


def _imported_roots(module: str) -> list[str]:
    code = (
        f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_model_imports_neither_moto_nor_boto() -> None:
    roots = set(_imported_roots("failover.sandbox.route53_model"))
    assert roots.isdisjoint({"moto", "boto3", "botocore"}), roots


def test_the_simulations_route53_imports_no_moto() -> None:
    roots = set(_imported_roots("failover.sim.route53"))
    assert "botocore" in roots  # it raises what botocore raises
    assert "moto" not in roots
