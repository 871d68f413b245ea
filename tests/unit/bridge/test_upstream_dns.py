"""UpstreamResolver against a real (tiny) DNS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from omniroute.bridge.upstream import UpstreamChooser
from omniroute.bridge.upstream_dns import (
    UpstreamDNSError,
    UpstreamResolver,
    is_loopback_or_self,
    local_addresses,
)


@dataclass
class Zone:
    # (name, type) -> (ttl, values); CNAMEs as ("alias.test.", "CNAME") -> (ttl, ["target.test."])
    records: dict[tuple[str, str], tuple[int, list[str]]] = field(default_factory=dict)
    queries: Counter[tuple[str, str]] = field(default_factory=Counter)
    silent: set[str] = field(default_factory=set)  # names the server never answers


class _Server(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name, rdtype = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
        self.zone.queries[(name, rdtype)] += 1
        if name in self.zone.silent:
            return
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        current, found_any = name, False
        while (current, "CNAME") in self.zone.records:
            ttl, (target,) = self.zone.records[(current, "CNAME")]
            response.answer.append(dns.rrset.from_text(current, ttl, "IN", "CNAME", target))
            current, found_any = target, True
        if (current, rdtype) in self.zone.records:
            ttl, values = self.zone.records[(current, rdtype)]
            response.answer.append(dns.rrset.from_text_list(current, ttl, "IN", rdtype, values))
        elif not found_any and not any(key[0] == current for key in self.zone.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@contextlib.asynccontextmanager
async def dns_server(zone: Zone) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Server(zone), local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_zone() -> Zone:
    return Zone(
        records={
            ("api.example.test.", "A"): (30, ["203.0.113.10", "203.0.113.11"]),
            ("api.example.test.", "AAAA"): (60, ["2001:db8::10"]),
            ("v4only.test.", "A"): (300, ["203.0.113.20"]),
            ("long.test.", "A"): (86400, ["203.0.113.30"]),
            ("zero.test.", "A"): (0, ["203.0.113.40"]),
            ("alias.test.", "CNAME"): (5, ["target.test."]),
            ("target.test.", "A"): (600, ["203.0.113.50"]),
        }
    )


async def test_resolves_a_and_aaaa_and_caches_for_the_ttl() -> None:
    zone, clock = make_zone(), FakeClock()
    async with dns_server(zone) as port:
        resolver = UpstreamResolver(["127.0.0.1"], port=port, clock=clock, timeout=2)
        found = await resolver.resolve("API.example.test.")
        # IPv4 first, then IPv6; within a family the server may rotate the order.
        assert sorted(found[:2]) == ["203.0.113.10", "203.0.113.11"]
        assert found[2:] == ["2001:db8::10"]
        assert zone.queries == Counter(
            {("api.example.test.", "A"): 1, ("api.example.test.", "AAAA"): 1}
        )
        clock.now += 29.5  # min(A ttl 30, AAAA ttl 60)
        await resolver.resolve("api.example.test")
        assert zone.queries[("api.example.test.", "A")] == 1  # served from cache
        clock.now += 1
        await resolver.resolve("api.example.test")
        assert zone.queries[("api.example.test.", "A")] == 2  # expired, asked again


async def test_ttl_is_clamped_between_one_second_and_one_hour() -> None:
    zone, clock = make_zone(), FakeClock()
    async with dns_server(zone) as port:
        resolver = UpstreamResolver(["127.0.0.1"], port=port, clock=clock, timeout=2)
        await resolver.resolve("long.test")
        await resolver.resolve("zero.test")
        clock.now += 0.9
        await resolver.resolve("zero.test")
        assert zone.queries[("zero.test.", "A")] == 1  # TTL 0 is cached for 1 s
        clock.now += 0.2
        await resolver.resolve("zero.test")
        assert zone.queries[("zero.test.", "A")] == 2
        clock.now += 3600
        await resolver.resolve("long.test")
        assert zone.queries[("long.test.", "A")] == 2  # 86400 capped at 3600


async def test_cname_chain_uses_minimum_ttl_and_single_family_is_enough() -> None:
    zone, clock = make_zone(), FakeClock()
    async with dns_server(zone) as port:
        resolver = UpstreamResolver(["127.0.0.1"], port=port, clock=clock, timeout=2)
        assert await resolver.resolve("alias.test") == ["203.0.113.50"]
        clock.now += 5.5
        await resolver.resolve("alias.test")
        assert zone.queries[("alias.test.", "A")] == 2  # CNAME's 5 s bounded the answer
        assert await resolver.resolve("v4only.test") == ["203.0.113.20"]


async def test_nxdomain_is_negatively_cached_briefly() -> None:
    zone, clock = make_zone(), FakeClock()
    async with dns_server(zone) as port:
        resolver = UpstreamResolver(["127.0.0.1"], port=port, clock=clock, timeout=2)
        with pytest.raises(UpstreamDNSError, match=r"missing\.test.*NXDOMAIN.*127\.0\.0\.1"):
            await resolver.resolve("missing.test")
        with pytest.raises(UpstreamDNSError):
            await resolver.resolve("missing.test")
        assert zone.queries[("missing.test.", "A")] == 1
        clock.now += 6
        zone.records[("missing.test.", "A")] = (60, ["203.0.113.60"])
        assert await resolver.resolve("missing.test") == ["203.0.113.60"]


async def test_timeout_is_an_error_naming_the_server() -> None:
    zone, clock = make_zone(), FakeClock()
    zone.silent.add("slow.test.")
    async with dns_server(zone) as port:
        resolver = UpstreamResolver(["127.0.0.1"], port=port, clock=clock, timeout=0.3)
        with pytest.raises(UpstreamDNSError, match=r"slow\.test.*timed out"):
            await resolver.resolve("slow.test")


async def test_concurrent_lookups_of_one_host_share_one_query() -> None:
    zone, clock = make_zone(), FakeClock()
    async with dns_server(zone) as port:
        resolver = UpstreamResolver(["127.0.0.1"], port=port, clock=clock, timeout=2)
        results = await asyncio.gather(*(resolver.resolve("api.example.test") for _ in range(10)))
        assert all(r == results[0] for r in results)
        assert zone.queries[("api.example.test.", "A")] == 1


async def test_ip_literals_are_returned_as_is() -> None:
    resolver = UpstreamResolver(["127.0.0.1"], port=9)  # never asked
    assert await resolver.resolve("198.51.100.7") == ["198.51.100.7"]
    assert await resolver.resolve("[2001:db8::1]") == ["2001:db8::1"]
    with pytest.raises(UpstreamDNSError, match="empty"):
        await resolver.resolve(" ")


def test_configuration_errors() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        UpstreamResolver(["dns.google"])
    with pytest.raises(ValueError, match="empty"):
        UpstreamResolver([])
    assert UpstreamResolver(["192.0.2.53"]).nameservers == ["192.0.2.53"]


async def test_no_system_servers_fails_the_lookup_not_the_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    read = dns.resolver.BaseResolver.read_resolv_conf
    monkeypatch.setattr(dns.resolver.BaseResolver, "read_resolv_conf",
                        lambda self, _f: read(self, str(tmp_path / "no-resolv.conf")))
    resolver = UpstreamResolver(None)  # a start on a machine without resolv.conf goes on
    assert await resolver.resolve("198.51.100.7") == ["198.51.100.7"]
    with pytest.raises(UpstreamDNSError, match="OMNIROUTE_UPSTREAM_DNS"):
        await resolver.resolve("api.example.test")
    assert resolver.nameservers == []
    # A passthrough flow in DNS mode gets the reason as its error, not an exception.
    chooser = UpstreamChooser(resolver, bind_host="127.0.0.1", proxy_ports=(8080,), own_addresses=set())
    choice = await chooser.choose("api.example.test", 443)
    assert choice.error is not None and "system resolvers" in choice.error
    assert "OMNIROUTE_UPSTREAM_DNS" in choice.error


def test_dnspython_is_loaded_by_the_first_name_to_resolve() -> None:
    script = (
        "import asyncio, sys; from omniroute.bridge.upstream_dns import UpstreamResolver; "
        "r = UpstreamResolver(None); asyncio.run(r.resolve('198.51.100.7')); "
        "print('dns' in sys.modules, end=' '); r.nameservers; print('dns' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "True"]


@pytest.mark.parametrize(
    ("ip", "own", "expected"),
    [
        ("127.0.0.1", [], True),
        ("127.8.9.10", [], True),
        ("::1", [], True),
        ("::ffff:127.0.0.1", [], True),
        ("0.0.0.0", [], True),
        ("::", [], True),
        ("192.168.1.20", ["192.168.1.20"], True),
        ("fe80::1", ["fe80::1%eth0"], True),
        ("192.168.1.21", ["192.168.1.20"], False),
        ("203.0.113.10", [], False),
        ("not-an-ip", [], False),
    ],
)
def test_loop_guard(ip: str, own: list[str], expected: bool) -> None:
    assert is_loopback_or_self(ip, own) is expected


def test_local_addresses_is_best_effort() -> None:
    found = local_addresses()
    assert isinstance(found, set) and all(isinstance(a, str) for a in found)
