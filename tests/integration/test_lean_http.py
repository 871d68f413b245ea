"""The lean plain-HTTP pool against real loopback servers that misbehave on purpose: what it
does must be what the engine expects from httpx (responses, exceptions, connection reuse)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from omniroute.providers.lean_http import LeanPool
from omniroute.providers.pool import ClientPool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
HEADERS = [(b"Host", b"upstream"), (b"Content-Length", b"2")]


@asynccontextmanager
async def server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A loopback server; yields its base URL and the number of connections it accepted."""
    accepted = [0]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield f"http://127.0.0.1:{port}/v1/chat", accepted


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    return head + await reader.readexactly(length)


def json_reply(body: bytes = b'{"ok":true}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body), extra, body)


def pool(**timeouts: float) -> LeanPool:
    return LeanPool(4, {"connect": 5.0, "read": timeouts.get("read", 5.0), "write": 5.0, "pool": timeouts.get("pool", 5.0)})


async def test_keep_alive_reuses_one_connection_and_sends_the_request_whole() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            seen.append(await read_request(reader))
            writer.write(json_reply())
            await writer.drain()

    async with server(handler) as (url, accepted):
        lean = pool()
        for _ in range(3):
            response = await lean.post(httpx.URL(url), b"{}", HEADERS)
            assert response.status_code == 200
            assert await response.aread() == b'{"ok":true}'
            assert response.headers["content-type"] == "application/json"
            await response.aclose()
        lean.close()
    assert accepted[0] == 1
    assert seen[0] == b"POST /v1/chat HTTP/1.1\r\nHost: upstream\r\nContent-Length: 2\r\n\r\n{}"


async def test_a_connection_the_server_closed_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(json_reply())  # keep-alive by default, then closed anyway
        await writer.drain()

    async with server(handler) as (url, accepted):
        lean = pool()
        for _ in range(2):
            response = await lean.post(httpx.URL(url), b"{}", HEADERS)
            await response.aread()
            await response.aclose()
            await asyncio.sleep(0.05)  # the FIN reaches the protocol
        lean.close()
    assert accepted[0] == 2


async def test_chunked_and_close_delimited_bodies_arrive_whole() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        writer.write(b"0\r\n\r\n")

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")

    for handler, expected in ((chunked, b"data: 1\n\ndata: 2\n\n"), (until_close, b"all of it")):
        async with server(handler) as (url, _):
            lean = pool()
            response = await lean.post(httpx.URL(url), b"{}", HEADERS)
            assert b"".join([c async for c in response.aiter_raw()]) == expected
            await response.aclose()
            lean.close()


async def test_failures_are_the_httpx_exceptions_the_engine_handles() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async def cut_short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")

    async with server(silent) as (url, _):
        with pytest.raises(httpx.ReadTimeout):
            await pool(read=0.2).post(httpx.URL(url), b"{}", HEADERS)
    async with server(hang_up) as (url, _):
        with pytest.raises(httpx.RemoteProtocolError):
            await pool().post(httpx.URL(url), b"{}", HEADERS)
    async with server(cut_short) as (url, _):
        response = await pool().post(httpx.URL(url), b"{}", HEADERS)
        with pytest.raises(httpx.RemoteProtocolError):
            await response.aread()
    async with server(garbage) as (url, _):
        with pytest.raises(httpx.RemoteProtocolError):
            await pool().post(httpx.URL(url), b"{}", HEADERS)
    async with server(silent) as (url, _):
        port = int(url.split(":")[2].split("/")[0])
    with pytest.raises(httpx.ConnectError):  # nobody listens there any more
        await pool().post(httpx.URL(f"http://127.0.0.1:{port}/v1"), b"{}", HEADERS)


async def test_the_connection_limit_queues_and_times_out_like_httpx() -> None:
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await release.wait()
        writer.write(json_reply())
        await writer.drain()

    async with server(slow) as (url, accepted):
        lean = LeanPool(1, {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 0.2})
        first = asyncio.create_task(lean.post(httpx.URL(url), b"{}", HEADERS))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await lean.post(httpx.URL(url), b"{}", HEADERS)
        release.set()
        response = await first
        await response.aread()
        await response.aclose()
        assert lean.open == 1 and accepted[0] == 1
        lean.close()
        assert lean.open == 0


async def test_an_unread_response_closes_its_connection_instead_of_reusing_it() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
            await writer.drain()
            await asyncio.sleep(5)

    async with server(handler) as (url, accepted):
        lean = pool()
        for _ in range(2):
            response = await lean.post(httpx.URL(url), b"{}", HEADERS)
            await response.aclose()  # the client left mid-stream
        assert accepted[0] == 2 and lean.open == 0


async def test_client_pool_sends_plain_http_model_calls_through_the_lean_pool() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(json_reply())
        await writer.drain()

    async with server(handler) as (url, _):
        clients = ClientPool()
        upstream = clients.upstream("c1")
        response = await upstream.post(url, b"{}", {"content-type": "application/json"})
        assert await response.aread() == b'{"ok":true}'
        await response.aclose()
        assert upstream.lean is not None and upstream.lean.open == 1
        await clients.aclose()
