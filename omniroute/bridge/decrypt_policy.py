"""Which TLS connections OmniRoute decrypts; decided once per ClientHello, before any leaf is made.

Our CA signs a leaf for the names of the connection (the SNI, and the address of a ``CONNECT``),
so a connection is decrypted only when every name it carries may be: the CA never signs for a
host it should not. Tunnelled (never decrypted) are:

* everything, while TLS interception is off;
* a ``CONNECT`` to a host name whose ClientHello names another host (``CONNECT www.paypal.com``
  with SNI ``api.anthropic.com`` would otherwise get a leaf for both);
* a connection with no name to decide on (no SNI, and a ``CONNECT`` to a bare IP address);
* a host on the bypass list, named by the SNI or by the ``CONNECT``;
* in DNS mode, any host that is neither a known agent host nor a custom capture host, unless
  it has no route (real DNS cannot resolve it): a tunnel to nowhere would only abort the
  handshake, so it is decrypted and answered with a 502 that says why; nothing is passed on.

A ``CONNECT`` to an IP address with an SNI is decided by the SNI (clients that resolve names
themselves connect that way).
"""

from __future__ import annotations

from collections.abc import Callable

from omniroute.bridge.catalog import normalize_host
from omniroute.bridge.relay_guard import literal_address


def tunnel_undecrypted(
    *,
    sni: str | None,
    connect_host: str | None,
    dns_mode: bool,
    intercept_on: bool,
    bypassed: Callable[[str], bool],
    ours: Callable[[str], bool],
    no_route: bool = False,
) -> bool:
    if not intercept_on:
        return True
    names = [normalize_host(sni)] if sni else []
    if connect_host and literal_address(connect_host) is None:
        requested = normalize_host(connect_host)
        if names and names[0] != requested:
            return True
        names = [requested]
    if not names:
        return True
    if any(bypassed(name) for name in names):
        return True
    return dns_mode and not no_route and not ours(names[0])
