"""The CloudFront Functions router in the sandbox: edge_function/router.js under Node, per request.

Each request of the stream is handed to `node edge_function/test/drive.mjs` (one
long-lived process, JSON lines) with the store's content as it is now; the function's
choice (an origin, or an origin group of two, or the default target) is then fetched
from the sandbox's S3 through the fault proxy the way CloudFront would: the group's
second origin is asked only when the first fails with one of the group's status codes or
does not answer. The default target is itself a group of two Regions, as deployed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from failover.core import kvs
from failover.sandbox.kvs_server import KvsServer
from failover.sandbox.observe import Hit
from failover.sandbox.world import REGIONS, Sandbox

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "edge_function" / "test" / "drive.mjs"
REGISTER = ROOT / "edge_function" / "test" / "register.mjs"
DEFAULT_GROUP = (f"s3-{REGIONS[0]}", f"s3-{REGIONS[1]}")  # the cache behaviour's target
POOL = "www"
ARN = "arn:aws:cloudfront::123456789012:key-value-store/5a9d8e2f-0000-4000-8000-00000000demo"


class NodeMissingError(RuntimeError):
    """Node.js, or the function's harness, is not there to run the function."""


def node_problem() -> str | None:
    """Why the function cannot run here (None: it can)."""
    if shutil.which("node") is None:
        return (
            "`failover demo --router function` runs edge_function/router.js under Node.js, "
            "and no `node` is on the PATH: install Node.js 20 or later (e.g. apt-get install "
            "nodejs) and run it again"
        )
    if not DRIVER.is_file():
        return f"{DRIVER} is missing: the function's harness runs from a repository checkout"
    return None


def seed(server: KvsServer, regions: tuple[str, ...] = REGIONS, weight: int = 100) -> None:
    """The store as a deployment leaves it: the pool's key with every Region at `weight`."""
    value = kvs.Value(1, tuple((f"s3-{r}", weight) for r in regions))
    server.put(POOL, kvs.encode(value))


class FunctionStream:
    """A steady stream of viewer requests through the function, each fetched from S3."""

    def __init__(self, sandbox: Sandbox, store: KvsServer, every: float = 0.05) -> None:
        problem = node_problem()
        if problem:
            raise NodeMissingError(problem)
        self.sandbox = sandbox
        self.store = store
        self.every = every
        self.router_events: list[dict[str, Any]] = []
        env = {**os.environ, "EDGE_FUNCTION_POOL": POOL}
        self._node = subprocess.Popen(  # noqa: S603 - our own harness, fixed arguments
            ["node", "--import", REGISTER.as_uri(), str(DRIVER)],  # noqa: S607 - node on PATH
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        cfg = botocore.config.Config(
            connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1}
        )
        creds = sandbox.env()
        session = boto3.Session(
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        )
        self._s3 = {
            r: session.client("s3", region_name=r, endpoint_url=sandbox.endpoint_url, config=cfg)
            for r in sandbox.buckets
        }
        self._origins = [f"s3-{r}" for r in sandbox.buckets]
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="function-stream", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                hit = self.one()
            except (OSError, ValueError) as e:  # the node process ended: stop, say why
                self.router_events.append({"event": "function_failed", "error": str(e)})
                return
            with self._lock:
                self._hits.append(hit)

    def choose(self, value: str | None, pick: float) -> dict[str, Any]:
        """The function's answer for one request, given the pool's value in the store."""
        assert self._node.stdin is not None  # noqa: S101 - opened with PIPE
        assert self._node.stdout is not None  # noqa: S101 - opened with PIPE
        line = {
            "kvs": {} if value is None else {POOL: value},
            "origins": self._origins,
            "random": pick,
            "request": {"uri": "/index.html"},
        }
        self._node.stdin.write(json.dumps(line) + "\n")
        self._node.stdin.flush()
        answer = self._node.stdout.readline()
        if not answer:
            raise ValueError(f"the function's driver exited ({self._node.poll()})")
        out: dict[str, Any] = json.loads(answer)
        return out

    def one(self) -> Hit:
        """One request: the function picks, then the object is fetched as CloudFront would."""
        out = self.choose(self.store.get(POOL), random.random())
        at = time.time()
        if out.get("error"):
            self.router_events.append({"event": "function_threw", "error": out["error"]})
        group = out.get("group") or ([out["origin"]] if out.get("origin") else None)
        codes = set(out.get("statusCodes") or [])
        if group is None:
            group, codes = list(DEFAULT_GROUP), {403, 500, 502, 503, 504}
        first = str(group[0]).removeprefix("s3-")
        status = "-"
        for member in group:
            status = self._fetch(str(member).removeprefix("s3-"))
            if not (status in {str(c) for c in codes} or not status.isdigit()):
                break
        return Hit(at, first if out.get("origin") else "default", status)

    def _fetch(self, region: str) -> str:
        if region not in self._s3:
            return "unknown-origin"
        try:
            got = self._s3[region].get_object(Bucket=self.sandbox.buckets[region], Key="index.html")
            got["Body"].read()
        except botocore.exceptions.ClientError as e:
            return str(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "error"))
        except botocore.exceptions.ReadTimeoutError:
            return "timeout"
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            return type(e).__name__
        return "200"

    def hits(self, since: float = 0.0) -> list[Hit]:
        with self._lock:
            return [h for h in self._hits if h.at >= since]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self._node.stdin is not None:
            self._node.stdin.close()
        try:
            self._node.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._node.kill()
            self._node.wait()
        if self._node.stdout is not None:
            self._node.stdout.close()
        for client in self._s3.values():
            client.close()
