"""A model call stops when its client hangs up.

A model can think for minutes before its first byte and stream for minutes after it. When
nobody is waiting any more, the work is cancelled: the engine records the call as 499 and
closes its upstream request. Our API listener's connections offer a future that is done once
the client is gone (`CLIENT_GONE`); its callback cancels the task doing the work. Under any
other ASGI server a watcher task waits on ``receive`` for ``http.disconnect`` instead (the
request body has been read, so nothing else can come).

Why not Starlette's own watch for streams: under ASGI spec 2.3, which uvicorn speaks,
`StreamingResponse` runs the stream and a disconnect listener in an anyio task group, set up
before every stream's first byte (BENCHMARKS.md has what it cost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from omniroute.api.http_protocol import CLIENT_GONE


async def unless_client_leaves[T](scope: Scope, receive: Receive, work: Coroutine[Any, Any, T]) -> T | None:
    """Await ``work``; ``None`` if the client hung up meanwhile, which cancels it."""
    me = asyncio.current_task()
    assert me is not None
    gone = over = False

    def hang_up(signal: asyncio.Future[None]) -> None:
        nonlocal gone
        # `over`: the work ended in the loop turn the client left; its task has moved on.
        if not over and not signal.cancelled():
            gone = True
            me.cancel()

    connection_closed: asyncio.Future[None] | None = scope.get("extensions", {}).get(CLIENT_GONE)
    signal = connection_closed if connection_closed is not None else asyncio.ensure_future(_client_gone(receive))
    signal.add_done_callback(hang_up)
    try:
        return await work
    except asyncio.CancelledError:
        if gone and me.uncancel() == 0:  # our own cancellation, not the server shutting down
            return None
        raise
    finally:
        over = True
        signal.remove_done_callback(hang_up)
        if connection_closed is None:
            signal.cancel()  # the watcher task; the connection's own future is not ours to end


async def _client_gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class StreamReply(StreamingResponse):
    """A streamed model reply: the stream is cancelled (its generators see `CancelledError`
    and end the upstream call) when the client hangs up."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        await unless_client_leaves(scope, receive, self.stream_response(send))
        if self.background is not None:
            await self.background()


__all__ = ["StreamReply", "unless_client_leaves"]
