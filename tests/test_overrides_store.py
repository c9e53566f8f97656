"""The overrides port: reads with a version, writes that are compare-and-swap, on file and S3."""

from __future__ import annotations

import os
import stat
import threading
import uuid
from pathlib import Path

import boto3
import pytest

from failover.errors import OverrideConflictError, OverrideError
from failover.model import Action, OriginKey, Override
from failover.overrides import FileStore, Overrides, S3Store, VersionedStore, open_store, update


def drain(origin: str) -> Override:
    key = OriginKey("www", origin)
    return Override(key, Action.DRAIN, f"ops-{origin}@host", 0.0, "maintenance")


def adding(o: Override):  # type: ignore[no-untyped-def]
    return lambda current: {**current, o.key: o}


def s3_store(endpoint: str) -> S3Store:
    bucket = f"ovr-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    store = open_store(f"s3://{bucket}/failover/overrides.json")
    assert isinstance(store, S3Store)
    return store


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VersionedStore:
    if request.param == "file":
        return FileStore(tmp_path / "state" / "overrides.json")
    return s3_store(request.getfixturevalue("endpoint"))


def test_a_store_never_written_reads_as_no_overrides_at_version_empty(
    store: VersionedStore,
) -> None:
    assert store.read() == ({}, "")


def test_a_write_from_a_stale_read_is_a_conflict_and_changes_nothing(
    store: VersionedStore,
) -> None:
    _, empty = store.read()
    store.write({drain("a").key: drain("a")}, empty)
    now, version = store.read()
    assert version != empty
    with pytest.raises(OverrideConflictError):
        store.write({drain("b").key: drain("b")}, empty)  # the first write happened since
    assert store.read() == (now, version)


def test_two_operators_draining_at_once_both_keep_their_drain(store: VersionedStore) -> None:
    """Each read-modify-write that loses the race reads again: no drain is lost silently."""
    first, _ = store.read()
    seen: Overrides = {}

    def racing(current: Overrides) -> Overrides:
        # The other operator writes between this one's read and its write, once.
        if not seen:
            seen.update(current)
            update(store, adding(drain("b")))
        return {**current, drain("a").key: drain("a")}

    update(store, racing)
    assert first == {}
    assert set(store.load()) == {drain("a").key, drain("b").key}


def test_many_writers_at_once_lose_nothing_on_the_file_store(tmp_path: Path) -> None:
    path = tmp_path / "overrides.json"
    origins = [f"o{i}" for i in range(8)]
    start = threading.Barrier(len(origins))
    errors: list[BaseException] = []

    def writer(origin: str) -> None:
        try:
            start.wait(timeout=10)
            update(FileStore(path), adding(drain(origin)), attempts=50)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(o,)) for o in origins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors
    assert {k.origin for k in FileStore(path).load()} == set(origins)


def test_a_race_lost_every_time_is_an_error_never_a_silent_loss(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "overrides.json")
    turns = iter(range(100))

    def always_overtaken(current: Overrides) -> Overrides:
        other = drain(f"x{next(turns)}")  # someone else writes something new each time
        FileStore(store.path).write({other.key: other}, store.read()[1])
        return {**current, drain("a").key: drain("a")}

    with pytest.raises(OverrideConflictError, match="kept changing"):
        update(store, always_overtaken, attempts=3)


def test_the_file_is_readable_by_the_daemons_user_whatever_the_writers_umask(
    tmp_path: Path,
) -> None:
    """Under systemd's DynamicUser the daemon runs as another user than `failover drain`."""
    old = os.umask(0o077)
    try:
        store = FileStore(tmp_path / "overrides.json")
        store.save({drain("a").key: drain("a")})
    finally:
        os.umask(old)
    mode = stat.S_IMODE(store.path.stat().st_mode)
    assert mode & stat.S_IROTH, oct(mode)


def test_a_damaged_file_is_an_error_not_an_empty_set(tmp_path: Path) -> None:
    path = tmp_path / "overrides.json"
    path.write_text("{not json")
    with pytest.raises(OverrideError, match="not a valid overrides document"):
        FileStore(path).read()
