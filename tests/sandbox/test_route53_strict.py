"""moto made strict judges batches as AWS does — by the one model — in-process and over HTTP."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from failover.sandbox import route53_model as model
from failover.sandbox import route53_strict

NAME = "origin.example.com."
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class World:
    """A Route 53 client and one empty hosted zone."""

    client: Any
    zone: str

    def change(self, *changes: dict[str, Any], comment: str | None = None) -> dict[str, Any]:
        batch: dict[str, Any] = {"Changes": list(changes)}
        if comment:
            batch["Comment"] = comment
        reply: dict[str, Any] = self.client.change_resource_record_sets(
            HostedZoneId=self.zone, ChangeBatch=batch
        )
        return reply

    def records(self, rtype: str = "TXT") -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=self.zone
        )
        return [rs for page in pages for rs in page["ResourceRecordSets"] if rs["Type"] == rtype]

    def values(self) -> dict[str | None, list[str]]:
        return {
            (rs["Name"] + "/" + rs.get("SetIdentifier", "")): [
                rr["Value"] for rr in rs["ResourceRecords"]
            ]
            for rs in self.records()
        }


def rrset(
    sid: str | None = "eu",
    value: str = "eu.s3",
    *,
    weight: int | None = 100,
    ttl: int = 60,
    name: str = NAME,
    values: list[str] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": name,
        "Type": "TXT",
        "TTL": ttl,
        "ResourceRecords": [{"Value": f'"{v}"'} for v in (values or [value])],
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


def rejected(world: World, *changes: dict[str, Any]) -> ClientError:
    before = world.records()
    with pytest.raises(ClientError) as caught:
        world.change(*changes)
    assert world.records() == before, "a rejected batch must leave the zone untouched"
    return caught.value


def code_and_message(error: ClientError) -> tuple[str, str]:
    return error.response["Error"]["Code"], error.response["Error"]["Message"]


def _new_world(client: Any, serial: list[int]) -> World:
    serial[0] += 1
    zone = client.create_hosted_zone(Name="example.com", CallerReference=f"zone-{serial[0]}")
    return World(client, zone["HostedZone"]["Id"])


@pytest.fixture
def strict() -> Iterator[None]:
    with _restored():
        route53_strict.install()
        yield


@pytest.fixture
def lax() -> Iterator[None]:
    with _restored():
        route53_strict.uninstall()
        assert not route53_strict.installed()
        yield


@contextlib.contextmanager
def _restored() -> Iterator[None]:
    """Leave the process as it was: other tests share a moto server that must stay strict."""
    was = route53_strict.installed()
    try:
        yield
    finally:
        if was:
            route53_strict.install()
        else:
            route53_strict.uninstall()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    yield f"http://{host}:{port}"
    moto_server.stop()


_serial = [0]


@pytest.fixture
def inproc() -> Iterator[World]:
    with mock_aws():
        yield _new_world(boto3.client("route53", region_name="us-east-1", **CREDENTIALS), _serial)


@pytest.fixture(params=["in-process", "server"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """The same zone either under mock_aws() or behind a moto server on loopback."""
    if request.param == "in-process":
        yield request.getfixturevalue("inproc")
        return
    endpoint = request.getfixturevalue("server")
    client = boto3.client("route53", region_name="us-east-1", endpoint_url=endpoint, **CREDENTIALS)
    yield _new_world(client, _serial)


# Batches AWS rejects whole, each after some setup. moto alone lets each change the zone.
def _stale_delete(w: World) -> list[dict[str, Any]]:
    w.change(create(rrset(value="old")))
    w.change(upsert(rrset(value="new")))
    return [delete(rrset(value="old")), create(rrset(value="mine"))]


def _delete_with_other_weight(w: World) -> list[dict[str, Any]]:
    w.change(create(rrset(weight=10)))
    return [delete(rrset(weight=20))]


def _delete_already_deleted(w: World) -> list[dict[str, Any]]:
    w.change(create(rrset()))
    w.change(create(rrset("us", "us.s3")))
    w.change(delete(rrset()))
    return [delete(rrset())]


def _create_existing(w: World) -> list[dict[str, Any]]:
    w.change(create(rrset(value="first")))
    return [create(rrset(value="second"))]


def _weight_over_255(w: World) -> list[dict[str, Any]]:
    return [create(rrset(weight=256))]


def _second_change_fails(w: World) -> list[dict[str, Any]]:
    return [create(rrset()), create(rrset("us", name="origin.other.org."))]


SCENARIOS: dict[str, tuple[Callable[[World], list[dict[str, Any]]], str, str]] = {
    "stale DELETE": (_stale_delete, "InvalidChangeBatch", "do not match the current values"),
    "DELETE with another Weight": (
        _delete_with_other_weight,
        "InvalidChangeBatch",
        "but the values provided do not match the current values",
    ),
    "DELETE of a deleted set": (
        _delete_already_deleted,
        "InvalidChangeBatch",
        (
            f"Tried to delete resource record set [name='{NAME}', type='TXT', "
            "set-identifier='eu'] but it was not found"
        ),
    ),
    "CREATE of an existing set": (
        _create_existing,
        "InvalidChangeBatch",
        (
            f"Tried to create resource record set [name='{NAME}', type='TXT', "
            "set-identifier='eu'] but it already exists"
        ),
    ),
    "Weight 256": (_weight_over_255, "InvalidInput", "maxInclusive '255'"),
    "a failing second change": (_second_change_fails, "InvalidChangeBatch", "not permitted"),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_moto_alone_accepts_or_half_applies_a_batch_aws_rejects(
    lax: None, inproc: World, scenario: str
) -> None:
    """Why the patch exists: without install() moto accepts each batch, or writes part of it."""
    setup, _, _ = SCENARIOS[scenario]
    offending = setup(inproc)
    before = inproc.records()
    try:
        inproc.change(*offending)
    except ClientError:
        assert inproc.records() != before, "moto failed the batch but had written part of it"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_strict_route53_rejects_the_whole_batch_with_the_aws_error(
    strict: None, world: World, scenario: str
) -> None:
    setup, code, message = SCENARIOS[scenario]
    error = rejected(world, *setup(world))
    assert code_and_message(error)[0] == code
    assert message in code_and_message(error)[1]


def test_delete_matches_names_in_any_case_with_or_without_the_dot_and_values_in_any_order(
    strict: None, world: World
) -> None:
    world.change(create(rrset(values=["a", "b"])))
    world.change(delete(rrset(values=["b", "a"], name="ORIGIN.Example.COM")))
    assert world.records() == []


def test_delete_then_create_in_one_batch_swaps_the_value(strict: None, world: World) -> None:
    world.change(create(rrset(value="old")), create(rrset("us", "us.s3")))
    world.change(delete(rrset(value="old")), create(rrset(value="new", weight=0)))
    assert world.values() == {f"{NAME}/eu": ['"new"'], f"{NAME}/us": ['"us.s3"']}


def test_of_two_writers_that_read_the_same_value_only_the_first_wins(
    strict: None, world: World
) -> None:
    world.change(create(rrset(value="read")))
    world.change(delete(rrset(value="read")), create(rrset(value="first")))
    error = rejected(world, delete(rrset(value="read")), create(rrset(value="second")))
    assert "do not match the current values" in code_and_message(error)[1]
    assert world.values() == {f"{NAME}/eu": ['"first"']}


@pytest.mark.parametrize("field", ["TTL", "values", "Weight"])
def test_delete_with_any_stale_field_is_rejected(strict: None, world: World, field: str) -> None:
    world.change(create(rrset(value="v", ttl=60, weight=5)))
    stale = {"TTL": rrset(value="v", ttl=61, weight=5), "values": rrset(value="w", weight=5)}
    stale["Weight"] = rrset(value="v", weight=6)
    error = rejected(world, delete(stale[field]))
    assert "do not match the current values" in code_and_message(error)[1]


def test_deleting_the_same_set_twice_in_one_batch_is_rejected(strict: None, world: World) -> None:
    world.change(create(rrset()), create(rrset("us")))
    error = rejected(world, delete(rrset()), delete(rrset()))
    assert "but it was not found" in code_and_message(error)[1]


def test_a_rejected_batch_reports_every_problem(strict: None, inproc: World) -> None:
    inproc.change(create(rrset()))
    error = rejected(inproc, create(rrset()), delete(rrset("us")))
    message = code_and_message(error)[1]
    assert "already exists" in message
    assert "not found" in message


def test_delete_removes_only_the_set_with_that_name_and_identifier(
    strict: None, world: World
) -> None:
    other = "origin2.example.com."
    world.change(create(rrset()), create(rrset(name=other)))
    world.change(delete(rrset()))
    assert world.values() == {f"{other}/eu": ['"eu.s3"']}


def test_moto_alone_deletes_every_set_sharing_the_identifier(lax: None, inproc: World) -> None:
    other = "origin2.example.com."
    inproc.change(create(rrset()), create(rrset(name=other)))
    inproc.change(delete(rrset()))
    assert inproc.values() == {}


def test_upsert_replaces_only_its_own_set(strict: None, world: World) -> None:
    world.change(create(rrset()), create(rrset("us", "us.s3")))
    world.change(upsert(rrset(value="eu2", weight=7)))
    assert world.values() == {f"{NAME}/eu": ['"eu2"'], f"{NAME}/us": ['"us.s3"']}


def test_weight_without_set_identifier_is_invalid_input(strict: None, inproc: World) -> None:
    error = rejected(inproc, create(rrset(sid=None)))
    assert code_and_message(error) == (
        "InvalidInput",
        (
            "Invalid request: Missing field 'SetIdentifier' in Change with [Action=CREATE, "
            f"Name={NAME}, Type=TXT, SetIdentifier=null]"
        ),
    )


def test_set_identifier_without_weight_is_invalid_input(strict: None, inproc: World) -> None:
    error = rejected(inproc, create(rrset(weight=None)))
    assert code_and_message(error)[0] == "InvalidInput"
    assert "Expected exactly one of [Weight" in code_and_message(error)[1]


def test_weighted_and_non_weighted_sets_of_one_name_cannot_coexist(
    strict: None, inproc: World
) -> None:
    inproc.change(create(rrset(sid=None, weight=None)))
    error = rejected(inproc, create(rrset()))
    assert "cannot be created as a non-weighted set exists" in code_and_message(error)[1]


def test_a_simple_record_can_become_weighted_in_one_batch(strict: None, inproc: World) -> None:
    inproc.change(create(rrset(sid=None, weight=None)))
    inproc.change(delete(rrset(sid=None, weight=None)), create(rrset()))
    assert list(inproc.values()) == [f"{NAME}/eu"]


def test_weighted_sets_must_share_one_ttl(strict: None, inproc: World) -> None:
    inproc.change(create(rrset(ttl=60)), create(rrset("us", ttl=60)))
    error = rejected(inproc, upsert(rrset(ttl=30)))
    assert "weighted sets must contain the same TTL" in code_and_message(error)[1]
    inproc.change(upsert(rrset(ttl=30)), upsert(rrset("us", ttl=30)))
    assert {rs["TTL"] for rs in inproc.records()} == {30}


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ([create(rrset(f"s{i}", values=[str(v) for v in range(100)])) for i in range(10)], True),
        ([create(rrset(f"s{i}", values=[str(v) for v in range(100)])) for i in range(11)], False),
        ([upsert(rrset(values=[str(v) for v in range(500)]))], True),
        ([upsert(rrset(values=[str(v) for v in range(501)]))], False),
    ],
    ids=["1000 records", "1100 records", "UPSERT of 500", "UPSERT of 501"],
)
def test_a_request_holds_at_most_1000_records_and_upsert_counts_twice(
    strict: None, inproc: World, changes: list[dict[str, Any]], accepted: bool
) -> None:
    if accepted:
        inproc.change(*changes)
        return
    error = rejected(inproc, *changes)
    assert code_and_message(error) == (
        "InvalidChangeBatch",
        "Number of records limit of 1000 exceeded.",
    )


@pytest.mark.parametrize(
    ("action", "count", "accepted"),
    [(create, 125, True), (create, 126, False), (upsert, 62, True), (upsert, 63, False)],
    ids=["CREATE 31875", "CREATE 32130", "UPSERT 2x15810", "UPSERT 2x16065"],
)
def test_a_request_holds_at_most_32000_value_characters_and_upsert_counts_twice(
    strict: None,
    inproc: World,
    action: Callable[[dict[str, Any]], dict[str, Any]],
    count: int,
    accepted: bool,
) -> None:
    values = [f"{i:03d}" + "x" * 250 for i in range(count)]  # 255 characters with the quotes
    change = action(rrset(values=values))
    if accepted:
        inproc.change(change)
        return
    error = rejected(inproc, change)
    assert code_and_message(error)[0] == "InvalidChangeBatch"
    assert "32000" in code_and_message(error)[1]


def test_each_change_gets_its_own_id_and_get_change_knows_it(strict: None, world: World) -> None:
    first = world.change(create(rrset()), comment="change-id 1")["ChangeInfo"]
    second = world.change(create(rrset("us")))["ChangeInfo"]
    assert first["Id"] != second["Id"]
    assert first["Id"].startswith("/change/C")
    assert first["Status"] == "PENDING"
    assert first["Comment"] == "change-id 1"
    polled = world.client.get_change(Id=first["Id"])["ChangeInfo"]
    assert (polled["Id"], polled["Status"]) == (first["Id"], "INSYNC")


def test_get_change_of_an_unknown_id_is_no_such_change(strict: None, world: World) -> None:
    with pytest.raises(ClientError) as caught:
        world.client.get_change(Id="/change/CNOSUCHCHANGE1")
    assert caught.value.response["Error"]["Code"] == "NoSuchChange"


def test_moto_alone_answers_every_change_with_one_id(lax: None, inproc: World) -> None:
    first = inproc.change(create(rrset()))["ChangeInfo"]["Id"]
    assert inproc.change(create(rrset("us")))["ChangeInfo"]["Id"] == first


def _pages(world: World) -> list[dict[str, Any]]:
    """Page by hand through StartRecordName/Type/Identifier, at most 20 pages."""
    params: dict[str, Any] = {"HostedZoneId": world.zone, "MaxItems": "2"}
    pages = []
    for _ in range(20):
        page = world.client.list_resource_record_sets(**params)
        pages.append(page)
        if not page["IsTruncated"]:
            break
        params["StartRecordName"] = page["NextRecordName"]
        params["StartRecordType"] = page["NextRecordType"]
        params.pop("StartRecordIdentifier", None)
        if "NextRecordIdentifier" in page:
            params["StartRecordIdentifier"] = page["NextRecordIdentifier"]
    return pages


def test_pages_of_weighted_sets_continue_by_next_record_identifier(
    strict: None, world: World
) -> None:
    world.change(*(create(rrset(f"s{i}", str(i))) for i in range(5)))
    pages = _pages(world)
    listed = [
        rs["SetIdentifier"]
        for page in pages
        for rs in page["ResourceRecordSets"]
        if rs["Type"] == "TXT"
    ]
    assert listed == [f"s{i}" for i in range(5)]
    assert any("NextRecordIdentifier" in page for page in pages)
    assert not pages[-1]["IsTruncated"]


def test_moto_alone_never_returns_next_record_identifier(lax: None, inproc: World) -> None:
    inproc.change(*(create(rrset(f"s{i}", str(i))) for i in range(5)))
    pages = _pages(inproc)
    assert not any("NextRecordIdentifier" in page for page in pages)
    assert pages[-1]["IsTruncated"], "moto repeats the same page until the bound stops it"


def test_install_twice_then_uninstall_restores_moto() -> None:
    with _restored():
        route53_strict.install()
        route53_strict.install()
        assert route53_strict.installed()
        route53_strict.uninstall()
        assert not route53_strict.installed()
        from moto.route53 import models

        assert models.Route53Backend.change_resource_record_sets.__module__ == "moto.route53.models"


# The patch delegates to the one model: the same batches, sent through moto (in-process and
# over HTTP with boto3), end exactly as they end in the model itself.
HC = {"HealthCheckId": "hc-1"}
SAME_AS_MODEL: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "DELETE without the set's HealthCheckId": (
        [create(rrset() | HC)],
        [delete(rrset()), create(rrset(weight=0))],
    ),
    "DELETE with another HealthCheckId": (
        [create(rrset() | HC)],
        [delete(rrset() | {"HealthCheckId": "hc-2"})],
    ),
    "DELETE with the HealthCheckId": ([create(rrset() | HC)], [delete(rrset() | HC)]),
    "weighted TTLs left different": (
        [create(rrset(ttl=60)), create(rrset("us", ttl=60))],
        [upsert(rrset(ttl=30))],
    ),
    "101 weighted sets": (
        [create(rrset(f"s{i}", str(i))) for i in range(100)],
        [create(rrset("s100", "100"))],
    ),
    "SetIdentifier of 129 characters": ([], [create(rrset("x" * 129))]),
    "SetIdentifier of 128 characters": ([], [create(rrset("x" * 128))]),
    "CAS after a failed batch": (
        [create(rrset(value="read"))],
        [delete(rrset(value="read")), create(rrset(value="new")), delete(rrset("us"))],
    ),
}


def _outcome(run: Callable[[list[dict[str, Any]]], Any]) -> Callable[..., tuple[str, str]]:
    def send(changes: list[dict[str, Any]]) -> tuple[str, str]:
        try:
            run(changes)
        except ClientError as e:
            return code_and_message(e)
        except model.Route53ModelError as e:
            return e.code, e.message
        return "accepted", ""

    return send


@pytest.mark.parametrize("case", list(SAME_AS_MODEL))
def test_moto_judges_each_batch_exactly_as_the_model_does(
    strict: None, world: World, case: str
) -> None:
    setup, batch = SAME_AS_MODEL[case]
    alone = model.Route53Model()
    alone.create_zone("Z", "example.com")
    for changes in (setup, batch):
        if not changes:
            continue
        by_moto = _outcome(lambda c: world.change(*c))(changes)
        by_model = _outcome(lambda c: alone.change("Z", c))(changes)
        assert by_moto == by_model
    assert world.records() == [
        rs for rs in alone.list("Z")["ResourceRecordSets"] if rs["Type"] == "TXT"
    ]


def test_get_change_stays_pending_for_the_installed_seconds(strict: None, world: World) -> None:
    route53_strict.install(insync_after=3600.0)
    try:
        change_id = world.change(create(rrset()))["ChangeInfo"]["Id"]
        assert world.client.get_change(Id=change_id)["ChangeInfo"]["Status"] == "PENDING"
    finally:
        route53_strict.install()
    assert world.client.get_change(Id=change_id)["ChangeInfo"]["Status"] == "INSYNC"
