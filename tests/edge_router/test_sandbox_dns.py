"""The local Route 53-like responder, checked on its own with real DNS packets."""

from __future__ import annotations

import random
import socket
import threading

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from failover.sandbox.dns import DnsResponder, Fault, StaticZone, WeightedAnswer


def ask(responder: DnsResponder, name: str, rdtype: str = "TXT") -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, "127.0.0.1", timeout=1.0, port=responder.port)


def txt(response: dns.message.Message) -> list[bytes]:
    return [b"".join(r.strings) for rrset in response.answer for r in rrset]


def test_answers_authoritatively_with_the_records_ttl() -> None:
    zone = StaticZone({"a.example.com": [WeightedAnswer.of(1, 42, "v1")]})
    with DnsResponder(zone) as r:
        response = ask(r, "A.Example.com.")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert response.answer[0].ttl == 42
    assert txt(response) == [b"v1"]


def test_unknown_names_get_nxdomain_and_other_types_no_data() -> None:
    zone = StaticZone({"a.example.com": [WeightedAnswer.of(1, 42, "v1")]})
    with DnsResponder(zone) as r:
        assert ask(r, "b.example.com").rcode() == dns.rcode.NXDOMAIN
        nodata = ask(r, "a.example.com", "A")
    assert nodata.rcode() == dns.rcode.NOERROR
    assert nodata.answer == []


def test_long_values_are_split_into_255_character_strings() -> None:
    value = "x" * 600
    zone = StaticZone({"a.example.com": [WeightedAnswer.of(1, 5, value)]})
    with DnsResponder(zone) as r:
        rdata = next(iter(ask(r, "a.example.com").answer[0]))
    assert [len(s) for s in rdata.strings] == [255, 255, 90]
    assert b"".join(rdata.strings).decode() == value


def test_one_weighted_set_per_answer_in_proportion_to_weight() -> None:
    zone = StaticZone(
        {
            "w.example.com": [
                WeightedAnswer.of(3, 5, "three"),
                WeightedAnswer.of(1, 5, "one"),
                WeightedAnswer.of(0, 5, "zero"),
            ]
        }
    )
    seen: dict[bytes, int] = {}
    with DnsResponder(zone, rng=random.Random(1)) as r:
        for _ in range(400):
            values = txt(ask(r, "w.example.com"))
            assert len(values) == 1
            seen[values[0]] = seen.get(values[0], 0) + 1
    assert b"zero" not in seen
    assert 240 <= seen[b"three"] <= 360


def test_all_weights_zero_spreads_answers_evenly() -> None:
    zone = StaticZone(
        {"z.example.com": [WeightedAnswer.of(0, 5, "a"), WeightedAnswer.of(0, 5, "b")]}
    )
    with DnsResponder(zone, rng=random.Random(2)) as r:
        seen = {txt(ask(r, "z.example.com"))[0] for _ in range(60)}
    assert seen == {b"a", b"b"}


def test_a_raising_source_answers_servfail_rather_than_silence() -> None:
    def broken(name: str) -> list[WeightedAnswer]:
        raise RuntimeError(name)

    with DnsResponder(broken) as r:
        assert ask(r, "a.example.com").rcode() == dns.rcode.SERVFAIL


@pytest.mark.parametrize(
    ("fault", "rcode"), [(Fault.SERVFAIL, dns.rcode.SERVFAIL), (Fault.NXDOMAIN, dns.rcode.NXDOMAIN)]
)
def test_rcode_faults_apply_per_name_and_switch_off(fault: Fault, rcode: dns.rcode.Rcode) -> None:
    zone = StaticZone(
        {n: [WeightedAnswer.of(1, 5, "v")] for n in ("a.example.com", "b.example.com")}
    )
    with DnsResponder(zone) as r:
        r.set_fault(fault, "a.example.com")
        assert ask(r, "a.example.com").rcode() == rcode
        assert ask(r, "b.example.com").rcode() == dns.rcode.NOERROR
        r.set_fault(None, "a.example.com")
        assert ask(r, "a.example.com").rcode() == dns.rcode.NOERROR


def test_timeout_fault_drops_queries_but_counts_them() -> None:
    zone = StaticZone({"a.example.com": [WeightedAnswer.of(1, 5, "v")]})
    with DnsResponder(zone) as r:
        r.set_fault(Fault.TIMEOUT)
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(dns.message.make_query("a.example.com", "TXT"), "127.0.0.1", 0.1, r.port)
        assert r.queries("a.example.com") == 1
        assert r.queries() == 1


def test_garbage_and_non_s3_faults_answer_well_formed_but_useless_txt() -> None:
    zone = StaticZone({"a.example.com": [WeightedAnswer.of(1, 5, "good")]})
    with DnsResponder(zone) as r:
        r.set_fault(Fault.GARBAGE)
        garbage = txt(ask(r, "a.example.com"))[0]
        r.set_fault(Fault.NON_S3)
        non_s3 = txt(ask(r, "a.example.com"))[0]
    with pytest.raises(UnicodeDecodeError):
        garbage.decode("ascii")
    assert non_s3 == b"example.com"


def test_malformed_fault_replies_with_something_that_is_not_dns() -> None:
    zone = StaticZone({"a.example.com": [WeightedAnswer.of(1, 5, "v")]})
    with DnsResponder(zone) as r:
        r.set_fault(Fault.MALFORMED)
        with pytest.raises(dns.exception.DNSException):
            ask(r, "a.example.com")


def test_close_stops_the_thread_and_frees_the_port() -> None:
    before = threading.active_count()
    r = DnsResponder(StaticZone())
    port = r.port
    r.close()
    assert threading.active_count() == before
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))  # would fail if the responder still held it
