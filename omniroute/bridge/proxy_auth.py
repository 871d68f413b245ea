"""Proxy authentication on the HTTP proxy listener only (mitmproxy's ``proxyauth`` option).

mitmproxy's own addon asks reverse-mode clients for ``Authorization``; the DNS-mode listener is a
reverse proxy whose clients send their provider key in that header, so it is left alone there
(it cannot authenticate clients at all: see ``omniroute.exposure``).

mitmproxy's addon module imports ldap3 for its LDAP validator, a real part of a start's memory
and time, for an option a local install leaves empty. So this addon declares the
option itself and builds mitmproxy's addon the first time the option is set; the validators
(``user:pass``, ``any``, ``@htpasswd``, ``ldap[s]:…``) and their checks stay mitmproxy's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from mitmproxy import addonmanager, ctx, http

from omniroute.listeners import is_bridge_mode

if TYPE_CHECKING:
    from mitmproxy.addons.proxyauth import ProxyAuth

# mitmproxy's help for the option, as `mitmdump --options` shows it.
HELP = """
Require proxy authentication. Format:
"username:pass",
"any" to accept any user/pass combination,
"@path" to use an Apache htpasswd file,
or "ldap[s]:url_server_ldap[:port]:dn_auth:password:dn_subtree[?search_filter_key=...]" for LDAP authentication.
"""


class ProxyListenerAuth:
    def __init__(self) -> None:
        self.auth: ProxyAuth | None = None  # mitmproxy's addon, once the option is set

    def load(self, loader: addonmanager.Loader) -> None:
        # Optional[str], as mitmproxy declares it: the option's type check compares the two.
        loader.add_option("proxyauth", Optional[str], None, HELP)  # noqa: UP045

    def configure(self, updated: set[str]) -> None:
        if self.auth is None and "proxyauth" in updated and ctx.options.proxyauth:
            from mitmproxy.addons.proxyauth import ProxyAuth

            self.auth = ProxyAuth()
        if self.auth is not None:
            self.auth.configure(updated)  # an invalid specification raises OptionsError here

    def http_connect(self, f: http.HTTPFlow) -> None:
        if self.auth is not None and not is_bridge_mode(f.client_conn.proxy_mode.data):
            self.auth.http_connect(f)

    def requestheaders(self, f: http.HTTPFlow) -> None:
        if self.auth is not None and not is_bridge_mode(f.client_conn.proxy_mode.data):
            self.auth.requestheaders(f)
