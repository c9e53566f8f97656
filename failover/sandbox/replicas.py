"""N replicas of the daemon on one sandbox: each its own network path, one DynamoDB table.

Each replica reaches S3, Route 53 and the table through a fault proxy of its own, so a
fault can be injected per replica and per bucket (`break_path`), or on one replica's
path to the table (`break_table`); `break_region` breaks a bucket for every replica and
for the edge alike. The table is created on the sandbox's moto server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3

from failover.sandbox.observe import DaemonProcess, http_get
from failover.sandbox.s3proxy import DYNAMODB, S3FaultProxy
from failover.sandbox.sandbox_config import free_port
from failover.sandbox.world import CREDENTIALS, Sandbox


class Replicas:
    """The replicas' table, paths and configs; `start` runs one as `failover run`."""

    def __init__(
        self, sandbox: Sandbox, n: int, *, lease: float = 4.0, margin: float = 1.0, **config: object
    ) -> None:
        self.sandbox, self.n = sandbox, n
        self.table = f"{sandbox.prefix}-cluster"
        boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=sandbox.moto_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).create_table(
            TableName=self.table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.names = [f"replica-{i + 1}" for i in range(n)]
        self.paths = [S3FaultProxy(sandbox.moto_url) for _ in range(n)]
        self.listen = [f"127.0.0.1:{free_port()}" for _ in range(n)]
        self.configs: list[Path] = []
        for i, name in enumerate(self.names):
            text = sandbox.config_toml(listen=self.listen[i], **config)
            text += "\n".join(
                [
                    "",
                    "[cluster]",
                    f"table = {json.dumps(self.table)}",
                    'region = "us-east-1"',
                    f"replicas = {n}",
                    f"name = {json.dumps(name)}",
                    f"lease_seconds = {lease}",
                    f"lease_margin_seconds = {margin}",
                    "",
                ]
            )
            path = sandbox.dir / f"{name}.toml"
            path.write_text(text)
            self.configs.append(path)
        self.daemons: list[DaemonProcess | None] = [None] * n

    def env(self, i: int, base: dict[str, str] | None = None) -> dict[str, str]:
        """Replica i's environment: every AWS endpoint through its own path."""
        env = self.sandbox.child_env(base if base is not None else dict(os.environ))
        url = self.paths[i].url
        for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_ROUTE_53"):
            env[key] = url
        env["AWS_ENDPOINT_URL_DYNAMODB"] = url
        return env

    # -- faults -----------------------------------------------------------------------
    def break_path(self, i: int, region: str, kind: str) -> None:
        """Replica i's path to one Region's bucket misbehaves; nobody else's."""
        self.paths[i].break_target(self.sandbox.buckets[region], kind)

    def break_region(self, region: str, kind: str) -> None:
        """A Region's bucket misbehaves for every replica and for the edge."""
        self.sandbox.break_bucket(region, kind)
        for i in range(self.n):
            self.break_path(i, region, kind)

    def break_table(self, i: int, kind: str = "http_503") -> None:
        self.paths[i].break_target(DYNAMODB, kind)

    def heal(self) -> None:
        self.sandbox.heal()
        for p in self.paths:
            p.heal()

    # -- the replicas -----------------------------------------------------------------
    def start(self, i: int) -> DaemonProcess:
        d = DaemonProcess(self.configs[i], self.env(i))
        self.daemons[i] = d
        return d

    def status(self, i: int) -> dict[str, Any] | None:
        try:
            code, body = http_get(f"http://{self.listen[i]}/status", timeout=1.0)
        except OSError:
            return None
        if code != 200:
            return None
        doc: dict[str, Any] = json.loads(body)
        return doc

    def leader(self) -> int | None:
        """The replica that says it leads, among those running."""
        for i, d in enumerate(self.daemons):
            if d is None or not d.alive():
                continue
            doc = self.status(i)
            if doc and (doc.get("cluster") or {}).get("leading"):
                return i
        return None

    def close(self) -> None:
        for d in self.daemons:
            if d is not None:
                d.stop()
                d.kill()
        for p in self.paths:
            p.close()
