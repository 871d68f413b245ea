"""What one upstream attempt may cost: time before the first byte, idle time while streaming,
and reply size.

- **First byte**: from sending the request until the first byte the client would get (a
  non-streamed reply: all of it; a stream: its first piece for the client). An upstream that
  drips bytes never meets it, whatever the per-read timeout; failing here still falls back.
- **Idle**: while streaming, the longest wait for the next complete upstream event. A drip of
  bytes that never completes an event is idle.
- **Size**: a non-streamed reply past ``max_body_bytes`` (decoded, so a compressed bomb counts
  at its real size), or a stream event past ``max_event_bytes``, is refused; reading stops at
  the limit and the upstream response is closed, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import httpx

from omniroute.providers.pool import TIMEOUT_KEY

T = TypeVar("T")

# ProviderConnection.extra keys (API fields of /api/providers).
FIRST_BYTE_KEY = "firstByteTimeoutSeconds"
IDLE_KEY = "idleTimeoutSeconds"
# Every timing setting of a connection: the API, the config file and its export carry all three.
TIMING_KEYS = (TIMEOUT_KEY, FIRST_BYTE_KEY, IDLE_KEY)
# An error reply is read only for its message.
ERROR_BODY_CAP = 64 * 1024


class LimitExceeded(Exception):
    """An attempt went past one of its limits; ``message`` names the limit and how to change it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status  # 504 for time limits, 502 for size limits

    @property
    def is_timeout(self) -> bool:
        return self.status == 504


@dataclass(frozen=True, slots=True)
class UpstreamLimits:
    first_byte_s: float = 600.0
    idle_s: float = 300.0
    max_body_bytes: int = 32 * 1024 * 1024
    max_event_bytes: int = 8 * 1024 * 1024

    def for_connection(self, extra: Mapping[str, Any]) -> UpstreamLimits:
        """These limits with a connection's own time limits, where it sets them."""
        first, idle = extra.get(FIRST_BYTE_KEY), extra.get(IDLE_KEY)
        if not first and not idle:
            return self
        return replace(self, first_byte_s=float(first or self.first_byte_s), idle_s=float(idle or self.idle_s))

    def first_byte_exceeded(self) -> LimitExceeded:
        return LimitExceeded(
            f"upstream sent no answer within the {_seconds(self.first_byte_s)} first-byte deadline "
            f"(connection field {FIRST_BYTE_KEY}, default OMNIROUTE_UPSTREAM_FIRST_BYTE_TIMEOUT)", 504,
        )

    def idle_exceeded(self) -> LimitExceeded:
        return LimitExceeded(
            f"upstream stream sent no complete event for {_seconds(self.idle_s)} "
            f"(connection field {IDLE_KEY}, default OMNIROUTE_UPSTREAM_IDLE_TIMEOUT)", 504,
        )

    def body_exceeded(self) -> LimitExceeded:
        return LimitExceeded(
            f"upstream reply is larger than the {_size(self.max_body_bytes)} limit "
            "(OMNIROUTE_UPSTREAM_MAX_BODY_BYTES)", 502,
        )

    def event_exceeded(self) -> LimitExceeded:
        return LimitExceeded(
            f"upstream stream event is larger than the {_size(self.max_event_bytes)} limit "
            "(OMNIROUTE_UPSTREAM_MAX_EVENT_BYTES)", 502,
        )


DEFAULT_LIMITS = UpstreamLimits()


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _size(value: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    return f"{value} bytes"


class Watchdog:
    """A deadline over the upstream reads of one attempt.

    One timer for the whole attempt (not one per read: a stream has thousands of reads). When
    it fires while a read is pending, it cancels the reading task, and that read raises the
    ``LimitExceeded`` in force; it never interrupts anything else (the relay waiting on a slow
    client, for instance: that wait is the client's, and the next read gets a fresh window).
    """

    __slots__ = ("_exceeded", "_fired", "_handle", "_loop", "_reading", "_task", "_window", "deadline")

    def __init__(self, seconds: float, exceeded: LimitExceeded) -> None:
        self._loop = asyncio.get_running_loop()
        self.deadline = self._loop.time() + seconds
        self._window: float | None = None  # set once streaming: each event moves the deadline
        self._exceeded = exceeded
        self._task: asyncio.Task[Any] | None = None
        self._reading = self._fired = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self.deadline, self._expire)

    def streaming(self, idle_s: float, exceeded: LimitExceeded) -> None:
        """From now on: ``idle_s`` between complete events."""
        self._window, self._exceeded = idle_s, exceeded
        self.progress()
        self.close()  # the timer may be set for a later first-byte deadline
        self._handle = self._loop.call_at(self.deadline, self._expire)

    def progress(self) -> None:
        """A complete event arrived: the idle window starts again."""
        if self._window is not None:
            self.deadline = self._loop.time() + self._window

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """Await one upstream read (or the reply's headers) under the deadline."""
        self._task = asyncio.current_task()
        if self._handle is None:  # it fired while nobody was reading
            now = self._loop.time()
            if self._window is not None and self.deadline <= now:
                self.deadline = now + self._window
            self._handle = self._loop.call_at(self.deadline, self._expire)
        task = self._task
        self._reading = True
        try:
            result = await awaitable
        except asyncio.CancelledError:
            if self._fired and task is not None and task.uncancel() == 0:
                raise self._exceeded from None
            raise
        finally:
            self._reading = False
        if self._fired and task is not None:
            task.uncancel()  # the read finished in the same turn: withdraw the timer's cancel
            raise self._exceeded
        return result

    def _expire(self) -> None:
        self._handle = None
        if self._loop.time() < self.deadline:
            self._handle = self._loop.call_at(self.deadline, self._expire)
        elif self._reading and self._task is not None and not self._fired:
            self._fired = True
            self._task.cancel()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives, decoded: the raw bytes unless the upstream compressed them.
    httpx's decoding layer is two more generators per chunk, and most replies are not compressed."""
    if response.headers.get("content-encoding", "identity") != "identity":
        return response.aiter_bytes()
    return response.aiter_raw()


async def read_capped(
    response: httpx.Response, limit: int, watchdog: Watchdog, exceeded: LimitExceeded | None
) -> bytes:
    """The decoded body, read under ``watchdog``; past ``limit`` bytes raise ``exceeded``
    (or, when None, return the first ``limit`` bytes). Never buffers more than the limit plus
    one chunk; the caller closes the response."""
    declared = response.headers.get("content-length", "")
    if exceeded is not None and declared.isdigit() and int(declared) > limit:
        raise exceeded
    parts: list[bytes] = []
    size = 0
    chunks = body_chunks(response)
    while True:
        try:
            chunk = await watchdog.wait(anext(chunks))
        except StopAsyncIteration:
            break
        size += len(chunk)
        if size > limit:
            if exceeded is not None:
                raise exceeded
            parts.append(chunk[: limit - (size - len(chunk))])
            break
        parts.append(chunk)
    return b"".join(parts)
