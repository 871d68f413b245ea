"""Which host names and addresses mean this machine only (pure; imports nothing of ours)."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host == "localhost"
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d (Python < 3.13 calls those
    # non-loopback).
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback
