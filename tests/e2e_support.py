"""Running the real `failover` command against moto's server: buckets, config, polling."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from failover import canary
from failover.model import Pool
from tests.factories import make_pool

REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_buckets(prefix: str) -> dict[str, str]:
    """One bucket per region with a fresh canary; returns region → bucket."""
    out = {}
    for region in REGIONS:
        bucket = f"{prefix}-{region}"
        s3 = boto3.client("s3", region_name=region)
        kwargs: dict[str, Any] = {}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(Bucket=bucket, **kwargs)
        put_canary(bucket, region)
        out[region] = bucket
    return out


def pool_for(buckets: dict[str, str]) -> Pool:
    """The pool `write_config` describes for buckets from `make_buckets`."""
    prefix = next(iter(buckets.values())).rsplit("-", 3)[0]
    return make_pool(record="www.example.com", regions=tuple(buckets), ttl=5, bucket_prefix=prefix)


def put_canary(bucket: str, region: str) -> None:
    boto3.client("s3", region_name=region).put_object(
        Bucket=bucket, Key="_failover/canary.json", Body=canary.body(time.time(), "tests")
    )


def drop_canary(bucket: str, region: str) -> None:
    boto3.client("s3", region_name=region).delete_object(Bucket=bucket, Key="_failover/canary.json")


def write_config(
    path: Path,
    zone_id: str,
    buckets: dict[str, str],
    port: int,
    state: Path,
    record: str = "www.example.com",
    **health: object,
) -> None:
    h = {"timeout": 0.4, "fall": 2, "rise": 2, "hold_down": 1.0, **health}
    lines = [
        "[daemon]",
        "interval = 0.5",
        f'listen = "127.0.0.1:{port}"',
        'log_format = "json"',
        "resync = 5.0",
        "route53_rate = 20.0",
        f'overrides = "file://{state}/overrides.json"',
        "[health]",
        *(f"{k} = {json.dumps(v)}" for k, v in h.items()),
        "[[pools]]",
        'name = "www"',
        f'record = "{record}"',
        f'zone_id = "{zone_id}"',
        "ttl = 5",
    ]
    for region, bucket in buckets.items():
        lines += [
            "[[pools.origins]]",
            f'id = "{region}"',
            f'bucket = "{bucket}"',
            f'region = "{region}"',
            "weight = 100",
        ]
    path.write_text("\n".join(lines) + "\n")


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "failover", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or dict(os.environ),
        check=False,
    )


def aws_record(log: Path) -> Path:
    """Where `start` has the daemon record every AWS operation it makes (JSON lines)."""
    return log.with_suffix(".aws.jsonl")


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "failover", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "FAILOVER_AWS_AUDIT": str(aws_record(log))},
        )


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> float:
    """Poll until `check()` holds; returns the seconds it took. Fails the test on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
