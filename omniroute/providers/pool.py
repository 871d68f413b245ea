"""One pooled HTTP transport per provider connection, and how the engine sends through it."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx

from omniroute import __version__
from omniroute.providers.lean_http import LeanPool

# Connect fast, read patiently: model calls can think for minutes between bytes.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=60.0, pool=30.0)
# ProviderConnection.extra key of a per-connection timeout in seconds (API: timeoutSeconds).
TIMEOUT_KEY = "timeoutSeconds"
# What httpx.AsyncClient would add to every request; sent on the engine's direct path too.
# No br/zstd: those decoders are optional extras of httpx.
BASE_HEADERS = {
    "accept": "*/*",
    "accept-encoding": "gzip, deflate",
    "user-agent": f"OmniRoute/{__version__}",
}
_URL_CACHE_MAX = 256


class ProxyFor(Protocol):
    """The proxy URL for a connection (its id, and its name and provider type when known), or None."""

    def __call__(self, connection_id: str, name: str | None = None, provider: str | None = None) -> str | None: ...


def connection_timeout(seconds: float | None, default: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.Timeout:
    """A connection's own timeout: the wait for each upstream byte, also capping the connect."""
    if not seconds:
        return default
    connect = default.connect if default.connect is not None else seconds
    return httpx.Timeout(connect=min(connect, seconds), read=seconds, write=default.write, pool=default.pool)


class Upstream:
    """One connection's way out: its transport (the connection pool) plus an AsyncClient on
    the same transport for the occasional management call (model lists, tests).

    The engine's model calls go straight to the transport: the client's layers (auth, redirect
    and cookie handling, event hooks, an INFO log line per request) do nothing for them but cost
    time on every call. To a plain-HTTP upstream they go through ``lean`` (`lean_http`).
    """

    __slots__ = ("_timeout", "_urls", "client", "lean", "proxy", "transport")

    def __init__(self, transport: httpx.AsyncBaseTransport, timeout: httpx.Timeout, lean: LeanPool | None = None,
                 proxy: str | None = None) -> None:
        self.transport = transport
        self.lean = lean
        # The upstream proxy this connection goes through (None: direct); its token requests
        # (cloud providers' `Authorizer`) take the same way out.
        self.proxy = proxy
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport, trust_env=False)
        self._timeout: dict[str, Any] = timeout.as_dict()
        self._urls: dict[str, httpx.URL] = {}  # parsed once: endpoints repeat per model

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_MAX:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def post(self, url: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST ``content``; the response body is left unread (stream it or ``aread`` it, and
        always ``aclose`` it). Transport failures raise httpx exceptions, as the client would."""
        target = self._url(url)
        if self.lean is not None and target.scheme == "http":
            return await self.lean.post(target, content, _request_headers(target, content, {**BASE_HEADERS, **headers}))
        request = httpx.Request(
            "POST", target, headers=_request_headers(target, content, {**BASE_HEADERS, **headers}),
            stream=httpx.ByteStream(content), extensions={"timeout": self._timeout},
        )
        response = await self.transport.handle_async_request(request)
        response.request = request
        return response

    async def aclose(self) -> None:
        if self.lean is not None:
            self.lean.close()
        await self.client.aclose()  # closes the transport too


def _request_headers(url: httpx.URL, content: bytes, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The headers ``httpx.Request(content=...)`` would send, in its order (Host first,
    Content-Length last), built directly: its generic preparation (header normalisation,
    content encoding, several case-insensitive header scans) costs more than the call."""
    names = {name.lower() for name in headers}
    raw = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
    if "host" not in names:
        raw.insert(0, (b"Host", url.netloc))
    if "content-length" not in names:
        raw.append((b"Content-Length", str(len(content)).encode("ascii")))
    return raw


class ClientPool:
    def __init__(self, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout
        self._upstreams: dict[str, Upstream] = {}
        self._transports: dict[str, httpx.AsyncBaseTransport] = {}
        self._retired: list[Upstream] = []  # replaced by `reset`, closed with the pool
        # The upstream (corporate) proxy a connection goes through, if any, by its id, name and
        # provider type: set by the user's proxy settings (`engine.runtime_settings`); None is direct.
        self.proxy_for: ProxyFor = lambda connection_id, name=None, provider=None: None

    def register_transport(self, connection_id: str, transport: httpx.AsyncBaseTransport) -> None:
        """Serve a connection in-process (the demo provider) instead of over the network."""
        self._transports[connection_id] = transport

    def upstream(
        self, connection_id: str, max_concurrent: int | None = None, timeout_s: float | None = None, *,
        name: str | None = None, provider: str | None = None,
    ) -> Upstream:
        """The connection's transport, created on first use; a changed connection is `drop`ped
        first, so its next one picks up the new limits and timeout. ``name`` and ``provider``
        pick its proxy entry; given, they are used as they are (a connection not saved yet,
        being validated), else the saved connection's are looked up."""
        upstream = self._upstreams.get(connection_id)
        if upstream is None:
            transport = self._transports.get(connection_id)
            timeout = connection_timeout(timeout_s, self._timeout)
            lean, proxy = None, None
            if transport is None:
                proxy = self.proxy_for(connection_id, name, provider)
                # Through an upstream proxy, httpx speaks the proxy protocol; the lean path is direct only.
                lean = LeanPool(max_concurrent or 100, timeout.as_dict()) if proxy is None else None
                limits = httpx.Limits(max_connections=max_concurrent or 100, max_keepalive_connections=32)
                transport = httpx.AsyncHTTPTransport(
                    limits=limits,
                    http2=True,  # negotiated by ALPN, so plain-HTTP upstreams stay on HTTP/1.1
                    # Never the user's HTTP(S)_PROXY / SSL env: it may point at our own MITM
                    # listener, and the engine decides what is forwarded.
                    trust_env=False,
                    proxy=proxy,
                )
            upstream = Upstream(transport, timeout, lean, proxy)
            self._upstreams[connection_id] = upstream
        return upstream

    async def drop(self, connection_id: str) -> None:
        upstream = self._upstreams.pop(connection_id, None)
        if upstream is not None:
            await upstream.aclose()

    def reset(self) -> None:
        """The proxy settings changed: the next call of each connection builds a new transport.
        The old ones finish the calls they carry and are closed with the pool."""
        self._retired.extend(self._upstreams.values())
        self._upstreams = {}

    async def aclose(self) -> None:
        upstreams, self._upstreams = [*self._upstreams.values(), *self._retired], {}
        self._retired = []
        await asyncio.gather(*(u.aclose() for u in upstreams), return_exceptions=True)
