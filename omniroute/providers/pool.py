"""One pooled httpx client per provider connection."""

from __future__ import annotations

import asyncio

import httpx

# Connect fast, read patiently: model calls can think for minutes between bytes.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)


class ClientPool:
    def __init__(self, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._transports: dict[str, httpx.AsyncBaseTransport] = {}

    def register_transport(self, connection_id: str, transport: httpx.AsyncBaseTransport) -> None:
        """Serve a connection in-process (the demo provider) instead of over the network."""
        self._transports[connection_id] = transport

    def get(self, connection_id: str, max_concurrent: int | None = None) -> httpx.AsyncClient:
        client = self._clients.get(connection_id)
        if client is None:
            limits = httpx.Limits(
                max_connections=max_concurrent or 100, max_keepalive_connections=32
            )
            client = httpx.AsyncClient(
                timeout=self._timeout,
                limits=limits,
                http2=True,  # negotiated by ALPN, so plain-HTTP upstreams stay on HTTP/1.1
                transport=self._transports.get(connection_id),
                # The engine decides what to forward; never inherit the user's HTTP(S)_PROXY,
                # which may point at our own MITM listener.
                trust_env=False,
            )
            self._clients[connection_id] = client
        return client

    async def drop(self, connection_id: str) -> None:
        client = self._clients.pop(connection_id, None)
        if client is not None:
            await client.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
