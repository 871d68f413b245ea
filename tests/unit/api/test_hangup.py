"""`StreamReply` and `unless_client_leaves`: the work stops when the client hangs up, and only then.

The same behaviour through real sockets, with the engine, the usage row and the upstream
connection: `tests/integration/test_disconnect_leaks.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from omniroute.api.hangup import StreamReply, unless_client_leaves
from omniroute.api.http_protocol import CLIENT_GONE

# As another ASGI server gives it: the hang-up is seen by a task waiting on `receive`.
SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "method": "POST", "path": "/v1/x",
         "headers": []}


def listener_scope(gone: asyncio.Future[None]) -> dict[str, Any]:
    """As our API listener's connections give it: a future set when the client's connection closes."""
    return {**SCOPE, "extensions": {CLIENT_GONE: gone}}


class Client:
    """The ASGI side of one connection: ``hang_up()`` makes ``receive`` answer disconnect."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.left = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def hang_up(self) -> None:
        self.left.set()

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == "http.response.body"]


class Upstream:
    """A streamed body that notes which task reads it and how it ended."""

    def __init__(self, events: int, gap: float = 0.0) -> None:
        self.events, self.gap = events, gap
        self.tasks: set[asyncio.Task[Any] | None] = set()
        self.ended: str | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            for i in range(self.events):
                self.tasks.add(asyncio.current_task())
                await asyncio.sleep(self.gap)
                yield b"data: %d\n\n" % i
            self.ended = "complete"
        except asyncio.CancelledError:
            self.ended = "cancelled"
            raise


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_a_stream_is_sent_whole_from_the_callers_task_and_leaves_no_task() -> None:
    async def scenario() -> tuple[Client, Upstream, set[Any], set[Any]]:
        client, upstream = Client(), Upstream(5)
        before = asyncio.all_tasks()
        await StreamReply(upstream.__aiter__(), 200, media_type="text/event-stream")(SCOPE, client.receive, client.send)
        await asyncio.sleep(0)  # let the cancelled watcher finish
        return client, upstream, before, asyncio.all_tasks() - before

    client, upstream, before, left = _run(scenario())
    assert client.sent[0]["type"] == "http.response.start" and client.sent[0]["status"] == 200
    assert client.bodies() == [b"data: %d\n\n" % i for i in range(5)] + [b""]
    assert upstream.ended == "complete"
    # Read in the task that serves the request: no task group around the stream (the reason
    # this class exists), and the disconnect watcher is gone with the stream.
    assert upstream.tasks == before
    assert left == set()


def test_a_client_hanging_up_mid_stream_cancels_the_stream_and_ends_the_response_quietly() -> None:
    async def scenario() -> tuple[Client, Upstream]:
        client, upstream = Client(), Upstream(1000, gap=0.01)
        reply = StreamReply(upstream.__aiter__(), 200, media_type="text/event-stream")
        served = asyncio.ensure_future(reply(SCOPE, client.receive, client.send))
        while len(client.bodies()) < 3:
            await asyncio.sleep(0.005)
        client.hang_up()
        await served  # returns: nobody is there to tell
        return client, upstream

    client, upstream = _run(scenario())
    assert upstream.ended == "cancelled"
    assert 3 <= len(client.bodies()) < 1000
    assert client.bodies()[-1] != b""  # never finished as if complete


def test_the_server_shutting_down_still_cancels_a_stream() -> None:
    async def scenario() -> Upstream:
        client, upstream = Client(), Upstream(1000, gap=0.01)
        reply = StreamReply(upstream.__aiter__(), 200, media_type="text/event-stream")
        served = asyncio.ensure_future(reply(SCOPE, client.receive, client.send))
        await asyncio.sleep(0.05)
        served.cancel()
        with pytest.raises(asyncio.CancelledError):
            await served
        return upstream

    assert _run(scenario()).ended == "cancelled"


def test_unless_client_leaves_returns_the_answer_or_none_once_the_client_is_gone() -> None:
    async def answer(after: float) -> str:
        await asyncio.sleep(after)
        return "reply"

    async def scenario() -> tuple[str | None, str | None, bool]:
        stays = Client()
        kept = await unless_client_leaves(SCOPE, stays.receive, answer(0.01))
        leaves = Client()
        asyncio.get_running_loop().call_later(0.02, leaves.hang_up)
        work = answer(5)
        dropped = await unless_client_leaves(SCOPE, leaves.receive, work)
        return kept, dropped, work.cr_frame is None  # a finished coroutine has no frame

    kept, dropped, work_ended = _run(scenario())
    assert kept == "reply"
    assert dropped is None
    assert work_ended


def test_on_our_listener_the_connections_future_ends_the_work_without_a_watcher_task() -> None:
    async def scenario() -> tuple[Upstream, int, bool]:
        client, upstream = Client(), Upstream(1000, gap=0.01)
        gone = asyncio.get_running_loop().create_future()
        scope = listener_scope(gone)
        served = asyncio.ensure_future(StreamReply(upstream.__aiter__(), 200)(scope, client.receive, client.send))
        await asyncio.sleep(0.05)
        tasks = len(asyncio.all_tasks())  # this test's and the stream's: no third
        gone.set_result(None)
        await served
        return upstream, tasks, gone.done() and not gone.cancelled()

    upstream, tasks, still_set = _run(scenario())
    assert upstream.ended == "cancelled"
    assert tasks == 2
    assert still_set  # the connection's future is left as it is, for whoever asks next


def test_work_that_ends_in_the_turn_the_client_leaves_is_not_cancelled_afterwards() -> None:
    async def scenario() -> tuple[str | None, str]:
        gone = asyncio.get_running_loop().create_future()

        async def answer() -> str:
            gone.set_result(None)  # the hang-up callback is scheduled; the work returns first
            return "reply"

        kept = await unless_client_leaves(listener_scope(gone), Client().receive, answer())
        await asyncio.sleep(0.01)  # the scheduled callback runs here: it must not cancel us
        return kept, "still running"

    assert _run(scenario()) == ("reply", "still running")
