"""The overrides port: reads with a version, writes that are compare-and-swap, on file and S3."""

from __future__ import annotations

import os
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from failover.errors import OverrideConflictError, OverrideError
from failover.model import Action, OriginKey, Override
from failover.overrides import (
    MAX_BYTES,
    S3_CLIENT,
    FileStore,
    Overrides,
    S3Store,
    VersionedStore,
    decode,
    encode,
    open_store,
    update,
)
from failover.sandbox.faults import OVERRIDES_FAULTS, overrides_fault
from failover.sandbox.s3proxy import Fault, S3FaultProxy


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


# -- reads that fail are errors, never "no overrides" -------------------------------------
@pytest.fixture
def proxied(endpoint: str) -> Iterator[tuple[S3Store, S3FaultProxy]]:
    """An S3 store whose requests cross the sandbox's fault proxy on their way to moto."""
    with S3FaultProxy(endpoint) as proxy:
        bucket = f"ovr-{uuid.uuid4().hex[:10]}"
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
        client = boto3.client(
            "s3", region_name="us-east-1", endpoint_url=proxy.url, config=S3_CLIENT
        )
        yield S3Store(bucket, "failover/overrides.json", client), proxy
        client.close()


def test_an_s3_object_never_written_is_no_overrides_when_s3_says_404(
    proxied: tuple[S3Store, S3FaultProxy],
) -> None:
    store, _ = proxied
    assert store.read() == ({}, "")


def test_s3_refusing_the_read_403_is_an_error_never_no_overrides(
    proxied: tuple[S3Store, S3FaultProxy],
) -> None:
    """Without s3:ListBucket, S3 answers 403 for a missing object: that proves nothing.

    AWS, GetObject: "If you don't have the s3:ListBucket permission, Amazon S3 returns
    an HTTP status code 403 Access Denied error." A drain may be in force behind it.
    """
    store, proxy = proxied
    store.save({drain("a").key: drain("a")})
    proxy.break_target(store.bucket, overrides_fault("refuse"))
    with pytest.raises(OverrideError, match=r"AccessDenied|403"):
        store.read()
    with pytest.raises(OverrideError):
        store.load()


def test_a_garbled_s3_object_is_an_error_never_no_overrides(
    proxied: tuple[S3Store, S3FaultProxy],
) -> None:
    store, proxy = proxied
    proxy.break_target(store.bucket, overrides_fault("garbled"))
    with pytest.raises(OverrideError, match="not a valid overrides document"):
        store.read()


def test_every_overrides_fault_of_the_sandbox_has_a_proxy_kind() -> None:
    assert set(OVERRIDES_FAULTS) == {"refuse", "slow", "hang", "garbled"}
    for name in OVERRIDES_FAULTS:
        Fault.of(overrides_fault(name))  # raises for a kind the proxy does not know
    with pytest.raises(ValueError, match="unknown overrides fault"):
        overrides_fault("melt")


def _read_as_nobody(store: FileStore) -> str:
    """What `store.read()` gives in a child process that cannot read the file.

    Root reads any file whatever its mode, so the child drops to nobody first.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            os.close(r)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                got = f"read {store.read()!r}"
            except OverrideError as e:
                got = f"OverrideError {e}"
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                got = f"{type(e).__name__} {e}"
            os.write(w, got.encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        out = f.read().decode()
    os.waitpid(pid, 0)
    return out


def test_a_file_the_daemon_may_not_read_is_an_error_never_no_overrides(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "overrides.json")
    store.save({drain("a").key: drain("a")})
    store.path.chmod(0)
    got = _read_as_nobody(store)
    assert got.startswith("OverrideError"), got
    assert "Permission denied" in got


HOSTILE = {
    "nested 1,000 deep": b"[" * 1000 + b"]" * 1000,
    "nested 100,000 deep": b'{"overrides": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "over the size limit": b'{"overrides": [], "pad": "' + b"x" * MAX_BYTES + b'"}',
    "not an object": b"[]",
    "a string": b'"overrides"',
    "overrides not a list": b'{"overrides": {"pool": "www"}}',
    "an item not an object": b'{"overrides": [1]}',
    "pool not a string": b'{"overrides": [{"pool": ["www"], "origin": "a", "action": "drain"}]}',
    "origin missing": b'{"overrides": [{"pool": "www", "action": "drain"}]}',
    "unknown action": b'{"overrides": [{"pool": "www", "origin": "a", "action": "melt"}]}',
    "at not a number": b'{"overrides": [{"pool": "www", "origin": "a", "action": "drain", "at": "x"}]}',
    "at is true": b'{"overrides": [{"pool": "www", "origin": "a", "action": "drain", "at": true}]}',
    "reason not a string": b'{"overrides": [{"pool": "www", "origin": "a", "action": "pin", "reason": {}}]}',
    "not UTF-8": b"\xff\xfe\x00garbage",
    "empty": b"",
}


@pytest.mark.parametrize("data", list(HOSTILE.values()), ids=list(HOSTILE))
def test_a_hostile_document_is_a_clear_override_error(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(OverrideError, match="not a valid overrides document"):
        decode(data, "test")
    path = tmp_path / "overrides.json"
    path.write_bytes(data)
    with pytest.raises(OverrideError, match="not a valid overrides document"):
        FileStore(path).read()


def test_a_valid_document_round_trips() -> None:
    doc = {drain("a").key: drain("a"), drain("b").key: drain("b")}
    assert decode(encode(doc), "test") == doc
