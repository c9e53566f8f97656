"""Operator overrides (drain, pin): kept in a local file or one S3 object that every daemon reads."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlparse

import boto3
import botocore.exceptions

from failover.errors import OverrideError
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


def decode(data: bytes, where: str) -> Overrides:
    """Parse an overrides document; a damaged one is an error, never an empty set."""
    try:
        doc = json.loads(data)
        out: Overrides = {}
        for item in doc["overrides"]:
            key = OriginKey(str(item["pool"]), str(item["origin"]))
            out[key] = Override(
                key=key,
                action=Action(item["action"]),
                by=str(item.get("by", "")),
                at=float(item.get("at", 0.0)),
                reason=str(item.get("reason", "")),
            )
    except (ValueError, KeyError, TypeError) as e:
        raise OverrideError(f"{where}: not a valid overrides document: {e}") from e
    return out


class OverrideStore(Protocol):
    location: str

    def load(self) -> Overrides: ...

    def save(self, overrides: Mapping[OriginKey, Override]) -> None: ...


class FileStore:
    """Overrides in a local JSON file, replaced atomically (systemd's state directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = f"file://{path}"

    def load(self) -> Overrides:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise OverrideError(f"{self.path}: {e.strerror}") from e
        return decode(data, str(self.path))

    def save(self, overrides: Mapping[OriginKey, Override]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".overrides.")
            with os.fdopen(fd, "wb") as f:
                f.write(encode(overrides))
                f.flush()
                os.fsync(f.fileno())
            Path(tmp).replace(self.path)
        except OSError as e:
            raise OverrideError(f"{self.path}: {e.strerror}") from e


class S3Store:
    """Overrides in one S3 object, shared by every daemon of a deployment (ECS)."""

    def __init__(self, bucket: str, key: str, client: S3Client) -> None:
        self.bucket = bucket
        self.key = key
        self.client = client
        self.location = f"s3://{bucket}/{key}"

    def load(self) -> Overrides:
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=self.key)
            data = resp["Body"].read()
        except botocore.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return {}
            raise OverrideError(f"{self.location}: {e}") from e
        except botocore.exceptions.BotoCoreError as e:
            raise OverrideError(f"{self.location}: {e}") from e
        return decode(data, self.location)

    def save(self, overrides: Mapping[OriginKey, Override]) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=encode(overrides),
                ContentType="application/json",
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise OverrideError(f"{self.location}: {e}") from e


def open_store(url: str, session: boto3.Session | None = None) -> OverrideStore:
    """The store a `[daemon] overrides` URL names: file:///abs/path or s3://bucket/key."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3" and parsed.netloc and parsed.path.strip("/"):
        client = (session or boto3.Session()).client("s3")
        return S3Store(parsed.netloc, parsed.path.lstrip("/"), client)
    raise OverrideError(f"{url}: overrides must be a file:///path or s3://bucket/key URL")
