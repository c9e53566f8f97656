"""Lambda@Edge origin-request entry point: send S3 requests to the bucket a TXT record names."""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from edge_router.resolver import Query, TxtCache, Values, dns_query
from edge_router.routing import (
    Endpoint,
    Refusal,
    choose,
    header_patterns,
    record_name,
    screen,
)
from edge_router.settings import Settings, load

ORIGIN_HEADER = "x-dns-origin"
_SCREEN_CACHE = 256  # distinct answers whose screening is remembered

Log = Callable[..., None]


def log(event: str, **fields: Any) -> None:
    """One compact JSON line on stdout (CloudWatch Logs bills per byte)."""
    line = json.dumps({"event": event, **fields}, separators=(",", ":"), default=str)
    sys.stdout.write(line + "\n")


class Router:
    """Routing state of one execution environment: settings, the TXT cache, what was logged."""

    def __init__(
        self,
        settings: Settings,
        *,
        query: Query | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        log: Log = log,
    ) -> None:
        self.settings = settings
        self._log = log
        self._rng = rng or random.Random()
        self._screened: dict[Values, tuple[tuple[Endpoint, ...], tuple[Refusal, ...]]] = {}
        self._refused: dict[tuple[str, str | None], str] = {}
        self.cache = TxtCache(
            settings,
            query or dns_query(settings),
            accept=self._accept,
            clock=clock,
            on_event=log,
        )

    def _screen(self, values: Values) -> tuple[tuple[Endpoint, ...], tuple[Refusal, ...]]:
        hit = self._screened.get(values)
        if hit is None:
            if len(self._screened) >= _SCREEN_CACHE:
                self._screened.clear()
            hit = self._screened[values] = screen(values, self.settings.allowed_buckets)
        return hit

    def _accept(self, values: Values) -> str | None:
        good, refused = self._screen(values)
        if good:
            return None
        return "; ".join(f"{r.value[:100]!r}: {r.reason}" for r in refused) or "empty answer"

    def _refuse(self, name: str, allow: str | None, refusals: tuple[Refusal, ...]) -> None:
        """Log refusals once per name and allow header, again only when they change."""
        key = (name, allow)
        what = json.dumps([[r.value[:100], r.reason] for r in refusals])
        if self._refused.get(key) != what:
            if len(self._refused) >= _SCREEN_CACHE:
                self._refused.clear()
            self._refused[key] = what
            self._log(
                "origin_refused",
                name=name,
                allow=allow,
                refused=[{"value": r.value[:100], "reason": r.reason} for r in refusals],
            )

    def route(self, request: dict[str, Any]) -> dict[str, Any]:
        """Point an S3-origin request at the bucket the TXT record names; else leave it as is."""
        origin = request.get("origin")
        s3 = origin.get("s3") if isinstance(origin, dict) else None
        headers = request.get("headers")
        if not isinstance(s3, dict) or not isinstance(headers, dict):
            return request
        custom = s3.get("customHeaders")
        wanted = _header(custom, ORIGIN_HEADER)
        if wanted is None:
            return request
        allow = _header(custom, self.settings.allow_header)
        name = record_name(wanted)
        if isinstance(name, Refusal):
            self._refuse(wanted[:100], allow, (name,))
            return request
        values = self.cache.get(name)
        if values is None:
            return request
        good, refused = self._screen(values)
        if refused:
            self._refuse(name, allow, refused)
        chosen = choose(good, header_patterns(allow), self._rng)
        if isinstance(chosen, Refusal):
            self._refuse(name, allow, (chosen,))
            return request
        s3["domainName"] = chosen.domain
        s3["region"] = chosen.region
        headers["host"] = [{"key": "Host", "value": chosen.domain}]
        return request


def _header(headers: object, name: str) -> str | None:
    """The first value of a CloudFront-style header map entry, or None."""
    if not isinstance(headers, dict):
        return None
    entries = headers.get(name)
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return None
    value = entries[0].get("value")
    return value if isinstance(value, str) else None


class _Environment:
    """The router shared by the invocations that follow one another in this container."""

    router: Router | None = None
    broken: bool = False


def install(router: Router | None) -> None:
    """Use `router` for the invocations that follow; None reloads settings on the next one."""
    _Environment.router = router
    _Environment.broken = False


def _router() -> Router | None:
    if _Environment.router is None and not _Environment.broken:
        try:
            _Environment.router = Router(load())
        except Exception as e:  # noqa: BLE001 - broken settings must not fail viewers
            _Environment.broken = True
            log("settings_rejected", error=str(e)[:500])
    return _Environment.router


def _request(event: object) -> dict[str, Any] | None:
    try:
        request = event["Records"][0]["cf"]["request"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    return request if isinstance(request, dict) else None


def handler(event: dict[str, Any], context: object) -> Any:
    """Origin-request handler: never raises; on any doubt the request goes out unchanged."""
    request = _request(event)
    if request is None:
        log("event_malformed")
        return event
    try:
        router = _router()
        return request if router is None else router.route(request)
    except Exception as e:  # noqa: BLE001 - a viewer never gets a 5xx from this function
        log("handler_failed", error=type(e).__name__, detail=str(e)[:200])
        return request
