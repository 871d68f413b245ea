"""AgentBridge: recognise the agent behind each intercepted call and route mapped calls.

Hooks only; the decisions live in `omniroute.bridge`.
"""

from __future__ import annotations

import logging

from mitmproxy import http, tls

from omniroute.bridge import interceptor as bridge
from omniroute.listeners import is_bridge_mode
from runtime_host import RuntimeHost

log = logging.getLogger("omniroute.bridge")

METADATA_KEY = "omniroute"


def _is_bridge_connection(mode_data: str | None) -> bool:
    return is_bridge_mode(mode_data)


class AgentBridge:
    def __init__(self, host: RuntimeHost) -> None:
        self.host = host

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        runtime = self.host.runtime
        sni = data.client_hello.sni
        if runtime is None or not sni:
            return
        if _is_bridge_connection(data.context.client.proxy_mode.data):
            # DNS mode: the hosts file sent the agent here; its SNI names the real upstream.
            data.context.server.address = (sni, 443)
            data.context.server.sni = sni
            if not runtime.catalog.is_known_host(sni):
                data.ignore_connection = True  # not an agent host: tunnel it, never decrypt

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if _is_bridge_connection(flow.client_conn.proxy_mode.data) and flow.client_conn.sni:
            flow.request.host = flow.client_conn.sni
            flow.request.port = 443
            flow.request.scheme = "https"

    def request(self, flow: http.HTTPFlow) -> None:
        runtime = self.host.runtime
        if runtime is None or flow.response is not None:
            return
        request = flow.request
        original_host = request.pretty_host
        decision = bridge.decide(
            runtime.catalog,
            runtime.mappings,
            host=original_host,
            method=request.method,
            path=request.path,
            headers=request.headers,
            body=request.raw_content,
        )
        if decision.agent is None:
            return
        flow.metadata[METADATA_KEY] = {
            "agent": decision.agent.id,
            "wireFormat": decision.wire_format,
            "sourceModel": decision.source_model,
            "mappedModel": decision.target_model,
            "routed": decision.route,
            "note": decision.note,
        }
        if not decision.route:
            return
        assert decision.target_model is not None
        request.scheme = "http"
        request.host = "127.0.0.1"
        request.port = runtime.settings.api_port
        request.path = decision.engine_path()
        request.headers[bridge.H_INTERNAL] = runtime.internal_token
        request.headers[bridge.H_SOURCE] = "agent-bridge"
        request.headers[bridge.H_AGENT] = decision.agent.id
        request.headers[bridge.H_ORIGINAL_HOST] = original_host
        request.headers[bridge.H_MODEL] = decision.target_model
        request.headers[bridge.H_STREAM] = "1" if decision.stream else "0"

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        meta = flow.metadata.get(METADATA_KEY)
        if meta and meta["routed"] and flow.response is not None:
            content_type = flow.response.headers.get("content-type", "")
            if "event-stream" in content_type or "ndjson" in content_type:
                flow.response.stream = True  # relay each event as it arrives
