"""Operator overrides (drain, pin): kept in a local file or one S3 object that every daemon reads."""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlparse

import boto3
import botocore.config
import botocore.exceptions

from failover.errors import OverrideConflictError, OverrideError
from failover.model import Action, OriginKey, Override

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Overrides = dict[OriginKey, Override]


def encode(overrides: Mapping[OriginKey, Override]) -> bytes:
    doc = {
        "version": 1,
        "overrides": [
            {
                "pool": k.pool,
                "origin": k.origin,
                "action": o.action.value,
                "by": o.by,
                "at": o.at,
                "reason": o.reason,
            }
            for k, o in sorted(overrides.items())
        ],
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


# Far more than any real set of drains and pins (about 200 bytes each); a bigger
# document is refused before it is parsed.
MAX_BYTES = 1 << 20
_ACTIONS = {a.value for a in Action}


def decode(data: bytes, where: str) -> Overrides:
    """Parse an overrides document; a damaged or hostile one is an OverrideError, never an empty set.

    Hostile means anything: too big, nested deep enough to exhaust the parser's
    recursion (RecursionError), or of the wrong types anywhere.
    """
    if len(data) > MAX_BYTES:
        raise OverrideError(f"{where}: not a valid overrides document: over {MAX_BYTES} bytes")
    try:
        doc = json.loads(data)
    except RecursionError as e:
        raise OverrideError(f"{where}: not a valid overrides document: nested too deep") from e
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError included
        raise OverrideError(f"{where}: not a valid overrides document: {e}") from e
    problem = _shape(doc)
    if problem:
        raise OverrideError(f"{where}: not a valid overrides document: {problem}")
    out: Overrides = {}
    for item in doc["overrides"]:
        key = OriginKey(item["pool"], item["origin"])
        out[key] = Override(
            key=key,
            action=Action(item["action"]),
            by=item.get("by", ""),
            at=float(item.get("at", 0.0)),
            reason=item.get("reason", ""),
        )
    return out


def _shape(doc: object) -> str:
    """What is wrong with a parsed document's types ("" if nothing)."""
    if not isinstance(doc, dict):
        return f"a JSON object is expected, not {type(doc).__name__}"
    items = doc.get("overrides")
    if not isinstance(items, list):
        return '"overrides" must be a list'
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return f"overrides[{i}] must be an object"
        for name in ("pool", "origin", "action"):
            if not isinstance(item.get(name), str):
                return f"overrides[{i}].{name} must be a string"
        for name in ("by", "reason"):
            if not isinstance(item.get(name, ""), str):
                return f"overrides[{i}].{name} must be a string"
        at = item.get("at", 0.0)
        if isinstance(at, bool) or not isinstance(at, int | float) or math.isnan(at):
            return f"overrides[{i}].at must be a number"
        if item["action"] not in _ACTIONS:
            return f"overrides[{i}].action must be one of {sorted(_ACTIONS)}"
    return ""


class OverrideStore(Protocol):
    """What the daemon reads each round."""

    location: str

    def load(self) -> Overrides: ...


class VersionedStore(OverrideStore, Protocol):
    """The store's port for writers: every write is a compare-and-swap on a version.

    `read` returns the overrides and the version they were read at ("" when there
    is no document yet); `write` replaces them only if the version is still
    `expected`, else raises OverrideConflictError, so two operators never lose a drain.
    """

    def read(self) -> tuple[Overrides, str]: ...

    def write(self, overrides: Mapping[OriginKey, Override], expected: str) -> None: ...


def update(
    store: VersionedStore,
    change: Callable[[Overrides], Overrides | None],
    attempts: int = 5,
) -> Overrides | None:
    """Read, change, write back if nobody wrote meanwhile; on a lost race, again.

    `change` gets the current overrides and returns the new ones, or None to write
    nothing. A race lost `attempts` times is an error, never a silent loss.
    """
    for _ in range(attempts):
        current, version = store.read()
        new = change(dict(current))
        if new is None:
            return None
        try:
            store.write(new, version)
        except OverrideConflictError:
            continue
        return new
    raise OverrideConflictError(
        f"{store.location}: the overrides kept changing under us ({attempts} attempts); try again"
    )


def save(store: VersionedStore, overrides: Mapping[OriginKey, Override]) -> None:
    """Replace the overrides whatever they are (tests, the simulation)."""
    update(store, lambda _: dict(overrides))


# Readable by the daemon's user: under systemd's DynamicUser the CLI runs as another user.
FILE_MODE = 0o644


class FileStore:
    """Overrides in a local JSON file, replaced atomically (systemd's state directory).

    Writers take an exclusive lock on a lock file beside it, then compare the file's
    content with the version they read: the lock makes compare-and-replace one step.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = f"file://{path}"

    def load(self) -> Overrides:
        return self.read()[0]

    def read(self) -> tuple[Overrides, str]:
        data = self._bytes()
        if data is None:
            return {}, ""
        return decode(data, str(self.path)), _digest(data)

    def _bytes(self) -> bytes | None:
        try:
            with self.path.open("rb") as f:
                return f.read(MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as e:
            raise OverrideError(f"{self.path}: {e.strerror}") from e

    def write(self, overrides: Mapping[OriginKey, Override], expected: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = os.open(
                self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, FILE_MODE
            )
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                held = self._bytes()
                if (_digest(held) if held is not None else "") != expected:
                    raise OverrideConflictError(f"{self.path}: changed since it was read")
                fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".overrides.")
                with os.fdopen(fd, "wb") as f:
                    f.write(encode(overrides))
                    f.flush()
                    os.fchmod(f.fileno(), FILE_MODE)
                    os.fsync(f.fileno())
                Path(tmp).replace(self.path)
            finally:
                os.close(lock)  # releases the lock
        except OSError as e:
            raise OverrideError(f"{self.path}: {e.strerror}") from e

    def save(self, overrides: Mapping[OriginKey, Override]) -> None:
        save(self, overrides)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class S3Store:
    """Overrides in one S3 object, shared by every daemon of a deployment (ECS).

    Writes are conditional on the ETag read. AWS, "How to prevent object
    overwrites with conditional writes": "If the ETag values do not match, the
    operation returns a 412 Precondition Failed error", and with If-None-Match,
    "If the object already exists ... you receive a 412 Precondition Failed"; a
    concurrent conditional write may answer "409 Conflict". The writer needs
    s3:GetObject as well as s3:PutObject.
    """

    def __init__(self, bucket: str, key: str, client: S3Client) -> None:
        self.bucket = bucket
        self.key = key
        self.client = client
        self.location = f"s3://{bucket}/{key}"

    def load(self) -> Overrides:
        return self.read()[0]

    def read(self) -> tuple[Overrides, str]:
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self.key)
            data = resp["Body"].read(MAX_BYTES + 1)
        except botocore.exceptions.ClientError as e:
            # AWS, GetObject: "If you have the s3:ListBucket permission on the bucket,
            # Amazon S3 returns an HTTP status code 404 Not Found error. If you don't
            # have the s3:ListBucket permission, Amazon S3 returns an HTTP status code
            # 403 Access Denied error." Only a 404 proves there is no document: a 403
            # may hide a drain, so it is an error (daemon.yaml grants ListBucket).
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return {}, ""
            raise OverrideError(f"{self.location}: {e}") from e
        except botocore.exceptions.BotoCoreError as e:
            raise OverrideError(f"{self.location}: {e}") from e
        return decode(data, self.location), str(resp.get("ETag", ""))

    def write(self, overrides: Mapping[OriginKey, Override], expected: str) -> None:
        condition = {"IfMatch": expected} if expected else {"IfNoneMatch": "*"}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=encode(overrides),
                ContentType="application/json",
                **condition,  # type: ignore[arg-type]
            )
        except botocore.exceptions.ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412):
                raise OverrideConflictError(f"{self.location}: changed since it was read") from e
            raise OverrideError(f"{self.location}: {e}") from e
        except botocore.exceptions.BotoCoreError as e:
            raise OverrideError(f"{self.location}: {e}") from e

    def save(self, overrides: Mapping[OriginKey, Override]) -> None:
        save(self, overrides)


# The overrides read runs off the round on a lane with its own deadline; a bounded
# client keeps a hung or failing bucket from holding that lane for minutes
# (botocore's defaults are 60 s timeouts and several attempts).
S3_CLIENT = botocore.config.Config(
    connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 2, "mode": "standard"}
)


def open_store(url: str, session: boto3.Session | None = None) -> VersionedStore:
    """The store a `[daemon] overrides` URL names: file:///abs/path or s3://bucket/key."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3" and parsed.netloc and parsed.path.strip("/"):
        client = (session or boto3.Session()).client("s3", config=S3_CLIENT)
        return S3Store(parsed.netloc, parsed.path.lstrip("/"), client)
    raise OverrideError(f"{url}: overrides must be a file:///path or s3://bucket/key URL")
