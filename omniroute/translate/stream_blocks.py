"""Stream pieces shared by formats whose chunks carry no block indices and send each tool
call whole, with usage and the finish reason on the last chunk (Gemini, Ollama): numbering IR
blocks on the way in; on the way out, buffering a call's argument fragments and the encoder's
event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .ir import (
    BlockStop,
    ErrorEvent,
    Finish,
    FinishReason,
    IREvent,
    MessageStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    Usage,
    UsageEvent,
)

__all__ = ["BlockNumberer", "ToolCallBuffer", "WholeCallEncoder"]


class BlockNumberer:
    """Gives decoded deltas IR block indices: text and thinking deltas continue the open block
    of their kind (the wire sends them in pieces); a whole tool call is a block of its own."""

    __slots__ = ("_open", "index")

    def __init__(self) -> None:
        self.index = -1
        self._open: str | None = None  # "text" | "thinking" while a block is open

    def continue_block(self, kind: str, out: list[IREvent]) -> int:
        """The index of the open ``kind`` block, closing another kind and opening one if needed."""
        if self._open != kind:
            self.close(out)
            self.index += 1
            self._open = kind
        return self.index

    def whole_block(self, out: list[IREvent]) -> int:
        """The index for a block that opens and closes in one chunk (a tool call)."""
        self.close(out)
        self.index += 1
        return self.index

    def close(self, out: list[IREvent]) -> None:
        if self._open is not None:
            out.append(BlockStop(self.index))
            self._open = None


class ToolCallBuffer:
    """Collects one streamed tool call until it is complete, for encoders that must send it
    whole. A call is complete when its block stops, or when text, thinking or another call
    starts (those end the call even if its BlockStop never comes)."""

    __slots__ = ("_call", "_index")

    def __init__(self) -> None:
        self._call: ToolCallPart | None = None
        self._index = -1

    def feed(self, ev: IREvent) -> ToolCallPart | None:
        """Track ``ev``; returns the call it completes, which goes out before ``ev`` itself."""
        match ev:
            case ToolCallStart():
                done = self.flush()
                self._call, self._index = ToolCallPart(ev.id, ev.name, ""), ev.index
                return done
            case ToolCallDelta():
                if self._call is not None and self._index == ev.index:
                    self._call.arguments += ev.arguments
            case BlockStop():
                if self._call is not None and self._index == ev.index:
                    return self.flush()
            case TextDelta() | ThinkingDelta():
                return self.flush()
        return None

    def flush(self) -> ToolCallPart | None:
        """The pending call, if any (at the end of the stream)."""
        call, self._call = self._call, None
        return call


class WholeCallEncoder(ABC):
    """IR events → wire chunks for a format that sends each tool call whole and closes the
    stream with one last chunk carrying usage and the finish reason. Subclasses say how text,
    thinking, a complete call, the last chunk and an error look on their wire; redacted
    thinking has no slot in these formats and is left out."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._usage = Usage()
        self._reason = FinishReason.STOP
        self._tool_call = ToolCallBuffer()
        self._done = False

    @abstractmethod
    def _text_chunk(self, text: str) -> bytes: ...

    @abstractmethod
    def _thinking_chunks(self, ev: ThinkingDelta) -> list[bytes]: ...

    @abstractmethod
    def _tool_call_chunk(self, call: ToolCallPart) -> bytes: ...

    @abstractmethod
    def _last_chunk(self) -> bytes:
        """The end of the stream, with ``self._reason`` and ``self._usage``."""

    @abstractmethod
    def _error_chunk(self, message: str, status: int) -> bytes: ...

    def _start(self, ev: MessageStart) -> None:
        self._model = self._model or ev.model

    def feed(self, ev: IREvent) -> list[bytes]:
        if self._done:
            return []
        out: list[bytes] = []
        call = self._tool_call.feed(ev)
        if call is not None:
            out.append(self._tool_call_chunk(call))
        match ev:
            case MessageStart():
                self._start(ev)
                if ev.usage is not None:
                    ev.usage.merge_into(self._usage)
            case TextDelta():
                if ev.text:
                    out.append(self._text_chunk(ev.text))
            case ThinkingDelta():
                out += self._thinking_chunks(ev)
            case UsageEvent():
                ev.usage.merge_into(self._usage)
            case Finish():
                self._reason = ev.reason
            case ErrorEvent():
                out += self.error(ev.message, ev.status)
        return out

    def finish(self) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        call = self._tool_call.flush()
        out = [] if call is None else [self._tool_call_chunk(call)]
        out.append(self._last_chunk())
        return out

    def error(self, message: str, status: int) -> list[bytes]:
        if self._done:
            return []
        self._done = True
        return [self._error_chunk(message, status)]
