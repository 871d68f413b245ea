"""Where passthrough traffic really goes: real DNS, and a guard against looping back to us."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from omniroute.bridge.upstream_dns import UpstreamDNSError, is_loopback_or_self

if TYPE_CHECKING:
    from omniroute.runtime import Runtime


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


def loops_back(ip: str, port: int, own_ports: set[int], own_addresses: set[str]) -> bool:
    """Connecting to (ip, port) would reach one of our own proxy listeners."""
    return port in own_ports and is_loopback_or_self(ip, own_addresses)


async def choose_upstream(runtime: Runtime, host: str, port: int) -> UpstreamChoice:
    own_ports = {p for p in (runtime.settings.proxy_port, runtime.settings.bridge_port) if p}
    if _is_ip(host):
        if loops_back(host, port, own_ports, runtime.own_addresses):
            return UpstreamChoice(error=f"loop: {host}:{port} is OmniRoute itself", loop=True)
        return UpstreamChoice()
    if host == "localhost":
        return UpstreamChoice()
    try:
        addresses = await runtime.resolver.resolve(host)
    except UpstreamDNSError as exc:
        servers = ", ".join(runtime.resolver.nameservers) or "system resolvers"
        return UpstreamChoice(error=f"cannot resolve {host} with upstream DNS ({servers}): {exc}")
    ip = addresses[0]
    if loops_back(ip, port, own_ports, runtime.own_addresses):
        return UpstreamChoice(
            error=(
                f"loop: {host} resolves to {ip}, which is OmniRoute itself; set "
                "OMNIROUTE_UPSTREAM_DNS to real DNS servers"
            ),
            loop=True,
        )
    return UpstreamChoice(ip=ip)
