"""Host and Origin checks against DNS rebinding and cross-site requests from web pages.

Why: OmniRoute sees every prompt and key of a developer, and a web page can reach it. A page
on ``evil.example`` whose name is re-pointed at 127.0.0.1 (DNS rebinding) reads our API as
same-origin; its requests still say ``Host: evil.example``. And any page can *send* a
request to ``http://127.0.0.1:20128`` (a "simple" POST needs no CORS preflight, and our JSON
routes accept any content type); the browser then says where it came from in ``Origin``.

Rules, on every HTTP request and WebSocket handshake:

* ``Host`` must be a loopback name (``127.0.0.1``, ``localhost``, ``[::1]``) with the API
  port, an address this server listens on (the bound address; every address of this machine
  when bound to a wildcard — an IP literal cannot be rebound), or an entry of
  ``allowed_hosts`` (``name`` for any port, ``name:port`` for one). ``"*"`` turns the Host
  check off (behind a reverse proxy that checks it). Skipped when the API listener is
  disabled (``api_port`` 0): the app is then only reachable in-process (tests, embedding).
* ``Origin``, when present, must be a loopback origin (any port: a page served from this
  machine is as trusted as a local process, which can call us directly anyway) or have a
  host of ``allowed_hosts``. ``Origin: null`` (sandboxed frames, ``file:``) is refused.
* Calls rewritten by our own AgentBridge addon carry the process token and are exempt: their
  headers are the agent's, not a browser's.

A check of the guard pass (`omniroute.api.guard_pass`): no body buffering, set lookups on
precomputed byte strings.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.types import Scope

from omniroute.api.guard_pass import Check, Denial, Headers, declared_size, guards_of

if TYPE_CHECKING:
    from omniroute.services import Services

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_INTERNAL = b"x-omniroute-internal"
_WILDCARDS = ("0.0.0.0", "::", "")


def _bracket(host: str) -> str:
    """IPv6 literals are written ``[::1]`` in Host and Origin."""
    host = host.strip().lower()
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def split_host(value: str) -> tuple[str, int | None]:
    """``name[:port]`` → (lower-case name, port or None); ``[v6]:port`` keeps its brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, None
        name, rest = value[: end + 1], value[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = value.partition(":")
    if port_text.isdigit() and len(port_text) <= 5:
        return name, int(port_text)
    return name, None if not port_text else -1  # -1: a port that is no port never matches


def origin_host(origin: str) -> tuple[str, int | None] | None:
    """The host and port of an ``Origin`` value; None for ``null`` or anything malformed."""
    scheme, sep, rest = origin.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https", "ws", "wss") or not rest or "/" in rest:
        return None
    if "@" in rest:
        return None
    return split_host(rest)


def is_loopback_name(name: str) -> bool:
    """Exactly ``localhost`` or a loopback IP. ``*.localhost`` is refused: those origins are
    whatever a browser or a local dev tool maps there, not names this server answers to."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


class HostPolicy:
    """Which Host and Origin values this server answers; built once from the settings."""

    def __init__(self, api_port: int, bind_host: str, allowed: list[str], own_addresses: set[str]) -> None:
        self.check_host = api_port != 0 and "*" not in allowed
        self.api_port = api_port
        hosts = {f"{name}:{api_port}" for name in LOOPBACK_NAMES}
        if api_port == 80:
            hosts.update(LOOPBACK_NAMES)
        bind = bind_host.strip().lower()
        served = set(own_addresses) if bind in _WILDCARDS else {bind}
        hosts.update(f"{_bracket(addr)}:{api_port}" for addr in served if addr)
        self.any_port: set[str] = set()  # allowed_hosts names without a port
        for entry in allowed:
            if entry == "*" or not entry.strip():
                continue
            name, port = split_host(_bracket(entry) if entry.count(":") > 1 and "[" not in entry else entry)
            if port is None:
                self.any_port.add(name)
            elif port > 0:
                hosts.add(f"{name}:{port}")
        self.exact = frozenset(h.encode() for h in hosts)

    def host_ok(self, raw: bytes | None) -> bool:
        if not self.check_host:
            return True
        if raw is None:
            return False  # HTTP/1.1 requires Host; a browser always sends it
        if raw.lower() in self.exact:
            return True
        name, port = split_host(raw.decode("latin-1"))
        return name in self.any_port and port != -1

    def origin_ok(self, raw: bytes) -> bool:
        parsed = origin_host(raw.decode("latin-1"))
        if parsed is None:
            return False
        name, port = parsed
        if port == -1:
            return False
        if is_loopback_name(name):
            return True
        if name in self.any_port:
            return True
        return port is not None and f"{name}:{port}".encode() in self.exact and not is_loopback_name(name)


def host_origin_check(policy: HostPolicy, internal_token: str) -> Check:
    """:class:`HostPolicy` as a guard (`guard_pass`), for HTTP requests and WebSocket handshakes."""
    token = internal_token.encode() if internal_token else b""

    def check(scope: Scope, headers: Headers) -> Denial | None:
        host, origin = headers.get(b"host"), headers.get(b"origin")
        host_ok = policy.host_ok(host)
        if host_ok and origin is None:
            return None  # the common case: a CLI or SDK on this machine
        internal = headers.get(_INTERNAL)
        if internal and token and hmac.compare_digest(internal, token):
            return None
        if not host_ok:
            shown = (host or b"(none)").decode("latin-1")[:100]
            return Denial(403, (
                f"Host {shown!r} is not allowed: OmniRoute answers requests addressed to "
                f"localhost, 127.0.0.1 or [::1] on port {policy.api_port}, or to a host listed in "
                "allowed_hosts (OMNIROUTE_ALLOWED_HOSTS); this blocks DNS-rebinding attacks"
            ))
        if origin is not None and not policy.origin_ok(origin):
            shown = origin.decode("latin-1")[:100]
            return Denial(403, (
                f"Origin {shown!r} is not allowed: only pages served from this machine "
                "(loopback origins) or from a host listed in allowed_hosts (OMNIROUTE_ALLOWED_HOSTS) "
                "may call OmniRoute from a browser"
            ))
        return None

    return check


def policy_for(services: Services) -> HostPolicy:
    s = services.settings
    return HostPolicy(s.api_port, s.host, list(s.allowed_hosts), set(services.own_addresses))


def install(app: FastAPI, services: Services) -> None:
    """The request guards of this module, after the ones already in the app's guard pass:
    Host/Origin, then the declared body size."""
    guards = guards_of(app)
    guards.add(host_origin_check(policy_for(services), services.tokens.internal))
    guards.add(declared_size())
