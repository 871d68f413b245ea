"""Traffic Inspector: every flow the proxy sees becomes a captured row, live.

Hooks only; building rows (masking, caps, timings, stream merge) is `omniroute.inspector.capture`.
Loaded before the AgentBridge so the row records what the agent sent, before any rewrite.
"""

from __future__ import annotations

from mitmproxy import http, tcp

from omniroute.inspector.capture import StreamTee, is_stream_response
from omniroute.listeners import is_bridge_mode
from runtime_host import RuntimeHost

ROW_KEY = "omniroute.row"
TEE_KEY = "omniroute.tee"
BRIDGE_KEY = "omniroute"  # set by the AgentBridge addon


def _source(mode_data: str | None) -> str:
    return "agent-bridge" if is_bridge_mode(mode_data) else "http-proxy"


class Inspector:
    def __init__(self, host: RuntimeHost) -> None:
        self.host = host

    def request(self, flow: http.HTTPFlow) -> None:
        runtime = self.host.runtime
        if runtime is None:
            return
        match = runtime.catalog.identify(
            flow.request.pretty_host, flow.request.path, flow.request.headers.get("user-agent")
        )
        flow.metadata[ROW_KEY] = runtime.capture.request(
            flow, _source(flow.client_conn.proxy_mode.data), match.agent.id if match else None
        )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        runtime = self.host.runtime
        if runtime is None or flow.response is None or not is_stream_response(flow.response):
            return
        # Streams are relayed event by event (never buffered) and teed into a bounded copy.
        tee = StreamTee(runtime.settings.inspector_body_cap)
        flow.response.stream = tee
        flow.metadata[TEE_KEY] = tee

    def response(self, flow: http.HTTPFlow) -> None:
        runtime, row = self.host.runtime, flow.metadata.get(ROW_KEY)
        if runtime is None or row is None:
            return
        runtime.capture.attribute(row, flow.metadata.get(BRIDGE_KEY))
        runtime.capture.response(flow, row, flow.metadata.get(TEE_KEY))

    def error(self, flow: http.HTTPFlow) -> None:
        runtime, row = self.host.runtime, flow.metadata.get(ROW_KEY)
        if runtime is None or row is None:
            return
        runtime.capture.attribute(row, flow.metadata.get(BRIDGE_KEY))
        runtime.capture.error(flow, row)

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        """Connections tunnelled without decryption (bypass list, unknown hosts in DNS mode)."""
        runtime = self.host.runtime
        if runtime is not None:
            runtime.capture.tunnel(flow.client_conn, flow.server_conn, _source(flow.client_conn.proxy_mode.data))
