"""The protocol every format module implements, plus helpers shared between modules.

A format module (``openai_chat``, ``anthropic``, ``openai_responses``, ``gemini``, ``ollama``,
``kiro`` …) is a plain module exposing the names in :class:`FormatModule`. The registry in
``omniroute.translate`` looks modules up by :class:`~omniroute.translate.formats.WireFormat`.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from .ir import (
    BlockStop,
    ErrorEvent,
    Finish,
    FinishReason,
    ImagePart,
    IREvent,
    IRRequest,
    IRResponse,
    Message,
    MessageStart,
    Part,
    RedactedThinkingBlock,
    RedactedThinkingPart,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    ToolCallPart,
    ToolCallStart,
    ToolResultPart,
    UsageEvent,
)


@runtime_checkable
class StreamDecoder(Protocol):
    """Parsed upstream stream events (as produced by the format's Framer) → IR events."""

    def feed(self, event: dict[str, Any]) -> list[IREvent]: ...


@runtime_checkable
class StreamEncoder(Protocol):
    """IR events → wire bytes of this format. Constructed as ``StreamEncoder(model, ...)``."""

    def feed(self, ev: IREvent) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...

    def error(self, message: str, status: int) -> list[bytes]: ...


@runtime_checkable
class Framer(Protocol):
    """Raw upstream bytes (arbitrary chunking) → parsed events (dicts), incrementally."""

    def feed(self, chunk: bytes) -> list[dict[str, Any]]: ...


class FormatModule(Protocol):
    """What a format module exposes (module-level functions and classes)."""

    def request_to_ir(self, body: dict[str, Any]) -> IRRequest: ...

    def request_from_ir(self, ir: IRRequest) -> dict[str, Any]: ...

    def response_to_ir(self, body: dict[str, Any]) -> IRResponse: ...

    def response_from_ir(self, ir: IRResponse) -> dict[str, Any]: ...

    StreamDecoder: type[StreamDecoder]
    StreamEncoder: type[StreamEncoder]
    Framer: type[Framer]


# ---------------------------------------------------------------- shared helpers


def parse_arguments(arguments: str | None) -> dict[str, Any]:
    """Tool-call arguments JSON string → object, for formats that need an object.

    Invalid JSON (a model can emit it) is kept rather than dropped: it is wrapped so the
    destination still sees what the model produced.
    """
    if not arguments or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return {"_raw_arguments": arguments}
    return value if isinstance(value, dict) else {"_value": value}


def dump_arguments(value: Any) -> str:
    if value is None:
        return "{}"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# OpenAI effort ↔ Anthropic/Gemini budget. The budgets are the ones Claude Code and Codex
# users commonly pair (low ≈ 4k "think", medium ≈ 10k, high ≈ 32k "ultrathink").
_EFFORT_BUDGET = {"minimal": 1024, "low": 4096, "medium": 10240, "high": 32768}


def effort_to_budget(effort: str | None) -> int:
    return _EFFORT_BUDGET.get(effort or "medium", 10240)


def budget_to_effort(budget: int | None) -> str:
    if budget is None:
        return "medium"
    if budget <= 1024:
        return "minimal" if budget < 1024 else "low"
    if budget <= 4096:
        return "low"
    if budget <= 16384:
        return "medium"
    return "high"


def fill_tool_result_names(messages: list[Message]) -> None:
    """Set ``ToolResultPart.name`` from the matching earlier call (Gemini needs names)."""
    names: dict[str, str] = {}
    for msg in messages:
        for part in msg.content:
            if isinstance(part, ToolCallPart):
                names[part.id] = part.name
            elif isinstance(part, ToolResultPart) and part.name is None:
                part.name = names.get(part.tool_call_id)


def tool_result_text(part: ToolResultPart) -> str:
    """A tool result flattened to text (for formats whose results are strings only)."""
    return "".join(p.text for p in part.content if isinstance(p, TextPart))


class ResponseAccumulator:
    """Builds an :class:`IRResponse` from IR stream events.

    Used to merge a stream into one final message (inspector, tests) and by encoders whose
    format repeats the full output at the end (Responses ``response.completed``).
    """

    __slots__ = ("_open", "error", "response")

    def __init__(self) -> None:
        self.response = IRResponse()
        self._open: dict[int, Part] = {}
        self.error: ErrorEvent | None = None

    def feed(self, ev: IREvent) -> None:
        resp = self.response
        match ev:
            case MessageStart():
                resp.id = ev.id or resp.id
                resp.model = ev.model or resp.model
                if ev.usage is not None:
                    ev.usage.merge_into(resp.usage)
            case TextDelta():
                part = self._open.get(ev.index)
                if not isinstance(part, TextPart):
                    part = self._open[ev.index] = TextPart("")
                    resp.content.append(part)
                part.text += ev.text
            case ThinkingDelta():
                part = self._open.get(ev.index)
                if not isinstance(part, ThinkingPart):
                    part = self._open[ev.index] = ThinkingPart("")
                    resp.content.append(part)
                part.text += ev.text
                if ev.signature is not None:
                    part.signature = ev.signature
                    part.signature_format = ev.signature_format
            case RedactedThinkingBlock():
                resp.content.append(RedactedThinkingPart(ev.data))
            case ToolCallStart():
                part = self._open[ev.index] = ToolCallPart(ev.id, ev.name, "")
                resp.content.append(part)
            case ToolCallDelta():
                part = self._open.get(ev.index)
                if isinstance(part, ToolCallPart):
                    part.arguments += ev.arguments
            case BlockStop():
                part = self._open.pop(ev.index, None)
                if isinstance(part, ToolCallPart) and not part.arguments:
                    part.arguments = "{}"
            case UsageEvent():
                ev.usage.merge_into(resp.usage)
            case Finish():
                resp.finish_reason = ev.reason
                resp.stop_sequence = ev.stop_sequence
            case ErrorEvent():
                self.error = ev
                resp.finish_reason = FinishReason.ERROR

    def result(self) -> IRResponse:
        for part in self.response.content:
            if isinstance(part, ToolCallPart) and not part.arguments:
                part.arguments = "{}"
        return self.response


def check_passthrough(ir: IRRequest, fmt: str) -> dict[str, Any]:
    """The passthrough fields to re-emit for ``fmt``; raise if they belong to another format."""
    if not ir.passthrough:
        return {}
    if ir.passthrough_format == fmt:
        return ir.passthrough
    from .errors import TranslationError

    name = next(iter(ir.passthrough))
    raise TranslationError(
        name, f"not supported when translating {ir.passthrough_format} to {fmt}; remove it"
    )


def same_format_metadata(ir: IRRequest, fmt: str) -> dict[str, Any]:
    """Identity metadata is re-emitted only towards the format that produced it."""
    return ir.metadata if ir.metadata_format == fmt and ir.metadata else {}


# Signatures that must travel through a format with no place of their own for foreign
# signatures (a Responses ``encrypted_content`` carrying an Anthropic signature, so that
# Codex → Claude tool loops keep their thinking) are tagged with their family.
_SIG_TAG = "omr1:"


def tag_signature(signature: str, fmt: str) -> str:
    return f"{_SIG_TAG}{fmt}:{signature}"


def untag_signature(value: str, default_fmt: str) -> tuple[str, str]:
    """``(signature, signature_format)`` from a possibly tagged opaque string."""
    if value.startswith(_SIG_TAG):
        fmt, sep, sig = value[len(_SIG_TAG):].partition(":")
        if sep:
            return sig, fmt
    return value, default_fmt


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``data:<media>;base64,<data>`` → ``(media_type, data)``; None for other URLs."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[: -len(";base64")] or "application/octet-stream", data


def inline_image(part: ImagePart, where: str, service: str) -> tuple[str, str]:
    """``(image subtype, base64 data)`` of an image for a service that takes inline images
    only (Kiro, Bedrock): a data URL is unpacked, any other URL is refused."""
    media, data = part.media_type, part.data
    if data is None:
        parsed = parse_data_url(part.url or "")
        if parsed is None:
            from .errors import TranslationError

            raise TranslationError(where, f"{service} takes inline (base64) images only, not URLs")
        media, data = parsed
    return (media or "image/png").split("/")[-1], data


def image_from_url(url: str, detail: str | None = None) -> ImagePart:
    parsed = parse_data_url(url)
    if parsed is not None:
        return ImagePart(data=parsed[1], media_type=parsed[0], detail=detail)
    return ImagePart(url=url, detail=detail)


def image_to_url(part: ImagePart) -> str:
    if part.data is not None:
        return f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return part.url or ""


def new_id(prefix: str) -> str:
    """A fresh id for objects the source never named (never used for tool calls that have one)."""
    import uuid

    return prefix + uuid.uuid4().hex[:24]


def response_events(resp: IRResponse, chunk: int = 0) -> list[IREvent]:
    """A complete response as the IR event sequence a decoder would produce.

    Lets a non-streamed upstream answer a streaming client (and tests drive encoders).
    ``chunk`` > 0 splits text and arguments into deltas of that many characters.
    """
    from .ir import UsagePartial

    def pieces(s: str) -> list[str]:
        if chunk <= 0 or len(s) <= chunk:
            return [s]
        return [s[i : i + chunk] for i in range(0, len(s), chunk)]

    u = resp.usage
    out: list[IREvent] = [MessageStart(resp.id, resp.model, UsagePartial(
        input_tokens=u.input_tokens, cached_input_tokens=u.cached_input_tokens,
        cache_creation_tokens=u.cache_creation_tokens))]  # fmt: skip
    for i, part in enumerate(resp.content):
        if isinstance(part, TextPart):
            out.extend(TextDelta(i, p) for p in pieces(part.text))
        elif isinstance(part, ThinkingPart):
            out.extend(ThinkingDelta(i, p) for p in pieces(part.text))
            if part.signature:
                out.append(ThinkingDelta(i, "", part.signature, part.signature_format))
        elif isinstance(part, RedactedThinkingPart):
            out.append(RedactedThinkingBlock(i, part.data))
            continue
        elif isinstance(part, ToolCallPart):
            out.append(ToolCallStart(i, part.id, part.name))
            out.extend(ToolCallDelta(i, p) for p in pieces(part.arguments) if p)
        else:
            continue
        out.append(BlockStop(i))
    out.append(Finish(resp.finish_reason, resp.stop_sequence))
    out.append(UsageEvent(UsagePartial(u.input_tokens, u.output_tokens, u.cached_input_tokens,
                                       u.cache_creation_tokens, u.reasoning_tokens)))  # fmt: skip
    return out
