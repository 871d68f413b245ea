"""Access guards shared by the management routes."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Container, Sequence
from typing import Any

from fastapi import Request
from starlette.types import Scope

from omniroute.addresses import is_loopback
from omniroute.api.deps import services_of
from omniroute.api.guard_pass import Check, Denial, Headers
from omniroute.engine.errors import Forbidden
from omniroute.engine.ip_filter import IpFilter

_MODEL_PREFIXES = ("/v1/", "/api/v1/", "/v1beta/")


def peer_key(host: str, port: int) -> tuple[str, int]:
    """One spelling per socket end: ``::ffff:127.0.0.1`` is ``127.0.0.1``."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host, port
    return str(getattr(address, "ipv4_mapped", None) or address), port


def is_local_caller(client: Sequence[Any] | None, proxied_peers: Container[tuple[str, int]]) -> bool:
    """The caller is on this machine: a loopback peer that is not one of our own proxy's
    connections (a request the proxy relays comes from the proxy's client, wherever that is)."""
    if not client or not is_loopback(str(client[0])):
        return False
    return peer_key(str(client[0]), int(client[1])) not in proxied_peers


async def loopback_only(request: Request) -> None:
    """Bridge and inspector routes control this machine's traffic: local callers only."""
    client = (request.client.host, request.client.port) if request.client else None
    if not is_local_caller(client, services_of(request).proxied_peers):
        raise Forbidden("this route is only available from the local machine (loopback)")


def ip_refusal(ip_filter: IpFilter, scope: Scope) -> str | None:
    """Why the user's IP filter refuses this caller, or None. A caller on this machine keeps
    the management API and the UI (only its model calls are refused), so a filter that shuts
    out this machine can still be undone from it."""
    client = scope.get("client")
    if not ip_filter.active or not client:
        return None
    reason = ip_filter.refusal(str(client[0]))
    if reason is None:
        return None
    if is_loopback(str(client[0])) and not str(scope.get("path", "")).startswith(_MODEL_PREFIXES):
        return None
    return f"{reason}; the IP filter is set with PUT /api/settings/ip-filter"


def ip_filter_check(ip_filter: IpFilter, internal_token: str) -> Check:
    """The IP filter as the guard pass's first check. A call our own AgentBridge relays (the
    internal token) is exempt: its peer is our proxy, not the agent."""
    token = internal_token.encode() if internal_token else b""

    def check(scope: Scope, headers: Headers) -> Denial | None:
        if not ip_filter.active:
            return None
        reason = ip_refusal(ip_filter, scope)
        if reason is None:
            return None
        internal = headers.get(b"x-omniroute-internal")
        if internal and token and hmac.compare_digest(internal, token):
            return None
        return Denial(403, reason)

    return check
