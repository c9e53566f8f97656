"""A Route 53-like authoritative TXT responder on loopback UDP, with faults switchable per name."""

from __future__ import annotations

import enum
import random
import select
import socket
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from failover.core.backstop import candidates

MAX_STRING = 255  # one TXT character-string; longer values are split, as Route 53 does


@dataclass(frozen=True)
class WeightedAnswer:
    """One weighted set: its weight, TTL and TXT values, each value a tuple of strings.

    `health` is its health check's status: True healthy, False unhealthy, None no check.
    """

    weight: int
    ttl: int
    values: tuple[tuple[str, ...], ...]
    health: bool | None = None

    @classmethod
    def of(cls, weight: int, ttl: int, *values: str, health: bool | None = None) -> WeightedAnswer:
        """A set whose values are split into 255-character strings."""
        split = tuple(
            tuple(v[i : i + MAX_STRING] for i in range(0, len(v), MAX_STRING)) or ("",)
            for v in values
        )
        return cls(weight, ttl, split, health)


Lookup = Callable[[str], Sequence[WeightedAnswer]]


class Fault(enum.StrEnum):
    """How the responder misbehaves for a name (or for every name)."""

    SERVFAIL = "servfail"
    NXDOMAIN = "nxdomain"
    TIMEOUT = "timeout"  # drop the query: the client waits out its timeout
    GARBAGE = "garbage"  # a TXT answer of bytes that are not text
    NON_S3 = "non_s3"  # a well-formed TXT answer naming something that is not S3
    MALFORMED = "malformed"  # a reply that is not a DNS message at all


class StaticZone:
    """A lookup source holding weighted sets per name; change it while the responder runs."""

    def __init__(self, records: dict[str, Sequence[WeightedAnswer]] | None = None) -> None:
        self._records: dict[str, list[WeightedAnswer]] = {}
        self._lock = threading.Lock()
        for name, answers in (records or {}).items():
            self.set(name, answers)

    def set(self, name: str, answers: Sequence[WeightedAnswer]) -> None:
        with self._lock:
            self._records[_norm(name)] = list(answers)

    def remove(self, name: str) -> None:
        with self._lock:
            self._records.pop(_norm(name), None)

    def __call__(self, name: str) -> list[WeightedAnswer]:
        with self._lock:
            return list(self._records.get(_norm(name), []))


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


class DnsResponder:
    """UDP server on 127.0.0.1 answering TXT queries from `lookup` in a background thread."""

    def __init__(self, lookup: Lookup, *, port: int = 0, rng: random.Random | None = None) -> None:
        self._lookup = lookup
        self._rng = rng or random.Random()
        self._faults: dict[str | None, Fault] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"dns-{self.port}", daemon=True)
        self._thread.start()

    def set_fault(self, fault: Fault | None, name: str | None = None) -> None:
        """Switch a fault on for `name` (None: every name), or off with `fault=None`."""
        key = None if name is None else _norm(name)
        with self._lock:
            if fault is None:
                self._faults.pop(key, None)
            else:
                self._faults[key] = fault

    def queries(self, name: str | None = None) -> int:
        """Queries received so far, for one name or in total (dropped ones included)."""
        with self._lock:
            return self._counts.total() if name is None else self._counts[_norm(name)]

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            try:
                wire, peer = self._sock.recvfrom(4096)
            except OSError:
                return
            reply = self._reply(wire)
            if reply is not None:
                self._sock.sendto(reply, peer)

    def _reply(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except Exception:  # noqa: BLE001 - not a query we can answer: ignore it, as servers do
            return None
        name = _norm(question.name.to_text())
        with self._lock:
            self._counts[name] += 1
            fault = self._faults.get(name, self._faults.get(None))
        if fault is Fault.TIMEOUT:
            return None
        if fault is Fault.MALFORMED:
            return wire[:2] + b"\x84\x00not a dns message"
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if fault is Fault.SERVFAIL or fault is Fault.NXDOMAIN:
            response.set_rcode(
                dns.rcode.SERVFAIL if fault is Fault.SERVFAIL else dns.rcode.NXDOMAIN
            )
            return response.to_wire()
        try:
            answers = list(self._lookup(name))
        except Exception:  # noqa: BLE001 - a broken source answers SERVFAIL, never silence
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        if fault in (Fault.GARBAGE, Fault.NON_S3):
            ttl = answers[0].ttl if answers else 60
            junk = b"\xff\xfe\x00garbage\x80" if fault is Fault.GARBAGE else b"example.com"
            answers_wire: list[tuple[bytes, ...]] = [(junk,)]
        elif not answers:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        else:
            chosen = self._pick(answers)
            ttl = chosen.ttl
            answers_wire = [tuple(s.encode() for s in value) for value in chosen.values]
        if question.rdtype == dns.rdatatype.TXT:
            rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, dns.rdatatype.TXT)
            rrset.update_ttl(ttl)
            for strings in answers_wire:
                rrset.add(dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings))
            response.answer.append(rrset)
        return response.to_wire()

    def _pick(self, answers: list[WeightedAnswer]) -> WeightedAnswer:
        """One weighted set by weight, as Route 53 answers; evenly when every weight is 0.

        With health checks, Route 53's rules choose which sets are candidates at all
        (`core.backstop.candidates`: unhealthy sets left out, zero-weight sets only when
        every non-zero set is unhealthy, all of them when none is healthy).
        """
        chosen, evenly = candidates([(a.weight, a.health) for a in answers])
        sets = [answers[i] for i in chosen]
        if evenly:
            return self._rng.choice(sets)
        return self._rng.choices(sets, weights=[a.weight for a in sets])[0]

    def close(self) -> None:
        """Stop the thread and release the port."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> DnsResponder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
