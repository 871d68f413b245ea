"""Ollama ``/api/chat`` ↔ IR (non-streamed bodies; streams in :mod:`.ollama_stream`).

Wire shape from docs.ollama.com/api/chat (github.com/ollama/ollama ``docs/api.md``)::

    request:  {model, messages: [{role: system|user|assistant|tool, content, images?: [b64],
               thinking?, tool_calls?: [{function: {name, arguments: {..object..}}}],
               tool_name?}], tools?: [{type: function, function: {...}}], format?: "json"|schema,
               options?: {temperature, top_p, top_k, num_predict, stop, seed, ...},
               stream? (default true), think?: bool|"low"|"medium"|"high", keep_alive?}
    response: {model, created_at, message: {role, content, thinking?, tool_calls?}, done,
               done_reason: stop|length|load, prompt_eval_count, eval_count, *_duration}

Deliberate choices:
* Ollama tool calls have no ids (arguments are objects, results name the tool in
  ``tool_name``). Ids are made up deterministically: ``call_<message index>_<k>`` for request
  history (the same prefix every turn gives the same ids every turn), a hash of
  ``created_at`` and position for responses. Results are matched to calls by ``tool_name``
  (earliest unanswered call of that name), else in order. Going out, ids are dropped — Ollama
  pairs by order and ``tool_name``, which is emitted.
* ``keep_alive`` and runtime options (``num_ctx``, ``num_gpu`` …) are resource hints: metadata
  for Ollama→Ollama only. Other options that change sampling go to ``passthrough``.
* System messages anywhere in the list go to ``IRRequest.system``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from .base import check_passthrough, parse_arguments, parse_data_url, same_format_metadata
from .errors import TranslationError
from .ir import (
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    Part,
    Reasoning,
    ResponseFormat,
    Sampling,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from .ollama_stream import Framer, StreamDecoder, StreamEncoder, call_id_for_response

__all__ = [
    "Framer",
    "StreamDecoder",
    "StreamEncoder",
    "request_from_ir",
    "request_to_ir",
    "response_from_ir",
    "response_to_ir",
]

FORMAT = "ollama"
_HANDLED = {"model", "messages", "tools", "format", "options", "stream", "think", "keep_alive"}
_OPTIONS = {"temperature", "top_p", "top_k", "num_predict", "stop", "seed",
            "presence_penalty", "frequency_penalty"}  # fmt: skip
_RUNTIME_OPTIONS = {"num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "use_mmap",
                    "use_mlock", "numa", "low_vram", "vocab_only"}  # fmt: skip
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"),
          (b"RIFF", "image/webp"))  # fmt: skip


def _sniff(b64: str) -> str:
    """Ollama images carry no media type; other formats need one."""
    try:
        head = base64.b64decode(b64[:24] + "=" * (-len(b64[:24]) % 4), validate=False)
    except ValueError:
        return "image/png"
    return next((mime for magic, mime in _MAGIC if head.startswith(magic)), "image/png")


# ---------------------------------------------------------------- requests


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    ir = IRRequest(model=body.get("model", ""), stream=body.get("stream", True) is not False)
    pending: list[ToolCallPart] = []
    for mi, msg in enumerate(body.get("messages", [])):
        role = msg.get("role")
        where = f"messages[{mi}]"
        if role == "system":
            ir.system.append(TextPart(msg.get("content", "")))
        elif role == "tool":
            result = _tool_message_to_ir(msg, pending, where)
            last = ir.messages[-1] if ir.messages else None
            if (
                last is not None
                and last.role == "user"
                and all(isinstance(p, ToolResultPart) for p in last.content)
            ):
                last.content.append(result)  # consecutive tool messages → one user turn
            else:
                ir.messages.append(Message("user", [result]))
        elif role == "assistant":
            parts: list[Part] = []
            if msg.get("thinking"):
                parts.append(ThinkingPart(msg["thinking"]))
            if msg.get("content"):
                parts.append(TextPart(msg["content"]))
            for k, call in enumerate(msg.get("tool_calls") or []):
                fn = call.get("function", {})
                part = ToolCallPart(
                    id=call.get("id") or f"call_{mi}_{k}",
                    name=fn.get("name", ""),
                    arguments=_args_to_str(fn.get("arguments")),
                )
                pending.append(part)
                parts.append(part)
            ir.messages.append(Message("assistant", parts))
        elif role == "user":
            parts = [ImagePart(data=img, media_type=_sniff(img)) for img in msg.get("images") or []]
            if msg.get("content") or not parts:
                parts.insert(0, TextPart(msg.get("content", "")))
            last = ir.messages[-1] if ir.messages else None
            if (
                last is not None
                and last.role == "user"
                and all(isinstance(p, ToolResultPart) for p in last.content)
            ):
                last.content += parts  # text after tool results: same user turn, as in the IR
            else:
                ir.messages.append(Message("user", parts))
        else:
            raise TranslationError(f"{where}.role", f"unknown role {role!r}")
    ir.tools = [_tool_to_ir(t, i) for i, t in enumerate(body.get("tools") or [])]
    _options_to_ir(body, ir)
    return ir


def _args_to_str(args: Any) -> str:
    if isinstance(args, str):
        return args or "{}"  # some clients send OpenAI-style strings; keep them verbatim
    return json.dumps(args if args is not None else {}, ensure_ascii=False, separators=(",", ":"))


def _tool_message_to_ir(
    msg: dict[str, Any], pending: list[ToolCallPart], where: str
) -> ToolResultPart:
    name = msg.get("tool_name") or msg.get("name")
    call_id = msg.get("tool_call_id")
    if call_id:
        pending[:] = [p for p in pending if p.id != call_id]
    else:
        match = next((p for p in pending if p.name == name), None) if name else None
        match = match or (pending[0] if pending else None)
        if match is None:
            raise TranslationError(where, "tool result without a preceding tool call")
        pending.remove(match)
        call_id, name = match.id, name or match.name
    content: list[TextPart | ImagePart] = []
    if msg.get("content"):
        content.append(TextPart(msg["content"]))
    content += [ImagePart(data=img, media_type=_sniff(img)) for img in msg.get("images") or []]
    return ToolResultPart(tool_call_id=call_id, content=content, name=name)


def _tool_to_ir(tool: dict[str, Any], i: int) -> Tool:
    if tool.get("type", "function") != "function":
        raise TranslationError(f"tools[{i}].type", f"unsupported tool type {tool.get('type')!r}")
    fn = tool.get("function", {})
    params = fn.get("parameters") or {"type": "object", "properties": {}}
    return Tool(name=fn.get("name", ""), description=fn.get("description"), parameters=params)


def _options_to_ir(body: dict[str, Any], ir: IRRequest) -> None:
    opts = body.get("options") or {}
    stop = opts.get("stop") or []
    ir.sampling = Sampling(
        temperature=opts.get("temperature"),
        top_p=opts.get("top_p"),
        top_k=opts.get("top_k"),
        max_tokens=opts.get("num_predict") if (opts.get("num_predict") or 0) > 0 else None,
        stop=[stop] if isinstance(stop, str) else list(stop),
        seed=opts.get("seed"),
        presence_penalty=opts.get("presence_penalty"),
        frequency_penalty=opts.get("frequency_penalty"),
    )
    fmt = body.get("format")
    if fmt == "json":
        ir.response_format = ResponseFormat("json_object")
    elif isinstance(fmt, dict):
        ir.response_format = ResponseFormat("json_schema", schema=fmt)
    think = body.get("think")
    if think is not None:
        if isinstance(think, str):
            ir.reasoning = Reasoning(enabled=True, effort=think)
        else:
            ir.reasoning = Reasoning(enabled=bool(think))
    meta = {k: v for k, v in opts.items() if k in _RUNTIME_OPTIONS}
    if "keep_alive" in body:
        meta["keep_alive"] = body["keep_alive"]
    if meta:
        ir.metadata, ir.metadata_format = meta, FORMAT
    extra = {k: v for k, v in body.items() if k not in _HANDLED}
    extra_opts = {k: v for k, v in opts.items() if k not in _OPTIONS | _RUNTIME_OPTIONS}
    if extra_opts:
        extra["options"] = extra_opts
    if extra:
        ir.passthrough, ir.passthrough_format = extra, FORMAT


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    s = ir.sampling
    if s.n not in (None, 1):
        raise TranslationError("n", "Ollama returns one answer per request")
    passthrough = dict(check_passthrough(ir, FORMAT))
    messages: list[dict[str, Any]] = []
    if ir.system:
        messages.append({"role": "system", "content": "\n\n".join(p.text for p in ir.system)})
    for mi, msg in enumerate(ir.messages):
        messages += _message_from_ir(msg, f"messages[{mi}]")
    body: dict[str, Any] = {"model": ir.model, "messages": messages, "stream": ir.stream}
    tc = ir.tool_choice
    if tc is not None and tc.mode in ("required", "tool"):
        raise TranslationError("tool_choice", "Ollama cannot force a tool call")
    if ir.tools and not (tc is not None and tc.mode == "none"):
        # tool_choice "none" is expressed by not offering the tools at all.
        body["tools"] = [{"type": "function", "function": _function_from_ir(t)} for t in ir.tools]
    opts: dict[str, Any] = {}
    for key, value in (
        ("temperature", s.temperature), ("top_p", s.top_p), ("top_k", s.top_k),
        ("num_predict", s.max_tokens), ("seed", s.seed),
        ("presence_penalty", s.presence_penalty), ("frequency_penalty", s.frequency_penalty),
    ):  # fmt: skip
        if value is not None:
            opts[key] = value
    if s.stop:
        opts["stop"] = list(s.stop)
    meta = same_format_metadata(ir, FORMAT)
    opts.update({k: v for k, v in meta.items() if k in _RUNTIME_OPTIONS})
    opts.update(passthrough.pop("options", {}))
    if opts:
        body["options"] = opts
    if "keep_alive" in meta:
        body["keep_alive"] = meta["keep_alive"]
    rf = ir.response_format
    if rf is not None and rf.type == "json_object":
        body["format"] = "json"
    elif rf is not None and rf.type == "json_schema":
        body["format"] = rf.schema or {"type": "object"}
    if ir.reasoning is not None:
        r = ir.reasoning
        # Levels are only understood by models that have them (gpt-oss); others take a bool.
        body["think"] = (
            (r.effort if r.effort in ("low", "medium", "high") else True) if r.enabled else False
        )
    body.update(passthrough)
    return body


def _function_from_ir(tool: Tool) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        fn["description"] = tool.description
    return fn


def _image_b64(part: ImagePart, where: str) -> str:
    if part.data is not None:
        return part.data
    parsed = parse_data_url(part.url or "")
    if parsed is None:
        raise TranslationError(where, "Ollama takes base64 images only, not image URLs")
    return parsed[1]


def _message_from_ir(msg: Message, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if msg.role == "assistant":
        item: dict[str, Any] = {"role": "assistant", "content": ""}
        texts, thinking, calls = [], [], []
        for i, part in enumerate(msg.content):
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, ThinkingPart):
                thinking.append(part.text)  # signatures: nothing on Ollama can verify them
            elif isinstance(part, ToolCallPart):
                calls.append(
                    {"function": {"name": part.name, "arguments": parse_arguments(part.arguments)}}
                )
            elif isinstance(part, ImagePart):
                raise TranslationError(f"{where}.content[{i}]", "Ollama assistant turns are text")
            # RedactedThinkingPart: opaque to everyone but its issuer, left out on purpose.
        item["content"] = "".join(texts)
        if any(thinking):
            item["thinking"] = "".join(thinking)
        if calls:
            item["tool_calls"] = calls
        return [item]
    user: dict[str, Any] | None = None
    for i, part in enumerate(msg.content):
        here = f"{where}.content[{i}]"
        if isinstance(part, ToolResultPart):
            user = None  # text after a tool result starts a new user message, keeping order
            tool: dict[str, Any] = {
                "role": "tool",
                "content": "".join(p.text for p in part.content if isinstance(p, TextPart)),
            }
            if part.name:
                tool["tool_name"] = part.name
            imgs = [_image_b64(p, here) for p in part.content if isinstance(p, ImagePart)]
            if imgs:
                tool["images"] = imgs
            out.append(tool)
            continue
        if user is None:
            user = {"role": "user", "content": ""}
            out.append(user)
        if isinstance(part, TextPart):
            user["content"] += part.text
        elif isinstance(part, ImagePart):
            user.setdefault("images", []).append(_image_b64(part, here))
        else:
            raise TranslationError(here, f"{type(part).__name__} cannot appear in a user turn")
    return out


# ---------------------------------------------------------------- responses


def _created_to_unix(created_at: str | None) -> int | None:
    if not created_at:
        return None
    try:
        return int(datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    msg = body.get("message") or {}
    created_at = body.get("created_at", "")
    resp = IRResponse(
        id="ollama-"
        + hashlib.sha256(f"{body.get('model')}:{created_at}".encode()).hexdigest()[:16],
        model=body.get("model", ""),
        created=_created_to_unix(created_at),
        usage=Usage(
            input_tokens=body.get("prompt_eval_count") or 0,
            output_tokens=body.get("eval_count") or 0,
        ),
    )
    if msg.get("thinking"):
        resp.content.append(ThinkingPart(msg["thinking"]))
    if msg.get("content"):
        resp.content.append(TextPart(msg["content"]))
    for k, call in enumerate(msg.get("tool_calls") or []):
        fn = call.get("function", {})
        resp.content.append(
            ToolCallPart(
                id=call.get("id") or call_id_for_response(created_at, k),
                name=fn.get("name", ""),
                arguments=_args_to_str(fn.get("arguments")),
            )
        )
    has_calls = any(isinstance(p, ToolCallPart) for p in resp.content)
    if body.get("done_reason") == "length":
        resp.finish_reason = FinishReason.LENGTH
    elif has_calls:
        resp.finish_reason = FinishReason.TOOL_CALLS
    return resp


def response_from_ir(ir: IRResponse) -> dict[str, Any]:
    (item,) = _message_from_ir(Message("assistant", ir.content), "content")
    created = datetime.fromtimestamp(ir.created or 0, UTC)
    return {
        "model": ir.model,
        "created_at": created.isoformat().replace("+00:00", "Z"),
        "message": item,
        "done": True,
        "done_reason": "length" if ir.finish_reason is FinishReason.LENGTH else "stop",
        "prompt_eval_count": ir.usage.input_tokens,
        "eval_count": ir.usage.output_tokens,
    }
