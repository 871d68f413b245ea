"""Shared plumbing of the cloud stand-ins (Bedrock, Vertex AI, Azure OpenAI).

A stand-in checks what the real service checks (signature, token, key, path, API version),
then has the project's mock provider answer: the request is forwarded to the mock in the
format it speaks and the answer is returned as the cloud service would send it. Each serves
a Starlette app on 127.0.0.1 from a background thread, like `MockProvider`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute


class StandInServer:
    """Serves ``routes`` on a free 127.0.0.1 port; ``mock_url`` is where answers come from."""

    def __init__(self, mock_url: str) -> None:
        self.mock_url = mock_url.rstrip("/")
        self.requests: list[dict[str, Any]] = []  # what reached the stand-in: method, path, query
        self.rejected: list[str] = []  # why requests were refused, for assertions
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        app = Starlette(routes=self.routes())
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1)
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])),
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)  # fmt: skip
        self._thread.start()
        ready = threading.Event()
        for _ in range(2000):
            if server.started or not self._thread.is_alive():
                break
            ready.wait(0.005)
        if not server.started:
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(5)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def reject(self, status: int, reason: str, body: Any, headers: dict[str, str] | None = None) -> Response:
        self.rejected.append(reason)
        return JSONResponse(body, status, headers=headers)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # created on the server's own loop
            self._client = httpx.AsyncClient(base_url=self.mock_url, timeout=60, trust_env=False)
        return self._client

    async def forward(
        self, path: str, body: Any, stream: bool, media_type: str | None = None,
        convert: Callable[[int, bytes], tuple[int, bytes, dict[str, str]]] | None = None,
        stream_convert: Callable[[], Callable[[bytes | None], bytes]] | None = None,
        method: str = "POST",
    ) -> Response:
        """Send ``body`` to the mock at ``path``. ``convert`` rewrites a complete answer (status,
        body → status, body, headers); ``stream_convert`` makes a per-stream chunk converter
        (called with None at the end)."""
        client = self._http()
        request = client.build_request(method, path, json=body if method == "POST" else None)
        response = await client.send(request, stream=True)
        if not stream or response.status_code >= 400:
            content = await response.aread()
            await response.aclose()
            headers = {"content-type": response.headers.get("content-type", "application/json")}
            status = response.status_code
            if convert is not None:
                status, content, extra = convert(status, content)
                headers.update(extra)
            return Response(content, status, headers=headers)
        step = stream_convert() if stream_convert is not None else (lambda chunk: chunk or b"")

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_raw():
                    out = step(chunk)
                    if out:
                        yield out
                tail = step(None)
                if tail:
                    yield tail
            finally:
                await response.aclose()

        return StreamingResponse(relay(), media_type=media_type or response.headers.get("content-type"))
