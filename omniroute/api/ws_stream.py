"""A streamed engine reply read as its SSE `data:` payloads, for the WebSocket routes that send
each event as one frame (`responses_ws`, `chat_ws`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from omniroute.translate.sse import SSEDecoder


async def sse_payloads(stream: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Each event's data, `[DONE]` left out; the stream is closed however the reading ends
    (the client may have gone away)."""
    decoder = SSEDecoder()
    try:
        async for chunk in stream:
            for _event, data in decoder.feed(chunk):
                if data and data != "[DONE]":
                    yield data
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
