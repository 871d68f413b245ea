"""Loaded after OmniRoute's addons by test_mitmdump_addons: uses OmniRoute's commands the way
any mitmproxy script can (`ctx.master.commands.call`)."""

import os

from mitmproxy import ctx, http


class CallOmniRouteCommands:
    def running(self) -> None:
        # OmniRoute's runtime exists by now: its `running` hook is awaited first.
        ctx.master.commands.call("omniroute.record.start", "from a script")
        ctx.master.commands.call("omniroute.map", "claude-code", "*", "mock/claude-mapped")

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.request.pretty_host == "api.anthropic.com":
            ctx.master.commands.call("omniroute.har", os.environ["OMNIROUTE_TEST_HAR"])
            ctx.master.commands.call("omniroute.record.stop")


addons = [CallOmniRouteCommands()]
