"""TXT lookups with dnspython behind a per-name TTL cache that serves stale answers on failure."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from edge_router.settings import Settings

Values = tuple[str, ...]
Query = Callable[[str], tuple[Values, int]]  # name -> (values, ttl); raises on any failure
Accept = Callable[[Values], str | None]  # why an answer is unusable, or None
OnEvent = Callable[..., None]  # on_event(event, **fields)


class AnswerRefusedError(Exception):
    """A well-formed answer in which no value is usable."""


class LookupFailedError(Exception):
    """A lookup that got no usable answer; `kind` is a short, bounded reason."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def dns_query(settings: Settings) -> Query:
    """A TXT query function over fixed nameservers, bounded as a whole by `timeout`.

    Empty `nameservers` reads the system's once, here. Each query is one UDP packet per
    server tried (TCP only for a truncated answer), with no retries beyond the deadline.
    """
    servers = list(settings.nameservers)
    if not servers:
        try:
            system = dns.resolver.Resolver()
        except dns.exception.DNSException:  # no usable /etc/resolv.conf: every lookup fails
            system = dns.resolver.Resolver(configure=False)
        servers = [(ns, system.port) for ns in system.nameservers if isinstance(ns, str)]
    per_server = settings.timeout / max(1, len(servers))

    def query(name: str) -> tuple[Values, int]:
        qname = dns.name.from_text(name)
        request = dns.message.make_query(qname, dns.rdatatype.TXT)
        deadline = time.monotonic() + settings.timeout
        failure = LookupFailedError("no_nameservers")
        for host, port in servers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response = _udp(request, host, port, min(per_server, remaining))
                if response.flags & dns.flags.TC:
                    response = dns.query.tcp(
                        request, host, max(0.0, deadline - time.monotonic()), port
                    )
            except dns.exception.Timeout:
                failure = LookupFailedError("timeout", f"{host}:{port}")
                continue
            except OSError as e:  # e.g. ICMP port unreachable: the server is not running
                failure = LookupFailedError("unreachable", f"{host}:{port} {type(e).__name__}")
                continue
            except (dns.exception.DNSException, ValueError) as e:
                failure = LookupFailedError("malformed", f"{host}:{port} {type(e).__name__}")
                continue
            if not isinstance(response, dns.message.QueryMessage):
                failure = LookupFailedError("malformed", f"{host}:{port} not a query response")
                continue
            rcode = response.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                raise LookupFailedError("nxdomain", name)
            if rcode != dns.rcode.NOERROR:
                failure = LookupFailedError(dns.rcode.to_text(rcode).lower(), f"{host}:{port}")
                continue
            try:
                answer = dns.resolver.Answer(qname, dns.rdatatype.TXT, dns.rdataclass.IN, response)
            except dns.resolver.NoAnswer as e:
                raise LookupFailedError("no_answer", name) from e
            if answer.rrset is None:
                raise LookupFailedError("no_answer", name)
            try:
                values = tuple(b"".join(r.strings).decode("ascii") for r in answer.rrset)
            except UnicodeDecodeError as e:
                raise LookupFailedError("garbage", "TXT value is not ASCII text") from e
            return values, answer.rrset.ttl
        raise failure

    return query


def _udp(request: dns.message.Message, host: str, port: int, timeout: float) -> dns.message.Message:
    """One UDP exchange on a connected socket: only the server can answer, and a server that
    is not running is reported at once (ICMP port unreachable) instead of waited out."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((host, port))
        return dns.query.udp(request, host, timeout, port, sock=sock)


def failure_kind(exc: BaseException) -> str:
    """A short, bounded name for why a lookup failed."""
    if isinstance(exc, LookupFailedError):
        return exc.kind
    if isinstance(exc, AnswerRefusedError):
        return "refused"
    return type(exc).__name__


@dataclass
class _Entry:
    values: Values | None = None  # the last good answer
    expires: float = 0.0  # fresh until
    next_try: float = 0.0  # no lookup before this while failing
    failing: bool = False


class TxtCache:
    """Per-name answers cached for their TTL (clamped); stale when DNS fails; bounded retries."""

    def __init__(
        self,
        settings: Settings,
        query: Query,
        *,
        accept: Accept | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: OnEvent | None = None,
    ) -> None:
        self._settings = settings
        self._query = query
        self._accept = accept
        self._clock = clock
        self._on_event = on_event
        self._entries: dict[str, _Entry] = {}
        self.lookups = 0

    def get(self, name: str) -> Values | None:
        """The answer to use for `name` now, or None when there is nothing to serve."""
        now = self._clock()
        entry = self._entries.get(name)
        if entry is None:
            entry = self._entries[name] = _Entry()
        elif entry.values is not None and now < entry.expires:
            return entry.values
        if now < entry.next_try:
            return self._stale(entry, now)
        self.lookups += 1
        try:
            values, ttl = self._query(name)
            self._check(values)
        except Exception as e:  # noqa: BLE001 - any failure of DNS or of its answer falls back
            entry.next_try, entry.failing = now + self._settings.retry, True
            served = self._stale(entry, now)
            self._emit(
                "dns_lookup_failed",
                name=name,
                error=failure_kind(e),
                detail=str(e)[:200],
                serving="stale" if served is not None else "nothing",
            )
            return served
        clamped = min(max(float(ttl), self._settings.min_ttl), self._settings.max_ttl)
        if values != entry.values:
            self._emit("dns_answer_changed", name=name, values=list(values), ttl=ttl)
        elif entry.failing:
            self._emit("dns_lookup_recovered", name=name)
        entry.values, entry.expires, entry.next_try = values, now + clamped, 0.0
        entry.failing = False
        return values

    def _check(self, values: Values) -> None:
        reason = self._accept(values) if self._accept is not None else None
        if reason is not None:
            raise AnswerRefusedError(reason)

    def _stale(self, entry: _Entry, now: float) -> Values | None:
        if entry.values is not None and now < entry.expires + self._settings.stale:
            return entry.values
        return None

    def _emit(self, event: str, **fields: Any) -> None:
        if self._on_event is not None:
            self._on_event(event, **fields)
