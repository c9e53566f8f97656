"""The canary writer: refresh `written_at` in each pool's replication source bucket."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import boto3
import botocore.exceptions
import structlog

from failover.errors import FailoverError
from failover.model import Config, Origin

log = structlog.get_logger("failover.canary")


def body(now: float, writer: str | None = None) -> bytes:
    stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return (
        json.dumps({"written_at": stamp, "writer": writer or socket.gethostname()}) + "\n"
    ).encode()


def sources(config: Config, pool: str | None = None) -> list[Origin]:
    """The origin whose bucket replication copies from, for each pool that names one."""
    return [
        p.origin(p.canary_source)
        for p in config.pools
        if p.canary_source and (pool is None or p.name == pool)
    ]


def write(
    config: Config, now: float, session: boto3.Session | None = None, pool: str | None = None
) -> list[Origin]:
    """Write a fresh canary to every source bucket; returns where it wrote."""
    session = session or boto3.Session()
    written: list[Origin] = []
    for origin in sources(config, pool):
        client = session.client("s3", region_name=origin.region)
        try:
            client.put_object(
                Bucket=origin.bucket,
                Key=origin.canary,
                Body=body(now),
                ContentType="application/json",
                CacheControl="no-store",
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise FailoverError(f"canary write to s3://{origin.bucket}/{origin.canary}: {e}") from e
        log.info("canary_written", pool=origin.pool, origin=origin.id, bucket=origin.bucket)
        written.append(origin)
    return written
