"""Usage read out of a stream passed through to the client unchanged (same format both sides)."""

from __future__ import annotations

import json
import re
from typing import Any

from omniroute.translate import get_format, ir

# Bytes in an SSE event that mark the events which can carry usage: a passthrough stream is
# only split into events, and only events with a mark are JSON-decoded. Compact and one-space
# JSON; OpenAI's `"usage":null` (every chunk when include_usage is on) is not a mark.
_USAGE_MARKS: dict[str, re.Pattern[bytes]] = {
    "openai-chat": re.compile(rb'"usage": ?\{'),
    "openai-responses": re.compile(rb'"usage": ?\{'),
    "anthropic": re.compile(rb'"usage"'),
    "gemini": re.compile(rb'"usageMetadata"'),
}
_NULL_USAGE = b',"usage":null'


class UsageTap:
    """Reads usage out of a stream that is passed through to the client.

    SSE formats with known usage events are cut at event boundaries (blank lines) and only
    events carrying a usage mark are parsed; other formats go through their full decoder. With
    ``strip_usage`` (an OpenAI chat client that did not ask for usage; we asked on its behalf
    to log tokens) the usage-only chunk and the ``"usage":null`` fields are taken out again, so
    the client gets what it asked for. Only whole events are passed on, so an error event
    after a broken upstream never lands inside half an event.
    """

    __slots__ = ("_decoder", "_framer", "_held", "_marks", "_strip", "_tail", "events", "usage")

    def __init__(self, wire_format: str, strip_usage: bool = False) -> None:
        module = get_format(wire_format)
        self._decoder = module.StreamDecoder()
        self._marks = _USAGE_MARKS.get(wire_format)
        self._framer = module.Framer() if self._marks is None else None
        self._strip = strip_usage and wire_format == "openai-chat"
        self._tail = b""  # the bytes after the last event boundary seen
        self._held: list[bytes] = []  # later chunks of the same unfinished event, not yet joined
        self.events = 0  # grows whenever a feed completes an event (the stream made progress)
        self.usage = ir.Usage()

    def feed(self, chunk: bytes) -> bytes:
        """Note usage in ``chunk``; returns the bytes for the client."""
        if self._framer is not None:
            for event in self._framer.feed(chunk):
                self.events += 1
                self._note(event)
            return chunk
        if self._tail and b"\n" not in chunk and b"\r" not in chunk:
            self._held.append(chunk)  # mid-event: joined once it can end, so a long event costs linear time
            return b""
        if self._held:
            self._tail = b"".join((self._tail, *self._held))
            self._held.clear()
        data = self._tail + chunk if self._tail else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")  # a CR split from its LF stays in the tail
        cut = data.rfind(b"\n\n") + 2
        if cut < 2:
            self._tail = data
            return b""
        complete, self._tail = data[:cut], data[cut:]
        self.events += 1
        return self._events(complete)

    def finish(self) -> bytes:
        """At upstream EOF: a last event the upstream did not end with a blank line."""
        if self._framer is not None:
            flush = getattr(self._framer, "flush", None)
            for event in flush() if flush is not None else ():
                self._note(event)
            return b""
        tail, self._tail = b"".join((self._tail, *self._held)), b""
        self._held.clear()
        if not tail.strip():
            return tail
        return self._events(tail + b"\n\n")

    def _events(self, complete: bytes) -> bytes:
        marks = self._marks
        assert marks is not None
        if marks.search(complete) is None:
            return complete.replace(_NULL_USAGE, b"") if self._strip else complete
        kept = []
        for frame in complete.split(b"\n\n"):
            if frame and marks.search(frame) is not None:
                event = _frame_json(frame)
                if event is not None:
                    self._note(event)
                    if self._strip and event.get("usage") and not event.get("choices"):
                        continue  # the usage-only chunk the client did not ask for
            if frame:
                kept.append(frame)
        if not self._strip:
            return complete
        return b"".join(frame.replace(_NULL_USAGE, b"") + b"\n\n" for frame in kept)

    def _note(self, event: dict[str, Any]) -> None:
        for ev in self._decoder.feed(event):
            if isinstance(ev, ir.UsageEvent) or (isinstance(ev, ir.MessageStart) and ev.usage is not None):
                ev.usage.merge_into(self.usage)


def _frame_json(frame: bytes) -> dict[str, Any] | None:
    """The JSON object in one SSE frame's data lines (None if it holds none)."""
    lines = [line[5:].removeprefix(b" ") for line in frame.split(b"\n") if line.startswith(b"data:")]
    try:
        event = json.loads(b"\n".join(lines))
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
