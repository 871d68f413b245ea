"""Proxy authentication on the HTTP proxy listener only (mitmproxy's ``proxyauth`` option).

mitmproxy's own addon asks reverse-mode clients for ``Authorization``; the DNS-mode listener is a
reverse proxy whose clients send their provider key in that header, so it is left alone there
(it cannot authenticate clients at all: see ``omniroute.exposure``).
"""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.addons.proxyauth import ProxyAuth

from omniroute.listeners import is_bridge_mode


class ProxyListenerAuth(ProxyAuth):
    def http_connect(self, f: http.HTTPFlow) -> None:
        if not is_bridge_mode(f.client_conn.proxy_mode.data):
            super().http_connect(f)

    def requestheaders(self, f: http.HTTPFlow) -> None:
        if not is_bridge_mode(f.client_conn.proxy_mode.data):
            super().requestheaders(f)
