"""Header-read timeout on the proxy listeners (HTTP_PROXY and AgentBridge).

mitmproxy closes a connection only after `tcp_timeout` seconds without a byte, so a client
that connects and sends nothing for a while, or drips its request headers (slowloris), holds
its connection for as long as it likes. Here each client gets `header_timeout` seconds
(setting `OMNIROUTE_HEADER_TIMEOUT`) from connecting until its first request's headers are
complete, or until a tunnel starts for a host we do not decrypt; otherwise it is closed the way
mitmproxy closes an idle connection. Idle connections after that are mitmproxy's
`tcp_timeout` (set from `OMNIROUTE_PROXY_IDLE_TIMEOUT`).
"""

from __future__ import annotations

import asyncio
import logging

from mitmproxy import connection, ctx, http, tcp

from omniroute.addons.runtime_host import RuntimeHost

log = logging.getLogger("omniroute")


class ListenerLimits:
    def __init__(self, host: RuntimeHost) -> None:
        self.host = host
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def client_connected(self, client: connection.Client) -> None:
        services = self.host.services
        if services is None:
            return
        loop = asyncio.get_running_loop()
        self._timers[client.id] = loop.call_later(services.settings.header_timeout, self._expire, client.id)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._disarm(flow.client_conn.id)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._disarm(flow.client_conn.id)  # a tunnel we do not decrypt: nothing to read

    def client_disconnected(self, client: connection.Client) -> None:
        self._disarm(client.id)

    def _disarm(self, client_id: str) -> None:
        timer = self._timers.pop(client_id, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, client_id: str) -> None:
        self._timers.pop(client_id, None)
        handler = ctx.master.addons.get("proxyserver").connections.get(client_id)
        if handler is not None:
            log.info("closing a proxy client that sent no complete request headers in time")
            asyncio.ensure_future(handler.on_timeout())  # mitmproxy's own way to drop an idle client
