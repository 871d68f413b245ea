"""Pure converters between the model API formats OmniRoute speaks (hub and spoke via the IR).

Public API::

    WireFormat, TRANSLATED                   # StrEnum of format names; those translated
    get_format(fmt) -> FormatModule          # the module implementing a format
    translate_request(src, dst, body) -> dict
    translate_response(src, dst, body, names=None) -> dict
    StreamTranslator(src, dst, model, *, accumulate=False, framer=None, names=None)
    client_tool_names(fmt, body)             # what restores the client's own tool names
                                             # .feed(bytes) -> bytes, .finish() -> bytes,
                                             # .error(msg, status) -> bytes
    TranslationError, error_body, stream_error_event
    count_tokens(body, fmt="anthropic") -> int

Nothing here does I/O or imports the rest of omniroute.
"""

from __future__ import annotations

from typing import Any

from . import ir
from .base import FormatModule, Framer, ResponseAccumulator
from .errors import TranslationError, error_body, stream_error_event
from .formats import TRANSLATED, WireFormat, available_formats, get_format
from .responses_extras import ToolName, tool_names
from .tokens import count_tokens

# The conversation field of each request format, which must be a JSON array.
_LIST_FIELDS = {WireFormat.OPENAI_CHAT: "messages", WireFormat.ANTHROPIC: "messages",
                WireFormat.OLLAMA: "messages", WireFormat.GEMINI: "contents"}


def translate_request(src: str, dst: str, body: dict[str, Any]) -> dict[str, Any]:
    """Client request body in ``src`` → upstream request body in ``dst``.

    Raises :class:`TranslationError` when something in ``body`` cannot be expressed in ``dst``.
    Identity metadata (OpenAI ``user``, Anthropic ``metadata``…) is dropped when src != dst.
    """
    if not isinstance(body, dict):
        raise TranslationError("body", f"a {src} request must be a JSON object")
    field = _LIST_FIELDS.get(str(src))
    if field is not None and field in body and not isinstance(body[field], list):
        # The commonest malformed body; named here, where a generic type error would not.
        raise TranslationError(field, f"'{field}' must be a list, got {type(body[field]).__name__}")
    try:
        return get_format(dst).request_from_ir(get_format(src).request_to_ir(body))
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        # A field of the wrong type or shape (``"messages": "hi"``): the converters read
        # well-formed bodies, so malformed ones surface here as a clear 400, not a crash.
        raise TranslationError("body", f"malformed {src} request ({_describe(exc)})") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    return f"a field has the wrong type: {exc}"[:200]


def client_tool_names(fmt: str, body: dict[str, Any]) -> dict[str, ToolName] | None:
    """The client's namespaced and freeform tools by the flat names another format sees
    (responses_extras); None when the client's format needs none, or declares none."""
    if fmt != WireFormat.OPENAI_RESPONSES or not isinstance(body, dict):
        return None
    return tool_names(body) or None


def translate_response(
    src: str, dst: str, body: dict[str, Any], names: dict[str, ToolName] | None = None
) -> dict[str, Any]:
    """Upstream (``src``) non-streamed response body → the client's (``dst``) format;
    ``names`` from :func:`client_tool_names` of the client's request."""
    if not isinstance(body, dict):
        raise TranslationError("body", f"a {src} response must be a JSON object")
    try:
        resp = get_format(src).response_to_ir(body)
        dst_mod = get_format(dst)
        return dst_mod.response_from_ir(resp) if names is None else dst_mod.response_from_ir(resp, names)  # type: ignore[call-arg]
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise TranslationError("body", f"malformed {src} response ({_describe(exc)})") from None


class StreamTranslator:
    """Upstream stream bytes in ``src`` → client stream bytes in ``dst``, incrementally.

    Framer → Decoder → Encoder; each ``feed`` returns the bytes ready so far (often ``b""``).
    Call ``finish()`` at upstream EOF (it closes the client stream properly even if the
    upstream stopped early) or ``error()`` when the upstream connection failed.
    """

    __slots__ = ("_decoder", "_done", "_encoder", "_framer", "accumulator", "dst", "events", "src")

    def __init__(
        self,
        src: str,
        dst: str,
        model: str,
        *,
        accumulate: bool = False,
        framer: Framer | None = None,
        names: dict[str, ToolName] | None = None,
    ) -> None:
        self.src, self.dst = WireFormat(src), WireFormat(dst)
        src_mod, dst_mod = get_format(self.src), get_format(self.dst)
        # ``framer`` overrides the source format's wire framing, e.g. sse.JSONFramer() for
        # the Codex WebSocket where every message is one JSON event.
        self._framer = framer if framer is not None else src_mod.Framer()
        self._decoder = src_mod.StreamDecoder()
        # names (client_tool_names) only ever come with a Responses client
        self._encoder = dst_mod.StreamEncoder(model) if names is None else dst_mod.StreamEncoder(model, names=names)  # type: ignore[call-arg]
        self._done = False
        self.events = 0  # complete upstream events framed so far (how a caller sees progress)
        # Optional merged view of the stream (inspector); off by default to stay cheap.
        self.accumulator: ResponseAccumulator | None = ResponseAccumulator() if accumulate else None

    def feed(self, chunk: bytes) -> bytes:
        if self._done:
            return b""
        out: list[bytes] = []
        events = self._framer.feed(chunk)
        self.events += len(events)
        for event in events:
            out.extend(self._events(event))
            if self._done:
                break
        return b"".join(out)

    def _events(self, event: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        enc, acc = self._encoder, self.accumulator
        try:
            for ev in self._decoder.feed(event):
                if acc is not None:
                    acc.feed(ev)
                if isinstance(ev, ir.ErrorEvent):
                    out.extend(enc.error(ev.message, ev.status))
                    self._done = True
                    break
                out.extend(enc.feed(ev))
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            # The upstream is not trusted: an event of the wrong shape ends the client's stream
            # with an error event in its own format instead of cutting the connection.
            self._done = True
            out.extend(enc.error(f"upstream sent a malformed stream event ({exc.__class__.__name__})", 502))
        return out

    def finish(self) -> bytes:
        if self._done:
            return b""
        out: list[bytes] = []
        flush = getattr(self._framer, "flush", None)
        if flush is not None:
            for event in flush():
                out.extend(self._events(event))
                if self._done:
                    return b"".join(out)
        self._done = True
        out.extend(self._encoder.finish())
        return b"".join(out)

    def error(self, message: str, status: int = 502) -> bytes:
        if self._done:
            return b""
        self._done = True
        return b"".join(self._encoder.error(message, status))


__all__ = [
    "TRANSLATED",
    "FormatModule",
    "ResponseAccumulator",
    "StreamTranslator",
    "TranslationError",
    "WireFormat",
    "available_formats",
    "client_tool_names",
    "count_tokens",
    "error_body",
    "get_format",
    "ir",
    "stream_error_event",
    "translate_request",
    "translate_response",
]
