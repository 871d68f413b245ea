"""Traffic Inspector: every flow the proxy sees becomes a captured row, live.

Hooks only; building rows (masking, caps, timings, stream merge) is `omniroute.inspector.capture`,
which keeps the hooks O(1): headers and bodies are kept as they are and masked when first read.
Loaded before the AgentBridge so the row records what the agent sent, before any rewrite.
Setting `inspector_enabled = false` (or pausing capture at runtime) stops new captures.
"""

from __future__ import annotations

from mitmproxy import http, tcp

from omniroute.addons.runtime_host import RuntimeHost
from omniroute.inspector.capture import Pending, StreamTee, is_stream_response
from omniroute.listeners import is_bridge_mode
from omniroute.services import Services

ROW_KEY = "omniroute.row"
TEE_KEY = "omniroute.tee"
BRIDGE_KEY = "omniroute"  # set by the AgentBridge addon


def _source(services: Services, mode_data: str | None, host: str) -> str:
    # A host the user added for capture is labelled so, whichever listener it came through.
    if services.custom_hosts.is_custom(host):
        return "custom-host"
    return "agent-bridge" if is_bridge_mode(mode_data) else "http-proxy"


class Inspector:
    def __init__(self, host: RuntimeHost) -> None:
        self.host = host

    def _capturing(self) -> Services | None:
        """The services while capture is on (setting `inspector_enabled`, or paused at runtime)."""
        services = self.host.services
        return services if services is not None and services.capture.enabled else None

    def request(self, flow: http.HTTPFlow) -> None:
        services = self._capturing()
        if services is None:
            return
        request, catalog = flow.request, services.catalog
        host, path, user_agent = request.pretty_host, request.path, request.headers.get("user-agent")

        def identify() -> str | None:
            # Not free, so only when the row is read before the AgentBridge's decision names
            # the agent (it identifies every flow the same way).
            match = catalog.identify(host, path, user_agent)
            return match.agent.id if match else None

        source = _source(services, flow.client_conn.proxy_mode.data, host)
        flow.metadata[ROW_KEY] = services.capture.request(flow, source, identify=identify)

    # A flow whose request was captured is completed even if capture was paused meanwhile.
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        services = self.host.services
        if services is None or ROW_KEY not in flow.metadata or flow.response is None:
            return
        if not is_stream_response(flow.response):
            return
        # Streams are relayed event by event (never buffered) and teed into a bounded copy.
        tee = StreamTee(services.settings.inspector_body_cap)
        flow.response.stream = tee
        flow.metadata[TEE_KEY] = tee

    def response(self, flow: http.HTTPFlow) -> None:
        services, pending = self.host.services, flow.metadata.pop(ROW_KEY, None)
        if services is None or not isinstance(pending, Pending):
            return
        services.capture.attribute(pending.row, flow.metadata.get(BRIDGE_KEY))
        services.capture.response(flow, pending, flow.metadata.pop(TEE_KEY, None))

    def error(self, flow: http.HTTPFlow) -> None:
        services, pending = self.host.services, flow.metadata.pop(ROW_KEY, None)
        if services is None or not isinstance(pending, Pending):
            return
        services.capture.attribute(pending.row, flow.metadata.get(BRIDGE_KEY))
        services.capture.error(flow, pending, flow.metadata.get(TEE_KEY))

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        """Connections tunnelled without decryption (bypass list, unknown hosts in DNS mode,
        everything while TLS interception is off)."""
        services = self._capturing()
        if services is not None:
            server = flow.server_conn
            host = server.sni or (server.address[0] if server.address else "")
            services.capture.tunnel(flow.client_conn, server, _source(services, flow.client_conn.proxy_mode.data, host))
