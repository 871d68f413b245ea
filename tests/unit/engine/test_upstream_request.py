"""The engine's upstream POST, over a real socket: the provider receives the same request
line, headers (in the same order) and body as from ``httpx.Request(content=...)``."""

from __future__ import annotations

import asyncio
from typing import Self

import httpx
import pytest

from omniroute.providers.pool import BASE_HEADERS, DEFAULT_TIMEOUT, Upstream

BODY = '{"model":"m","messages":[{"role":"user","content":"hé"}]}'.encode()
REPLY = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'


class RecordingServer:
    """Answers every HTTP/1.1 request with REPLY and keeps the raw request bytes."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.port = 0
        self._listener: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._listener = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._listener.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._listener is not None
        self._listener.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                self.requests.append(head + await reader.readexactly(length))
                writer.write(REPLY)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.parametrize("headers", [
    {"authorization": "Bearer sk-test-0001", "content-type": "application/json"},
    {"x-api-key": "sk-ant-0001", "anthropic-version": "2023-06-01", "user-agent": "agent/1.0"},
    {"Host": "api.example.com", "content-type": "application/json"},
])
async def test_upstream_post_sends_what_httpx_would(headers: dict[str, str]) -> None:
    async with RecordingServer() as server:
        await _post_both_ways(server, headers)
    ours, httpx_own = server.requests
    assert ours == httpx_own
    assert ours.endswith(b"\r\n\r\n" + BODY)


async def _post_both_ways(server: RecordingServer, headers: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
    upstream = Upstream(httpx.AsyncHTTPTransport(), DEFAULT_TIMEOUT)
    try:
        response = await upstream.post(url, BODY, headers)
        assert response.status_code == 200 and await response.aread() == b'{"ok":true}'
        await response.aclose()
        reference = httpx.Request("POST", url, content=BODY, headers={**BASE_HEADERS, **headers})
        expected = await upstream.transport.handle_async_request(reference)
        await expected.aread()
        await expected.aclose()
    finally:
        await upstream.aclose()
