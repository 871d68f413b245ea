"""mitmproxy's TLS addon for `omniroute run`, which reads the CA once per start."""

from __future__ import annotations

from mitmproxy.addons import tlsconfig


class TlsConfig(tlsconfig.TlsConfig):
    """mitmproxy's `tlsconfig` (same name, same options and hooks) without its second read
    of the CA when the proxy starts.

    Its `running` hook reads the CA again because mitmdump never announces a `confdir` it was
    not given. `omniroute run` always sets `confdir` before the master runs, and that update has
    already read the CA (and the `certs` option) and checked its expiry; each read checks the
    RSA key again, which is a real part of a start. A later `confdir` update, or the CA
    regeneration (`MitmproxyHost.reload_certificates`), reads it as before.
    """

    def running(self) -> None:
        """The CA was read when `omniroute run` set `confdir`."""
