"""What a listener beyond loopback must not expose silently; checked before anything starts.

Bound to loopback, only this machine reaches the listeners. Bound wider, the LAN does, so:

* the HTTP proxy listener needs proxy authentication (``--proxy-auth``, mitmproxy's
  ``proxyauth``) or the explicit ``--allow-open-proxy``;
* the DNS-mode listener cannot authenticate its clients (they speak TLS to what they believe is
  the real host), so it needs ``--allow-open-proxy`` (or ``--bridge-port 0``);
* ``/v1`` needs ``REQUIRE_API_KEY`` or the explicit ``--allow-open-v1``.

Whatever is allowed, the proxy never relays another machine into this one
(``omniroute.bridge.relay_guard``) and management needs an admin key (``omniroute.api.auth``).
"""

from __future__ import annotations

from omniroute.addresses import is_loopback
from omniroute.config import Settings


def exposure_problem(settings: Settings, proxy_auth: str | None = None, proxy_host: str | None = None) -> str | None:
    """One line saying what would be open to the LAN and how to close or accept it; else None.

    ``proxy_host`` is where the proxy listeners bind when that is not ``settings.host``
    (mitmproxy's ``listen_host`` under a plain mitmdump; empty means every interface)."""
    proxy_host = settings.host if proxy_host is None else proxy_host
    if not is_loopback(proxy_host):
        problem = _proxy_exposure(settings, proxy_auth, proxy_host)
        if problem:
            return problem
    if is_loopback(settings.host):
        return None
    where = f"--host {settings.host} listens beyond loopback"
    if settings.api_port and not settings.require_api_key and not settings.allow_open_v1:
        return (
            f"{where}: /v1 model calls would be open to every machine that reaches it; set "
            "REQUIRE_API_KEY=true (create a key with POST /api/keys), or pass --allow-open-v1"
        )
    return None


def _proxy_exposure(settings: Settings, proxy_auth: str | None, proxy_host: str) -> str | None:
    where = f"--host {proxy_host or '(every interface)'} listens beyond loopback"
    if settings.proxy_port and not (proxy_auth or settings.proxy_auth) and not settings.allow_open_proxy:
        return (
            f"{where}: the HTTP proxy listener would be open to every machine that reaches it; "
            "pass --proxy-auth USER:PASS (or OMNIROUTE_PROXY_AUTH), --proxy-port 0, "
            "or --allow-open-proxy to run it open"
        )
    if settings.bridge_port and not settings.allow_open_proxy:
        return (
            f"{where}: the DNS-mode listener cannot authenticate its clients; pass --bridge-port 0, "
            "or --allow-open-proxy to run it open"
        )
    return None
