"""Gemini ``generateContent`` (public ``v1beta``) ↔ IR.

Request shape (``GenerateContentRequest``): ``contents[]`` of ``{role: user|model, parts[]}``,
``systemInstruction``, ``tools[].functionDeclarations``, ``toolConfig.functionCallingConfig``,
``generationConfig`` (sampling, ``thinkingConfig``, ``responseMimeType`` /
``responseSchema`` / ``responseJsonSchema``), ``safetySettings``, ``cachedContent``. Response:
``candidates[].content.parts`` + ``finishReason``, ``usageMetadata``, ``modelVersion``,
``responseId``. Field names from ai.google.dev/api/generate-content and the google-genai SDK
types; streamed with ``:streamGenerateContent?alt=sse`` as SSE ``data:`` lines each holding
a whole ``GenerateContentResponse`` (see :mod:`.gemini_stream`).

Deliberate choices:
* Gemini-only fields that change the result (``safetySettings``, ``cachedContent`` and any
  field not understood here) go to ``IRRequest.passthrough`` (kept for Gemini→Gemini, a
  TranslationError towards other formats); ``labels`` (billing tags) is metadata.
* Function calls without ``id`` get deterministic ids (gemini_wire.request_call_id /
  response_call_id); ids are always sent back (``FunctionCall.id`` / ``FunctionResponse.id``).
* Thought signatures are tagged ``signature_format="gemini"`` and replayed only to Gemini;
  thinking signed by another family is left out (Gemini would reject the signature). Towards
  a Gemini *client* such a signature is sent base64-wrapped with its family tag, so that it
  comes back and reaches its own provider on the next turn (gemini_wire.signature_to_client).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

from .base import check_passthrough, effort_to_budget, same_format_metadata
from .errors import TranslationError
from .gemini_stream import Framer, StreamDecoder, StreamEncoder
from .gemini_wire import (
    finish_from_ir,
    finish_to_ir,
    parts_from_ir,
    parts_to_ir,
    request_call_id,
    response_call_id,
    usage_from_ir,
    usage_to_ir,
)
from .ir import (
    IRRequest,
    IRResponse,
    Message,
    Part,
    Reasoning,
    ResponseFormat,
    Role,
    Sampling,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)

__all__ = [
    "Framer",
    "StreamDecoder",
    "StreamEncoder",
    "request_from_ir",
    "request_to_ir",
    "response_from_ir",
    "response_to_ir",
]

FORMAT = "gemini"
_HANDLED = {"model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}
_GC_HANDLED = {"temperature", "topP", "topK", "maxOutputTokens", "stopSequences", "seed",
               "presencePenalty", "frequencyPenalty", "candidateCount", "thinkingConfig",
               "responseMimeType", "responseSchema", "responseJsonSchema"}  # fmt: skip


# ---------------------------------------------------------------- requests


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    ir = IRRequest(model=strip_models_prefix(body.get("model", "")))
    sys_inst = body.get("systemInstruction")
    if isinstance(sys_inst, str):
        ir.system = [TextPart(sys_inst)]
    elif sys_inst:
        for i, p in enumerate(sys_inst.get("parts", [])):
            if "text" not in p:
                raise TranslationError(f"systemInstruction.parts[{i}]", "only text is supported")
            ir.system.append(TextPart(p["text"]))
    ir.messages = _contents_to_ir(body.get("contents", []))
    ir.tools = _tools_to_ir(body.get("tools", []))
    ir.tool_choice = _tool_config_to_ir(body.get("toolConfig"))
    _generation_config_to_ir(body.get("generationConfig") or {}, ir)
    if "labels" in body:
        ir.metadata, ir.metadata_format = {"labels": body["labels"]}, FORMAT
    extra = {k: v for k, v in body.items() if k not in _HANDLED and k != "labels"}
    gc_extra = {
        k: v for k, v in (body.get("generationConfig") or {}).items() if k not in _GC_HANDLED
    }
    if gc_extra:  # responseModalities, responseLogprobs, mediaResolution, speechConfig …
        extra["generationConfig"] = gc_extra
    if extra:
        ir.passthrough, ir.passthrough_format = extra, FORMAT
    return ir


def strip_models_prefix(model: str) -> str:
    return model.removeprefix("models/")


def _contents_to_ir(contents: list[dict[str, Any]]) -> list[Message]:
    messages: list[Message] = []
    # Function responses without ids are matched to the earliest unanswered call of the same
    # name (then to any unanswered call), which is how Gemini itself pairs them.
    pending: list[ToolCallPart] = []

    def result_id(resp: dict[str, Any]) -> str:
        for cand in pending:
            if cand.name == resp.get("name"):
                pending.remove(cand)
                return cand.id
        return pending.pop(0).id if pending else f"call_result_{len(messages)}"

    for ci, content in enumerate(contents):
        role: Role = "assistant" if content.get("role") == "model" else "user"
        call_id = functools.partial(_position_id, ci)
        parts = parts_to_ir(content.get("parts", []), f"contents[{ci}]", call_id, result_id)
        if role == "assistant":
            pending.extend(p for p in parts if isinstance(p, ToolCallPart))
        messages.append(Message(role=role, content=parts))
    return messages


def _position_id(content_index: int, k: int, _call: dict[str, Any]) -> str:
    return request_call_id(content_index, k)


def _tools_to_ir(tools: list[dict[str, Any]]) -> list[Tool]:
    out: list[Tool] = []
    for ti, tool in enumerate(tools):
        decls = tool.get("functionDeclarations")
        if decls is None:
            # googleSearch, codeExecution, urlContext …: server-side tools no other format has.
            kinds = ",".join(sorted(tool)) or "empty"
            raise TranslationError(
                f"tools[{ti}]", f"Gemini built-in tool ({kinds}) is not supported"
            )
        for decl in decls:
            params = decl.get("parametersJsonSchema") or decl.get("parameters")
            out.append(
                Tool(
                    name=decl["name"],
                    description=decl.get("description"),
                    parameters=_lower_types(params)
                    if params
                    else {"type": "object", "properties": {}},
                )
            )
    return out


def _lower_types(schema: Any) -> Any:
    """Gemini's OpenAPI-subset schemas may spell types upper-case (``"OBJECT"``); JSON Schema
    consumers (OpenAI, Anthropic) want lower-case."""
    if isinstance(schema, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def _tool_config_to_ir(config: dict[str, Any] | None) -> ToolChoice | None:
    fcc = (config or {}).get("functionCallingConfig")
    if not fcc:
        return None
    mode = fcc.get("mode", "AUTO")
    allowed = fcc.get("allowedFunctionNames") or []
    if mode == "NONE":
        return ToolChoice("none")
    if mode in ("ANY", "VALIDATED"):
        if len(allowed) == 1:
            return ToolChoice("tool", name=allowed[0])
        if len(allowed) > 1:
            raise TranslationError(
                "toolConfig.functionCallingConfig.allowedFunctionNames",
                "a choice among several named functions is not supported",
            )
        return ToolChoice("required")
    return ToolChoice("auto")


def _generation_config_to_ir(gc: dict[str, Any], ir: IRRequest) -> None:
    stop = gc.get("stopSequences") or []
    ir.sampling = Sampling(
        temperature=gc.get("temperature"),
        top_p=gc.get("topP"),
        top_k=gc.get("topK"),
        max_tokens=gc.get("maxOutputTokens"),
        stop=list(stop),
        seed=gc.get("seed"),
        presence_penalty=gc.get("presencePenalty"),
        frequency_penalty=gc.get("frequencyPenalty"),
        n=gc.get("candidateCount"),
    )
    tc = gc.get("thinkingConfig")
    if tc:
        budget = tc.get("thinkingBudget")
        level = tc.get("thinkingLevel")
        if budget == 0:
            ir.reasoning = Reasoning(enabled=False)
        else:
            effort = level.lower() if isinstance(level, str) else None
            budget = budget if budget and budget > 0 else None  # -1 = dynamic
            ir.reasoning = Reasoning(enabled=True, effort=effort, budget_tokens=budget)
    schema = gc.get("responseJsonSchema") or gc.get("responseSchema")
    if schema is not None:
        ir.response_format = ResponseFormat("json_schema", schema=_lower_types(schema))
    elif gc.get("responseMimeType") == "application/json":
        ir.response_format = ResponseFormat("json_object")
    elif gc.get("responseMimeType") not in (None, "text/plain"):
        raise TranslationError(
            "generationConfig.responseMimeType", "only JSON or text output is supported"
        )


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    messages = _with_result_names(ir.messages)
    body: dict[str, Any] = {
        "contents": [
            {
                "role": "model" if m.role == "assistant" else "user",
                "parts": parts_from_ir(m.content, f"messages[{i}]"),
            }
            for i, m in enumerate(messages)
        ]
    }
    if ir.system:
        body["systemInstruction"] = {"parts": [{"text": p.text} for p in ir.system]}
    if ir.tools:
        body["tools"] = [{"functionDeclarations": [_tool_from_ir(t) for t in ir.tools]}]
    tc = _tool_choice_from_ir(ir.tool_choice)
    if tc:
        body["toolConfig"] = tc
    gc = _generation_config_from_ir(ir)
    if gc:
        body["generationConfig"] = gc
    if "labels" in same_format_metadata(ir, FORMAT):
        body["labels"] = ir.metadata["labels"]
    passthrough = dict(check_passthrough(ir, FORMAT))
    if "generationConfig" in passthrough:
        body["generationConfig"] = {**passthrough.pop("generationConfig"), **gc}
    body.update(passthrough)
    return body


def _with_result_names(messages: list[Message]) -> list[Message]:
    """Copies of the messages whose tool results carry the called function's name (Gemini's
    functionResponse is keyed by name); the caller's IR is left untouched."""
    names: dict[str, str] = {}
    out: list[Message] = []
    for msg in messages:
        parts: list[Part] = []
        for part in msg.content:
            if isinstance(part, ToolCallPart):
                names[part.id] = part.name
            elif isinstance(part, ToolResultPart) and part.name is None:
                part = replace(part, name=names.get(part.tool_call_id))
            parts.append(part)
        out.append(Message(msg.role, parts))
    return out


def _tool_from_ir(tool: Tool) -> dict[str, Any]:
    # parametersJsonSchema takes full JSON Schema (additionalProperties, $defs, anyOf …) that
    # the OpenAPI-subset ``parameters`` field rejects; tools from OpenAI/Anthropic clients
    # use those freely.
    decl: dict[str, Any] = {"name": tool.name, "parametersJsonSchema": tool.parameters}
    if tool.description:
        decl["description"] = tool.description
    return decl


def _tool_choice_from_ir(choice: ToolChoice | None) -> dict[str, Any] | None:
    # ``parallel`` has no Gemini equivalent; it is a scheduling hint, left out on purpose.
    if choice is None:
        return None
    if choice.mode == "tool":
        fcc: dict[str, Any] = {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    else:
        fcc = {"mode": {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice.mode]}
    return {"functionCallingConfig": fcc}


def _generation_config_from_ir(ir: IRRequest) -> dict[str, Any]:
    s = ir.sampling
    gc: dict[str, Any] = {}
    for key, value in (
        ("temperature", s.temperature),
        ("topP", s.top_p),
        ("topK", s.top_k),
        ("maxOutputTokens", s.max_tokens),
        ("seed", s.seed),
        ("presencePenalty", s.presence_penalty),
        ("frequencyPenalty", s.frequency_penalty),
        ("candidateCount", s.n),
    ):
        if value is not None:
            gc[key] = value
    if s.stop:
        gc["stopSequences"] = list(s.stop)
    r = ir.reasoning
    if r is not None:
        if not r.enabled:
            gc["thinkingConfig"] = {"thinkingBudget": 0}
        else:
            budget = r.budget_tokens or effort_to_budget(r.effort)
            gc["thinkingConfig"] = {"includeThoughts": True, "thinkingBudget": budget}
    rf = ir.response_format
    if rf is not None and rf.type != "text":
        gc["responseMimeType"] = "application/json"
        if rf.type == "json_schema" and rf.schema is not None:
            gc["responseJsonSchema"] = rf.schema
    return gc


# ---------------------------------------------------------------- responses


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    candidates = body.get("candidates") or []
    if len(candidates) > 1:
        raise TranslationError("candidates", "more than one candidate is not supported")
    resp = IRResponse(
        id=body.get("responseId", ""),
        model=body.get("modelVersion", ""),
        usage=usage_to_ir(body.get("usageMetadata")),
    )
    if not candidates:
        # Prompt blocked before generation: promptFeedback.blockReason, no candidates.
        blocked = (body.get("promptFeedback") or {}).get("blockReason")
        resp.finish_reason = finish_to_ir("SAFETY" if blocked else "STOP", False)
        return resp
    cand = candidates[0]
    seed = resp.id or repr(cand.get("content"))
    resp.content = parts_to_ir(
        (cand.get("content") or {}).get("parts", []),
        "candidates[0].content",
        lambda k, _call: response_call_id(seed, k),
    )
    has_calls = any(isinstance(p, ToolCallPart) for p in resp.content)
    resp.finish_reason = finish_to_ir(cand.get("finishReason"), has_calls)
    return resp


def response_from_ir(ir: IRResponse) -> dict[str, Any]:
    body: dict[str, Any] = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": parts_from_ir(ir.content, "content", to_client=True),
                },
                "finishReason": finish_from_ir(ir.finish_reason),
                "index": 0,
            }
        ],
        "usageMetadata": usage_from_ir(ir.usage),
        "modelVersion": ir.model,
    }
    if ir.id:
        body["responseId"] = ir.id
    return body
