"""mitmproxy's onboarding app for `omniroute run`, imported on its first request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mitmproxy import addonmanager, ctx, http

if TYPE_CHECKING:
    from mitmproxy.addons import onboarding


class Onboarding:
    """http://mitm.it through the HTTP proxy: mitmproxy's onboarding page (same name, same
    options), which hands out the CA in `confdir`, OmniRoute's, for devices to install.

    mitmproxy's addon is a Flask app built when its module is imported: Flask and Werkzeug are a
    real part of a start's memory and time, for a page opened once per device. So
    this addon declares the two options and imports the app on the first request for its host.
    """

    name = "onboarding"

    def __init__(self) -> None:
        self.app: onboarding.Onboarding | None = None

    def load(self, loader: addonmanager.Loader) -> None:
        loader.add_option("onboarding", bool, True, "Toggle the mitmproxy onboarding app.")
        loader.add_option(
            "onboarding_host", str, "mitm.it",
            """
            Onboarding app domain. For transparent mode, use an IP when a DNS
            entry for the app domain is not present.
            """,
        )

    def configure(self, updated: set[str]) -> None:
        if self.app is not None:
            self.app.configure(updated)

    async def request(self, flow: http.HTTPFlow) -> None:
        if not ctx.options.onboarding or flow.request.pretty_host != ctx.options.onboarding_host:
            return
        if self.app is None:
            from mitmproxy.addons import onboarding

            self.app = onboarding.Onboarding()
            self.app.configure({"onboarding_host", "confdir"})  # what it would have been told
        await self.app.request(flow)
