"""The proxy listeners never relay a client from another machine into this one.

Why: with a listener beyond loopback, ``curl -x http://LAN-IP:PROXY http://127.0.0.1:API/api/keys``
would reach our API (and any loopback-only service) from this machine's own address, which every
service on it trusts as local. So for a client that is not on this machine, every destination on
this machine is refused: loopback (127.0.0.0/8, ``::1``, IPv4-mapped forms), the unspecified
addresses (``0.0.0.0`` and ``::`` connect to this machine on Linux), the machine's own addresses,
``localhost`` and ``*.localhost``, legacy IPv4 spellings (``2130706433``, ``0x7f.1``) that the
system resolver turns into loopback, and names whose real-DNS answer is one of these (checked on the
resolved address where the connection is made). A client on this machine gains nothing it lacks
(it could connect directly), so it may still reach local upstreams (a model server on loopback).

Our own rewrite of a mapped agent call to ``127.0.0.1:<api-port>`` is not a client's destination:
it is allowed only for a connection whose request the bridge routed (see ``AgentBridge._route``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from omniroute.bridge.upstream_dns import is_loopback_or_self

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this host on this network" (RFC 1122)
_LEGACY_IPV4 = frozenset("0123456789abcdefxABCDEFX.")


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when the system would read it as one, else None.

    Besides ordinary literals (brackets and zone ignored), ``inet_aton`` forms: ``2130706433``,
    ``0x7f000001``, ``127.1``, ``0177.0.0.1`` all connect to 127.0.0.1 through ``getaddrinfo``.
    """
    text = host.split("%", 1)[0].strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not text or not set(text) <= _LEGACY_IPV4 or not text[0].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def names_this_machine(host: str, own_addresses: Iterable[str] = ()) -> bool:
    """``host`` (a name or an address) is this machine without asking DNS."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True  # RFC 6761: always loopback, whatever a resolver says
    address = literal_address(name)
    if address is None:
        return False
    mapped = getattr(address, "ipv4_mapped", None) or address
    if isinstance(mapped, ipaddress.IPv4Address) and mapped in _THIS_NETWORK:
        return True
    return is_loopback_or_self(str(mapped), own_addresses)


def is_local_client(peer: tuple[str, int] | tuple[str, int, int, int] | None) -> bool:
    """The proxy client is on this machine (its socket peer is loopback)."""
    if not peer:
        return False
    address = literal_address(str(peer[0]))
    if address is None:
        return False
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def refusal(host: str, port: int, own_addresses: Iterable[str]) -> str | None:
    """Why a client from another machine may not be relayed to ``host:port``; None if it may."""
    if not names_this_machine(host, own_addresses):
        return None
    return (
        f"OmniRoute's proxy does not relay clients from other machines to this machine "
        f"({host}:{port} is loopback or one of its own addresses)"
    )
