"""Where passthrough traffic really goes: real DNS, and a guard against looping back to us."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from omniroute.bridge.upstream_dns import (
    UpstreamDNSError,
    UpstreamResolver,
    listener_accepts,
    same_address,
)


@dataclass(frozen=True, slots=True)
class UpstreamChoice:
    ip: str | None = None  # None: leave the address as it is
    error: str | None = None
    loop: bool = False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


# Agents reach the DNS-mode listener through the hosts file, so on the HTTPS port.
AGENT_PORT = 443


class UpstreamChooser:
    """Picks the address passthrough traffic connects to, knowing our own listeners."""

    def __init__(self, resolver: UpstreamResolver, *, bind_host: str, proxy_ports: Iterable[int],
                 own_addresses: set[str]) -> None:
        self.resolver = resolver
        self._bind_host = bind_host
        self._own_ports = {p for p in proxy_ports if p}
        self._own_addresses = own_addresses

    def loops_back(self, ip: str, port: int, arrived_at: str | None = None) -> bool:
        """Connecting to (ip, port) would reach one of our own proxy listeners.

        Both proxy listeners count (HTTP_PROXY and DNS mode), on the address they are bound to;
        the API does not, since it answers instead of proxying again (and routed calls go to it).
        ``arrived_at`` is the local address a DNS-mode client connected to: the hosts file sends
        agents there on port 443, which reaches our DNS-mode listener directly or through a port
        forward, so port 443 at that address is us whichever port the listener is bound to.
        """
        if arrived_at is not None and port == AGENT_PORT and same_address(ip, arrived_at):
            return True
        return port in self._own_ports and listener_accepts(self._bind_host, ip, self._own_addresses)

    async def choose(self, host: str, port: int, arrived_at: str | None = None) -> UpstreamChoice:
        """The address to connect to for ``host``; ``arrived_at`` as in ``loops_back``."""
        if _is_ip(host):
            if self.loops_back(host, port, arrived_at):
                return UpstreamChoice(error=f"loop: {host}:{port} is OmniRoute itself", loop=True)
            return UpstreamChoice()
        if host == "localhost":
            return UpstreamChoice()
        try:
            addresses = await self.resolver.resolve(host)
        except UpstreamDNSError as exc:
            servers = ", ".join(self.resolver.nameservers) or "system resolvers"
            return UpstreamChoice(error=f"cannot resolve {host} with upstream DNS ({servers}): {exc}")
        ip = addresses[0]
        if self.loops_back(ip, port, arrived_at):
            return UpstreamChoice(
                error=(
                    f"loop: {host} resolves to {ip}, which is OmniRoute itself; set "
                    "OMNIROUTE_UPSTREAM_DNS to real DNS servers"
                ),
                loop=True,
            )
        return UpstreamChoice(ip=ip)
