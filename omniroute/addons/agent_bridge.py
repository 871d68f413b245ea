"""AgentBridge: recognise the agent behind each intercepted call and route mapped calls.

Hooks only; the decisions live in `omniroute.bridge`.
"""

from __future__ import annotations

import asyncio
import json
import logging

from mitmproxy import connection, http, tls
from mitmproxy.proxy import server_hooks

from omniroute.addons.runtime_host import RuntimeHost
from omniroute.api.guards import peer_key
from omniroute.bridge import in_process, relay_guard, zed
from omniroute.bridge import interceptor as bridge
from omniroute.bridge.decrypt_policy import tunnel_undecrypted
from omniroute.bridge.handoff import handoff_headers
from omniroute.bridge.upstream import AGENT_PORT, UpstreamChoice
from omniroute.listeners import is_bridge_mode
from omniroute.translate.formats import WireFormat

log = logging.getLogger("omniroute.bridge")

METADATA_KEY = "omniroute"
ZED_REPLY_KEY = "omniroute.zed"  # a routed Zed call: how its client wants the stream framed


def _dns_mode_arrival(client: connection.Client) -> str | None:
    """The local address a DNS-mode client connected to (None in HTTP_PROXY mode)."""
    if not is_bridge_mode(client.proxy_mode.data) or not client.sockname:
        return None
    return str(client.sockname[0])


class AgentBridge:
    def __init__(self, host: RuntimeHost) -> None:
        self.host = host
        # (resolved ip, port) → host name, for the upstream TLS SNI of passthrough requests.
        self._names: dict[tuple[str, int], str] = {}
        # Client connections with a routed call: only they may connect to our API (our rewrite).
        self._routed_clients: set[str] = set()

    def _relay_refusal(self, client: connection.Client, host: str, port: int) -> str | None:
        services = self.host.services
        if services is None or relay_guard.is_local_client(client.peername):
            return None
        return relay_guard.refusal(host, port, services.own_addresses)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        reason = self._relay_refusal(flow.client_conn, flow.request.host, flow.request.port)
        if reason and flow.response is None:
            flow.response = _refused(reason)

    def client_disconnected(self, client: connection.Client) -> None:
        self._routed_clients.discard(client.id)

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        """Runs before the first byte is sent: the API then knows this caller is our proxy."""
        services, server = self.host.services, data.server
        if services is None or not server.peername or not server.sockname:
            return
        if server.peername[1] == services.settings.api_port and relay_guard.names_this_machine(
            str(server.peername[0]), services.own_addresses
        ):
            services.proxied_peers.add(peer_key(str(server.sockname[0]), int(server.sockname[1])))

    def server_disconnected(self, data: server_hooks.ServerConnectionHookData) -> None:
        services, local = self.host.services, data.server.sockname
        if services is not None and local:
            services.proxied_peers.discard(peer_key(str(local[0]), int(local[1])))

    async def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        services = self.host.services
        if services is None:
            return
        sni = data.client_hello.sni
        dns_mode = is_bridge_mode(data.context.client.proxy_mode.data)
        address = data.context.server.address
        choice: UpstreamChoice | None = None
        if dns_mode and sni:
            # The hosts file sent the agent here; its SNI names the real upstream, which is
            # resolved with real DNS (the hosts file would point back at us).
            data.context.server.sni = sni
            choice = await services.upstream.choose(sni, AGENT_PORT, _dns_mode_arrival(data.context.client))
            data.context.server.address = (choice.ip or sni, AGENT_PORT)
        if tunnel_undecrypted(
            sni=sni,
            connect_host=None if dns_mode or address is None else str(address[0]),
            dns_mode=dns_mode,
            intercept_on=services.board.tls_intercept,
            bypassed=services.bypass,
            ours=lambda host: services.catalog.is_known_host(host) or services.custom_hosts.is_custom(host),
            no_route=choice is not None and choice.error is not None and not choice.loop,
        ):
            data.ignore_connection = True  # tunnelled, never decrypted

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if is_bridge_mode(flow.client_conn.proxy_mode.data) and flow.client_conn.sni:
            flow.request.host = flow.client_conn.sni
            flow.request.port = AGENT_PORT
            flow.request.scheme = "https"

    async def request(self, flow: http.HTTPFlow) -> None:
        services = self.host.services
        if services is None or flow.response is not None:
            return
        request = flow.request
        # The client's own destination, before any rewrite of ours.
        reason = self._relay_refusal(flow.client_conn, request.host, request.port)
        if reason:
            flow.response = _refused(reason)
            return
        original_host = request.pretty_host
        decision = bridge.decide(
            services.catalog,
            services.mappings,
            host=original_host,
            method=request.method,
            path=request.path,
            headers=request.headers,
            body=request.raw_content,
        )
        if decision.agent is not None:
            if services.agent_states.seen(decision.agent.id):
                # Rarely (once a minute at most) and off the event loop: last-seen times.
                asyncio.get_running_loop().run_in_executor(None, services.agent_states.flush)
            flow.metadata[METADATA_KEY] = {
                "agent": decision.agent.id,
                "wireFormat": decision.wire_format,
                "sourceModel": decision.source_model,
                "mappedModel": decision.target_model,
                "routed": decision.route,
                "stream": decision.stream,
                "note": decision.note,
            }
        if decision.reply is not None:
            reply = decision.reply
            flow.response = http.Response.make(reply.status, reply.body, {"content-type": reply.content_type})
            return
        if decision.websocket and not services.settings.bridge_websocket:
            flow.metadata[METADATA_KEY]["note"] = "WebSocket refused (bridge_websocket off): HTTPS fallback"
            flow.response = http.Response.make(
                426, "OmniRoute takes this agent's calls over HTTPS only", {"content-type": "text/plain"}
            )
            return
        if decision.route:
            if in_process.answers_in_process(decision):
                answer = await in_process.answer(
                    services.router, decision, original_host=original_host,
                    body=request.raw_content, headers=request.headers,
                )
                flow.response = http.Response.make(answer.status, answer.body, answer.headers)
                return
            self._route(flow, decision, original_host)
            return
        choice = await services.upstream.choose(request.host, request.port, _dns_mode_arrival(flow.client_conn))
        if choice.loop:
            flow.response = http.Response.make(
                508, choice.error or "loop detected", {"content-type": "text/plain"}
            )
        elif choice.error:
            flow.response = http.Response.make(502, choice.error, {"content-type": "text/plain"})
        elif reason := self._relay_refusal(flow.client_conn, choice.ip or request.host, request.port):
            flow.response = _refused(reason)
        elif choice.ip:
            # Connect to the address real DNS gave, while the server still sees its own name
            # (Host header here, SNI in server_connect). Keeping the IP on the request, not only
            # on the connection, lets mitmproxy reuse the upstream connection for the next call.
            host_header = request.host_header
            self._names[(choice.ip, request.port)] = request.host
            request.host = choice.ip
            request.host_header = host_header

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        """A routed Responses WebSocket names its model per frame: show source → mapped."""
        services, meta = self.host.services, flow.metadata.get(METADATA_KEY)
        if services is None or not meta or not meta.get("routed") or flow.websocket is None:
            return
        message = flow.websocket.messages[-1]
        if not message.from_client or not message.is_text:
            return
        try:
            frame = json.loads(message.content)
        except ValueError:
            return
        model = frame.get("model") if isinstance(frame, dict) and frame.get("type") == "response.create" else None
        if not isinstance(model, str):
            return
        meta["sourceModel"], meta["mappedModel"] = model, services.mappings.target_for(meta["agent"], model)
        # The inspector's row for this flow has the flow's id; its response hook ran at the 101.
        services.ring.update(flow.id, source_model=model, mapped_model=meta["mappedModel"])

    def _route(self, flow: http.HTTPFlow, decision: bridge.Decision, original_host: str) -> None:
        services = self.host.services
        assert services is not None and decision.agent is not None
        request = flow.request
        self._routed_clients.add(flow.client_conn.id)
        request.scheme = "http"
        request.host = "127.0.0.1"
        request.port = services.settings.api_port
        request.path = decision.engine_path()
        request.headers.update(handoff_headers(decision, original_host, services.tokens.internal))
        if decision.engine_body is not None:
            request.content = decision.engine_body
        if decision.wire_format == WireFormat.ZED:
            flow.metadata[ZED_REPLY_KEY] = zed.ZedReplyFormat.from_headers(request.headers)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """A routed Zed call: the engine's SSE becomes the JSON lines Zed reads."""
        reply: zed.ZedReplyFormat | None = flow.metadata.get(ZED_REPLY_KEY)
        response = flow.response
        if reply is None or response is None or not 200 <= response.status_code < 300:
            return
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return
        response.headers.update(reply.response_headers())
        before = response.stream if callable(response.stream) else None
        response.stream = zed.ZedLineFramer(reply, before)

    def response(self, flow: http.HTTPFlow) -> None:
        """A routed Zed call that failed: the error in Zed's own shape."""
        response = flow.response
        if ZED_REPLY_KEY not in flow.metadata or response is None or response.status_code < 400 or response.stream:
            return
        response.content = zed.error_body(response.status_code, response.content)
        response.headers["content-type"] = "application/json"

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        """Connect passthrough traffic to the address real DNS gives, never the hosts file's."""
        services = self.host.services
        if services is None or data.server.address is None or data.server.error:
            return
        host, port = data.server.address[0], data.server.address[1]
        name = self._names.get((host, port))
        if name is not None and data.server.sni in (None, host):
            data.server.sni = name  # the request hook put the resolved IP on the request
        else:
            choice: UpstreamChoice = await services.upstream.choose(host, port, _dns_mode_arrival(data.client))
            if choice.error:
                data.server.error = choice.error
                return
            if choice.ip:
                host = choice.ip
                data.server.address = (host, port)
        # Every connection, whatever opened it (tunnels, DNS mode): the last word on relaying.
        ours = data.client.id in self._routed_clients and (host, port) == ("127.0.0.1", services.settings.api_port)
        if not ours and (reason := self._relay_refusal(data.client, host, port)):
            data.server.error = reason


def _refused(reason: str) -> http.Response:
    return http.Response.make(403, reason, {"content-type": "text/plain"})
