"""A lean HTTP/1.1 client for the model calls to plain-HTTP upstreams (local model servers,
gateways on the same network, the test mocks).

Why: with httpcore every request scans the whole pool and asks each idle connection's socket
whether it is readable (encode/httpcore#1035), and the request head and body go out in two
writes. Here a connection is taken from a stack in O(1) (one closed by the server has already
said so to its protocol, so no socket is polled), the request is one write, and the response
is parsed by httptools (C). HTTPS upstreams stay on httpx: HTTP/2 by ALPN and its TLS set-up.

The engine cannot tell the two apart: answers are `httpx.Response` objects (decoding,
`aiter_raw`, `aclose`) and failures are the `httpx` exceptions httpx raises for the same event.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import httptools
import httpx

# Idle connections are dropped after this, before a server's own keep-alive timeout (uvicorn's
# is 5 s) can close one under a request just sent on it.
KEEPALIVE_S = 4.0
HIGH_WATER = 256 * 1024  # buffered body bytes before the socket stops being read
Origin = tuple[str, int]


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("timed out reading from the upstream"))


class Connection(asyncio.Protocol):
    """One keep-alive TCP connection; one response at a time, fed by httptools callbacks."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self.active = False  # a request is in flight
        self.done = False  # its response has ended
        self.headed = False  # its status and headers are in
        self.keep_alive = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.active:  # bytes nobody asked for: this connection cannot be trusted again
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"malformed upstream response: {exc}"))
            self.transport.close()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.active or self.done:
            return
        if self.headed and exc is None and self._until_eof():
            self.on_message_complete()  # a body delimited by the end of the connection
        elif self.headed:
            self._fail(httpx.RemoteProtocolError("peer closed connection without sending complete message body"))
        else:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))

    # -- httptools callbacks ---------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.headed = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self._wake()

    def on_message_complete(self) -> None:
        self.done = True
        self._wake()

    # -- the request -----------------------------------------------------------------------
    def _until_eof(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    def start(self, data: bytes) -> None:
        self.status, self.headers, self.buffered = 0, [], 0
        self.chunks.clear()
        self.active, self.done, self.headed, self.error = True, False, False, None
        self.transport.write(data)  # type: ignore[union-attr]

    async def wait(self, timeout: float | None) -> None:
        """Until the next thing happens (headers, a chunk, the end, an error)."""
        if self.error is not None:
            raise self.error
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        timer = loop.call_later(timeout, _expire, waiter) if timeout else None
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()
        if self.error is not None and not self.chunks:
            raise self.error

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered < HIGH_WATER // 2:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        return chunk


class Body(httpx.AsyncByteStream):
    """The response body as it arrives; closing it returns the connection to the pool (or
    closes it when the response was not read to its end)."""

    def __init__(self, pool: LeanPool, conn: Connection, timeout: float | None) -> None:
        self.pool, self.conn, self.timeout = pool, conn, timeout
        self.released = False

    async def __aiter__(self) -> Any:
        conn = self.conn
        while True:
            if conn.chunks:
                yield conn.take()
            elif conn.done:
                return
            else:
                await conn.wait(self.timeout)

    async def aclose(self) -> None:
        if not self.released:
            self.released = True
            self.pool.release(self.conn)


class LeanPool:
    """Connections per origin, at most ``max_connections`` open; idle ones on a stack."""

    def __init__(self, max_connections: int, timeout: dict[str, Any]) -> None:
        self.max_connections = max_connections
        self.connect_s: float | None = timeout.get("connect")
        self.read_s: float | None = timeout.get("read")
        self.pool_s: float | None = timeout.get("pool")
        self.idle: dict[Origin, list[Connection]] = {}
        self.open = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def post(self, url: httpx.URL, content: bytes, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
        origin = (url.host, url.port or 80)
        head = [b"POST ", url.raw_path, b" HTTP/1.1\r\n"]
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        head += (b"\r\n", content)
        conn = await self.acquire(origin)
        try:
            conn.start(b"".join(head))
            while not conn.headed:
                await conn.wait(self.read_s)
        except BaseException:
            self.release(conn)
            raise
        return httpx.Response(conn.status, headers=conn.headers, stream=Body(self, conn, self.read_s))

    async def acquire(self, origin: Origin) -> Connection:
        while True:
            idle = self.idle.get(origin)
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if not conn.closed and now - conn.idle_since < KEEPALIVE_S:
                    return conn
                self._drop(conn)
            if self.open < self.max_connections:
                return await self._connect(origin)
            await self._queue()

    async def _queue(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            async with asyncio.timeout(self.pool_s):
                await waiter
        except TimeoutError:
            raise httpx.PoolTimeout("no upstream connection became free in time") from None
        finally:
            if waiter in self.waiters:
                self.waiters.remove(waiter)

    async def _connect(self, origin: Origin) -> Connection:
        self.open += 1
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_s):
                _, conn = await loop.create_connection(lambda: Connection(origin), origin[0], origin[1])
        except TimeoutError:
            self._freed()
            raise httpx.ConnectTimeout(f"connecting to {origin[0]}:{origin[1]} timed out") from None
        except OSError as exc:
            self._freed()
            raise httpx.ConnectError(str(exc) or exc.__class__.__name__) from None
        except BaseException:
            self._freed()
            raise
        return conn

    def release(self, conn: Connection) -> None:
        reusable = conn.done and conn.keep_alive and not conn.closed and conn.error is None and not conn.chunks
        conn.active = False
        if not reusable:
            self._drop(conn)
            return
        # Every open connection may wait idle (at most max_connections, each for KEEPALIVE_S): under
        # a burst wider than a smaller idle cap, connections would be closed and reopened.
        idle = self.idle.setdefault(conn.origin, [])
        conn.idle_since = time.monotonic()
        idle.append(conn)
        self._wake_one()

    def _drop(self, conn: Connection) -> None:
        conn.closed = True
        if conn.transport is not None:
            conn.transport.close()
        self._freed()

    def _freed(self) -> None:
        self.open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for idle in self.idle.values():
            for conn in idle:
                self._drop(conn)
        self.idle.clear()
