"""The internal representation (IR) every format converts to and from.

Hub and spoke: each format module converts its wire JSON to these dataclasses and back, so
adding a format costs one module, not one per pair. The IR is deliberately close to the
Anthropic Messages model (system kept apart, tool results as parts of a user turn, thinking
as content blocks) because that is the richest of the formats we speak; the flatter formats
(OpenAI chat, Ollama) are expanded into it and folded back out of it.

Conventions every module relies on (change only additively):

* ``Message.role`` is ``"user"`` or ``"assistant"``. Tool results are ``ToolResultPart`` s
  inside a *user* message (OpenAI ``role: "tool"`` messages become that; consecutive ones are
  merged into one user message). System / developer prompts live in ``IRRequest.system``.
* Tool call ids are carried verbatim (``toolu_…``, ``call_…``, ``fc_…``); no module invents a
  new id for a call that already has one, so a conversation stays consistent across turns.
* ``ToolCallPart.arguments`` is a JSON *string* (OpenAI style) so that partial / invalid JSON
  produced by a model is not lost; modules that need an object parse it (``"{}"`` if empty).
* ``Usage.input_tokens`` is the TOTAL prompt size, *including* cached reads and cache
  writes (OpenAI semantics); ``cached_input_tokens`` and ``cache_creation_tokens`` are subsets
  of it. Anthropic's ``input_tokens`` (which excludes both) is converted on the way in/out.
  ``output_tokens`` includes ``reasoning_tokens``.
* ``cache`` fields hold an Anthropic ``cache_control`` dict; formats without prompt-cache hints
  drop them (harmless: caching is an optimisation, never a semantic change).
* ``IRRequest.metadata`` holds caller identity (OpenAI ``user``, Anthropic ``metadata``,
  ``store``, ``prompt_cache_key`` …). It is kept apart so request_from_ir can drop it
  deliberately when the destination is a different provider (identity must not leak); a
  module re-emits it only when its own format produced it (``metadata_format``).

Stream events (``IREvent``): a decoder turns upstream events into these, an encoder turns them
into wire bytes. Contract for decoders:

* ``MessageStart`` first (exactly once). Block ``index`` es are IR block numbers: 0, 1, 2 …
  in order of appearance, one per content part of the final message.
* Blocks are not interleaved: at most one block is open; ``BlockStop(index)`` closes it
  (a tool call block is closed by ``BlockStop`` too — there is no separate tool-stop event).
  Encoders nevertheless tolerate a missing ``BlockStop`` (a delta for a new index closes the
  open block) because some upstreams never say a block ended.
* A text / thinking block opens implicitly with its first delta; a tool call block opens with
  ``ToolCallStart`` and receives ``ToolCallDelta`` argument fragments (concatenate to get the
  JSON string). ``RedactedThinkingBlock`` is a complete block: no delta or BlockStop follows
  (encoders ignore a BlockStop for an index that is not open).
* A thinking signature arrives as a ``ThinkingDelta`` with ``signature`` (and its
  ``signature_format``), normally the block's last event.
* ``UsageEvent`` may come at any point, any number of times; each carries cumulative values and
  a field left at ``None`` means "unknown so far" (encoders merge, they do not add).
* ``Finish`` carries the finish reason; usage may still follow it (OpenAI sends usage in a
  chunk after finish_reason). Encoders therefore write their closing frames in ``finish()``.
* ``ErrorEvent`` reports an upstream error mid-stream; the encoder answers with its format's
  error event and the stream ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"


# ---------------------------------------------------------------- content parts


@dataclass(slots=True)
class TextPart:
    text: str
    cache: dict[str, Any] | None = None


@dataclass(slots=True)
class ImagePart:
    """An image either by ``url`` or inline (``data`` = base64 without the data: prefix)."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None  # OpenAI "low" / "high" / "auto"; others ignore it
    cache: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: str = "{}"  # JSON string
    cache: dict[str, Any] | None = None
    # A call of a Responses freeform ("custom") tool: arguments are {"input": <raw text>};
    # openai_responses re-emits it as custom_tool_call, other formats see a function call.
    custom: bool = False


@dataclass(slots=True)
class ToolResultPart:
    tool_call_id: str
    content: list[TextPart | ImagePart] = field(default_factory=list)
    is_error: bool = False
    # The function name is not on the wire in OpenAI/Anthropic results but Gemini's
    # functionResponse needs it; request_to_ir fills it from the matching call when it can.
    name: str | None = None
    cache: dict[str, Any] | None = None


@dataclass(slots=True)
class ThinkingPart:
    """Reasoning the model showed. ``signature`` is opaque proof of origin (Anthropic
    signature, OpenAI Responses encrypted_content, Gemini thoughtSignature) and is only valid
    for the provider family named by ``signature_format``: a module replays a signed thinking
    part only to its own family and drops it deliberately elsewhere (a foreign provider would
    reject or ignore it)."""

    text: str
    signature: str | None = None
    signature_format: str | None = None  # Format value of the family that signed it
    id: str | None = None  # Responses reasoning item id ("rs_…"), when there was one


@dataclass(slots=True)
class RedactedThinkingPart:
    data: str  # opaque encrypted payload (Anthropic redacted_thinking, OpenAI encrypted_content)


Part = TextPart | ImagePart | ToolCallPart | ToolResultPart | ThinkingPart | RedactedThinkingPart

Role = Literal["user", "assistant"]


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)


# ---------------------------------------------------------------- request settings


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache: dict[str, Any] | None = None
    # Responses freeform ("custom") tool format ({"type": "text"} or a grammar). Other formats
    # see a function taking one string parameter ``input`` (see openai_responses).
    custom_format: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None  # set when mode == "tool"
    parallel: bool | None = None  # None = provider default; False = one call per turn


@dataclass(slots=True)
class Sampling:
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    n: int | None = None


@dataclass(slots=True)
class Reasoning:
    """Reasoning settings. ``effort`` is OpenAI's scale (minimal/low/medium/high);
    ``budget_tokens`` Anthropic/Gemini's. Converters derive one from the other."""

    enabled: bool = True
    effort: str | None = None
    budget_tokens: int | None = None
    summary: str | None = None  # Responses "auto" / "concise" / "detailed"


@dataclass(slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None
    description: str | None = None


@dataclass(slots=True)
class IRRequest:
    model: str = ""
    system: list[TextPart] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    sampling: Sampling = field(default_factory=Sampling)
    reasoning: Reasoning | None = None
    response_format: ResponseFormat | None = None
    stream: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    metadata_format: str | None = None  # the format that produced ``metadata``
    # Fields the IR does not model but which change the result (e.g. OpenAI ``logprobs``,
    # Responses ``previous_response_id``). Re-emitted only by the module of
    # ``passthrough_format``; every other module raises TranslationError naming the field
    # (see base.check_passthrough) instead of dropping it silently.
    passthrough: dict[str, Any] = field(default_factory=dict)
    passthrough_format: str | None = None
    # Stream usage wanted (OpenAI stream_options.include_usage); encoders always send usage
    # where the format allows it, this only round-trips the client's flag.
    stream_usage: bool | None = None


# ---------------------------------------------------------------- responses


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class IRResponse:
    id: str = ""
    model: str = ""
    content: list[Part] = field(default_factory=list)
    finish_reason: FinishReason = FinishReason.STOP
    usage: Usage = field(default_factory=Usage)
    stop_sequence: str | None = None  # which stop sequence ended the turn, when known
    created: int | None = None  # unix seconds, when the source gave one


# ---------------------------------------------------------------- stream events


@dataclass(slots=True)
class MessageStart:
    id: str = ""
    model: str = ""
    usage: UsagePartial | None = None


@dataclass(slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    index: int
    text: str = ""
    signature: str | None = None  # set on the event carrying the (final) signature
    signature_format: str | None = None  # family that signed it (see ThinkingPart)


@dataclass(slots=True)
class RedactedThinkingBlock:
    """A whole redacted-thinking block (they are never streamed in pieces)."""

    index: int
    data: str


@dataclass(slots=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    arguments: str


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(slots=True)
class UsagePartial:
    """Cumulative usage known so far; ``None`` = not reported yet (merge, don't add)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None

    def merge_into(self, usage: Usage) -> None:
        for name in _USAGE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                setattr(usage, name, value)


_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
)


@dataclass(slots=True)
class UsageEvent:
    usage: UsagePartial


@dataclass(slots=True)
class Finish:
    reason: FinishReason
    stop_sequence: str | None = None


@dataclass(slots=True)
class ErrorEvent:
    message: str
    status: int = 500
    type: str = "api_error"  # Anthropic-style error type; encoders map it


IREvent = (
    MessageStart
    | TextDelta
    | ThinkingDelta
    | RedactedThinkingBlock
    | ToolCallStart
    | ToolCallDelta
    | BlockStop
    | UsageEvent
    | Finish
    | ErrorEvent
)

# Aliases matching the names used in the design brief.
MessageStartEvent = MessageStart
FinishEvent = Finish
