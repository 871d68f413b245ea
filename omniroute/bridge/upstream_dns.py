"""Resolve real upstream addresses for passthrough traffic, bypassing the hosts file.

In DNS mode the hosts file points agent hosts at 127.0.0.1, so the system resolver would send
passthrough traffic straight back to us. This resolver asks real DNS servers (configured, or
the ones in resolv.conf) with dnspython, which never reads the hosts file. A and AAAA are
queried concurrently; answers are cached for their TTL (clamped to 1 s .. 1 h), failures
briefly. ``listener_accepts`` and ``same_address`` serve the loop guard: the caller answers 508
when an upstream resolves back to one of our own listeners.

dnspython is loaded, and the system's servers read, on the first name to resolve: only DNS mode's
passthrough needs them, so a start (or a machine with no resolv.conf that never uses DNS mode)
does not pay for them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dns.asyncresolver

MIN_TTL = 1.0
MAX_TTL = 3600.0
NEGATIVE_TTL = 5.0  # short: a transient failure must not hide a host for long


class UpstreamDNSError(Exception):
    """No address for a host; the message names the host and the servers asked."""


@dataclass
class _Entry:
    addresses: list[str]
    expires: float
    error: str | None = None


@dataclass
class _Result:
    addresses: list[str]
    ttl: float | None = None
    error: str | None = None


class UpstreamResolver:
    def __init__(
        self,
        nameservers: list[str] | None = None,
        port: int = 53,
        *,
        timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        min_ttl: float = MIN_TTL,
        max_ttl: float = MAX_TTL,
        negative_ttl: float = NEGATIVE_TTL,
    ) -> None:
        if nameservers is not None:
            if not nameservers:
                raise ValueError("nameservers is empty; pass None to use the system's servers")
            for server in nameservers:
                try:
                    ipaddress.ip_address(server)
                except ValueError:
                    raise ValueError(f"DNS server {server!r} is not an IP address") from None
        self._servers = list(nameservers) if nameservers is not None else None
        self._port, self._timeout = port, timeout
        self._made: dns.asyncresolver.Resolver | None = None
        self._clock = clock
        self._min_ttl, self._max_ttl, self._negative_ttl = min_ttl, max_ttl, negative_ttl
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Future[_Entry]] = {}

    @property
    def _resolver(self) -> dns.asyncresolver.Resolver:
        """dnspython's resolver, made on first use; UpstreamDNSError when the system has no
        servers and none were configured."""
        if self._made is None:
            import dns.asyncresolver
            import dns.resolver

            try:
                made = dns.asyncresolver.Resolver(configure=self._servers is None)
            except dns.resolver.NoResolverConfiguration as exc:
                raise UpstreamDNSError(
                    "no DNS servers configured on this system; set OMNIROUTE_UPSTREAM_DNS"
                ) from exc
            if self._servers is not None:
                made.nameservers = list(self._servers)
            made.port = self._port
            made.timeout = made.lifetime = self._timeout
            made.cache = None  # we cache ourselves, with an injectable clock
            self._made = made
        return self._made

    @property
    def nameservers(self) -> list[str]:
        """The servers asked: the configured ones, else the system's ([] when it has none,
        so an error message can name what was asked without failing itself)."""
        if self._servers is not None:
            return list(self._servers)
        try:
            return [str(ns) for ns in self._resolver.nameservers]
        except UpstreamDNSError:
            return []

    def clear_cache(self) -> None:
        self._cache.clear()

    async def resolve(self, host: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``host``; an IP literal is returned as is.

        Raises UpstreamDNSError when neither family has an address.
        """
        name = host.strip().lower().rstrip(".")
        if name.startswith("[") and name.endswith("]"):
            name = name[1:-1]
        try:
            return [str(ipaddress.ip_address(name))]
        except ValueError:
            pass
        if not name:
            raise UpstreamDNSError("cannot resolve an empty host name")
        entry = self._cache.get(name)
        if entry is None or entry.expires <= self._clock():
            entry = await self._coalesced(name)
        if entry.error:
            raise UpstreamDNSError(entry.error)
        return list(entry.addresses)

    async def _coalesced(self, name: str) -> _Entry:
        # Many flows to one host arrive together; ask the servers once.
        pending = self._inflight.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Entry] = asyncio.get_running_loop().create_future()
        self._inflight[name] = future
        try:
            entry = await self._lookup(name)
            self._cache[name] = entry
            future.set_result(entry)
            return entry
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it themselves
            raise
        finally:
            del self._inflight[name]

    async def _lookup(self, name: str) -> _Entry:
        v4, v6 = await asyncio.gather(self._query(name, "A"), self._query(name, "AAAA"))
        now = self._clock()
        found = [r for r in (v4, v6) if r.addresses]
        if found:
            ttl = min(r.ttl if r.ttl is not None else self._min_ttl for r in found)
            ttl = max(self._min_ttl, min(self._max_ttl, ttl))
            return _Entry(v4.addresses + v6.addresses, now + ttl)
        reason = v4.error or v6.error or "no A or AAAA records"
        servers = ", ".join(self.nameservers)
        message = f"cannot resolve {name}: {reason} (asked {servers})"
        return _Entry([], now + self._negative_ttl, message)

    async def _query(self, name: str, rdtype: str) -> _Result:
        resolver = self._resolver
        import dns.exception  # loaded with the resolver just made
        import dns.resolver

        try:
            answer = await resolver.resolve(
                name, rdtype, search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return _Result([], error="no such domain (NXDOMAIN)")
        except dns.resolver.NoNameservers as exc:
            return _Result([], error=f"servers failed ({exc})")
        except dns.exception.Timeout:
            return _Result([], error="timed out")
        except dns.exception.DNSException as exc:
            return _Result([], error=str(exc))
        if answer.rrset is None:
            return _Result([])
        # The whole CNAME chain's minimum TTL bounds how long the final address is valid.
        ttl = float(answer.chaining_result.minimum_ttl)
        return _Result([str(rdata.address) for rdata in answer.rrset], ttl=ttl)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP literal (brackets and zone ignored, IPv4-mapped IPv6 as IPv4), else None."""
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0].strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_loopback_or_self(ip: str, own_addresses: Iterable[str] = ()) -> bool:
    """True when connecting to ``ip`` would reach this machine (so: us, in a loop)."""
    addr = _address(ip)
    if addr is None:
        return False
    if addr.is_loopback or addr.is_unspecified:
        return True
    if addr in {own for item in own_addresses if (own := _address(item)) is not None}:
        return True
    return _assigned_here(addr)


def _assigned_here(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """``addr`` is assigned to one of this machine's interfaces right now: binding to an address
    the machine does not hold fails (EADDRNOTAVAIL); no packet is sent. With the
    ``ip_nonlocal_bind`` sysctl on every bind succeeds, so the guard fails closed."""
    family = socket.AF_INET if addr.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(addr), 0))
    except OSError:
        return False
    return True


def same_address(a: str, b: str) -> bool:
    """``a`` and ``b`` are the same IP (``::ffff:127.0.0.1`` is ``127.0.0.1``)."""
    first = _address(a)
    return first is not None and first == _address(b)


def listener_accepts(bind_host: str, ip: str, own_addresses: Iterable[str] = ()) -> bool:
    """Would a listener bound to ``bind_host`` take a connection to ``ip``?

    Bound to one address, only that address; bound to a wildcard (or a name, which may stand
    for several), any address of this machine.
    """
    bind = _address(bind_host)
    if bind is None or bind.is_unspecified:
        return is_loopback_or_self(ip, own_addresses)
    return _address(ip) == bind


def local_addresses() -> set[str]:
    """Best-effort addresses of this machine, for ``is_loopback_or_self``.

    Uses the host name's addresses and the source address of the default route (a UDP
    ``connect`` sends no packet); never raises.
    """
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.add(str(info[4][0]).split("%", 1)[0])
    except OSError:
        pass
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((probe, 9))
                found.add(str(sock.getsockname()[0]).split("%", 1)[0])
        except OSError:
            continue
    return found
