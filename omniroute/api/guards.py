"""Access guards shared by the management routes."""

from __future__ import annotations

import ipaddress

from fastapi import Request

from omniroute.engine.errors import Forbidden


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


async def loopback_only(request: Request) -> None:
    """Bridge and inspector routes control this machine's traffic: local callers only."""
    client = request.client.host if request.client else None
    if not is_loopback(client):
        raise Forbidden("this route is only available from the local machine (loopback)")
