"""A normalized conversation view (system, messages, tool calls/results, usage) per format.

Input: the parsed request body and, optionally, the (merged) response message. Output:
``{"format", "model", "system", "messages": [{"role", "content": [parts]}], "tools", "usage"}``
where a part is ``text`` / ``image`` / ``tool_call`` / ``tool_result`` / ``thinking``.
Unknown shapes degrade to fewer parts, never to an exception.

The system prompt as text (also the input of ``context_key``) is defined once for all formats:
the prompt is the ordered list of its text *segments* — one per Anthropic system block, Gemini
``systemInstruction`` part, OpenAI system/developer message text part (a plain string content is
one segment), Responses ``instructions`` followed by system/developer input items — each
segment stripped, empty ones dropped, joined with a blank line (``"\\n\\n"``). So the same prompt
sent by Claude Code, translated to OpenAI or Gemini, gets the same key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

Part = dict[str, Any]


def context_key(system_prompt: str | None) -> str | None:
    """First 12 hex digits of sha256(system prompt text, UTF-8); None for no prompt."""
    if not system_prompt:
        return None
    return hashlib.sha256(system_prompt.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _segments(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, dict):
        content = content.get("parts", [content])
    out: list[str] = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, str):
            out.append(block)
        elif isinstance(block, dict) and isinstance(block.get("text"), str):
            out.append(block["text"])
    return out


def _join(segments: list[str]) -> str | None:
    kept = [s.strip() for s in segments if s and s.strip()]
    return "\n\n".join(kept) if kept else None


def system_prompt(body: Any, wire_format: str | None = None) -> str | None:
    """The system prompt of a request body as text (see the module docstring)."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("request"), dict) and wire_format != "anthropic":
        body = body["request"]  # Cloud Code envelope
    segs: list[str] = []
    if "systemInstruction" in body or "system_instruction" in body:
        segs += _segments(body.get("systemInstruction") or body.get("system_instruction"))
    if "system" in body:  # Anthropic (str or blocks), Ollama /api/generate
        segs += _segments(body["system"])
    if isinstance(body.get("instructions"), str):
        segs.append(body["instructions"])
    msgs = body.get("messages") if isinstance(body.get("messages"), list) else body.get("input")
    for m in msgs if isinstance(msgs, list) else []:
        if isinstance(m, dict) and m.get("role") in ("system", "developer"):
            segs += _segments(m.get("content"))
    return _join(segs)


def _text(text: Any) -> Part:
    return {"type": "text", "text": text if isinstance(text, str) else json.dumps(text)}


def _args(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _image(source: Any) -> Part:
    part: Part = {"type": "image"}
    if isinstance(source, str):
        source = {"url": source}
    if isinstance(source, dict):
        url = source.get("url") or source.get("image_url") or source.get("fileUri")
        if isinstance(url, dict):
            url = url.get("url")
        if isinstance(url, str) and not url.startswith("data:"):
            part["url"] = url
        mime = source.get("media_type") or source.get("mimeType") or source.get("mime_type")
        if mime:
            part["mediaType"] = mime
        data = source.get("data")
        if isinstance(url, str) and url.startswith("data:"):
            header, _, data = url.partition(",")
            part.setdefault("mediaType", header[5:].split(";")[0] or None)
        if isinstance(data, str):
            part["bytes"] = len(data) * 3 // 4  # size only: base64 images would swamp the view
    return part


def _parts(content: Any) -> list[Part]:
    """Content blocks of any supported format → normalized parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [_text(content)] if content else []
    if isinstance(content, dict):
        content = content.get("parts", [content])
    out: list[Part] = []
    for b in content if isinstance(content, list) else [content]:
        if isinstance(b, str):
            out.append(_text(b))
            continue
        if not isinstance(b, dict):
            continue
        t = b.get("type")
        if t in ("text", "input_text", "output_text") or (t is None and "text" in b):
            out.append({"type": "thinking", "text": b["text"]} if b.get("thought")
                       else _text(b.get("text", "")))
        elif t in ("thinking", "redacted_thinking", "reasoning"):
            text = b.get("thinking") or "".join(s.get("text", "") for s in b.get("summary") or [])
            out.append({"type": "thinking", "text": text})
        elif t in ("image", "image_url", "input_image") or "inlineData" in b or "fileData" in b:
            out.append(_image(b.get("source") or b.get("image_url") or b.get("inlineData")
                              or b.get("fileData") or b))
        elif t in ("tool_use", "server_tool_use", "function_call") or "functionCall" in b:
            fc = b.get("functionCall") or b
            out.append({"type": "tool_call", "id": fc.get("id") or b.get("call_id"),
                        "name": fc.get("name"),
                        "arguments": _args(fc.get("input", fc.get("args", fc.get("arguments"))))})
        elif t in ("tool_result", "function_call_output") or "functionResponse" in b:
            fr = b.get("functionResponse") or b
            res = fr.get("content", fr.get("output", fr.get("response")))
            part = {"type": "tool_result", "id": b.get("tool_use_id") or b.get("call_id")
                    or fr.get("id") or fr.get("name"),
                    "content": "\n".join(p.get("text", "") for p in _parts(res))
                    if isinstance(res, list) else res if isinstance(res, str)
                    else json.dumps(res)}
            if b.get("is_error"):
                part["isError"] = True
            out.append(part)
    return out


def _openai_message(m: dict[str, Any]) -> dict[str, Any]:
    role = m.get("role", "user")
    if role == "tool":
        return {"role": "tool", "content": [{"type": "tool_result", "id": m.get("tool_call_id"),
                                             "content": _join(_segments(m.get("content")))
                                             or ""}]}
    parts = []
    for key in ("reasoning_content", "reasoning", "thinking"):
        if isinstance(m.get(key), str) and m[key]:
            parts.append({"type": "thinking", "text": m[key]})
    parts += _parts(m.get("content"))
    for tc in m.get("tool_calls") or []:
        fn = tc.get("function") or {}
        parts.append({"type": "tool_call", "id": tc.get("id"), "name": fn.get("name"),
                      "arguments": _args(fn.get("arguments"))})
    return {"role": role, "content": parts}


def _messages(body: dict[str, Any], fmt: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if fmt in ("gemini", "gemini-cloudcode"):
        for c in body.get("contents") or []:
            if isinstance(c, dict):
                role = "assistant" if c.get("role") == "model" else c.get("role", "user")
                out.append({"role": role, "content": _parts(c.get("parts"))})
        return out
    if fmt == "openai-responses":
        items = body.get("input")
        if isinstance(items, str):
            return [{"role": "user", "content": [_text(items)]}]
        for it in items if isinstance(items, list) else []:
            if not isinstance(it, dict) or it.get("role") in ("system", "developer"):
                continue
            if it.get("type", "message") == "message":
                out.append({"role": it.get("role", "user"), "content": _parts(it.get("content"))})
            else:
                role = "tool" if it.get("type") == "function_call_output" else "assistant"
                out.append({"role": role, "content": _parts([it])})
        return out
    for m in body.get("messages") or []:
        if not isinstance(m, dict) or m.get("role") in ("system", "developer"):
            continue
        out.append(_openai_message(m) if fmt in ("openai-chat", "ollama")
                   else {"role": m.get("role", "user"), "content": _parts(m.get("content"))})
    if fmt == "ollama" and isinstance(body.get("prompt"), str):
        out.append({"role": "user", "content": [_text(body["prompt"])]})
    return out


def _tools(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        for decl in t.get("functionDeclarations") or t.get("function_declarations") or []:
            names.append(decl.get("name"))
        name = t.get("name") or (t.get("function") or {}).get("name")
        if name:
            names.append(name)
    return [n for n in names if n]


def _response_messages(resp: Any, fmt: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(resp, dict):
        return [], {}
    if fmt == "gemini-cloudcode" and isinstance(resp.get("response"), dict):
        resp = resp["response"]
    if fmt in ("gemini", "gemini-cloudcode"):
        cands = resp.get("candidates") or [{}]
        msgs = [{"role": "assistant", "content": _parts((cands[0].get("content") or {})
                                                        .get("parts"))}]
        return msgs, resp.get("usageMetadata") or {}
    if fmt == "openai-responses":
        return ([{"role": "assistant", "content": _parts(resp.get("output") or [])}]
                if resp.get("output") is not None else []), resp.get("usage") or {}
    if fmt == "anthropic":
        return [{"role": "assistant", "content": _parts(resp.get("content"))}], \
            resp.get("usage") or {}
    if fmt == "ollama":
        msg = resp.get("message") or {"role": "assistant", "content": resp.get("response")}
        usage = {"input": resp.get("prompt_eval_count"), "output": resp.get("eval_count")}
        return [_openai_message(msg)], usage
    choices = resp.get("choices") or []
    msgs = [_openai_message(c.get("message") or {}) for c in choices[:1] if isinstance(c, dict)]
    return msgs, resp.get("usage") or {}


def normalize_usage(usage: dict[str, Any], fmt: str) -> dict[str, int | None]:
    """``{input, output, cached, reasoning}``: input counts every prompt token (cached and
    cache-writes included); output includes reasoning tokens, as OpenAI counts them."""
    def g(*path: str) -> int | None:
        cur: Any = usage
        for p in path:
            cur = cur.get(p) if isinstance(cur, dict) else None
        return cur if isinstance(cur, int) else None

    if fmt == "anthropic":
        parts = [g("input_tokens"), g("cache_read_input_tokens"),
                 g("cache_creation_input_tokens")]
        total = sum(p or 0 for p in parts) if any(p is not None for p in parts) else None
        return {"input": total, "output": g("output_tokens"),
                "cached": g("cache_read_input_tokens"), "reasoning": None}
    if fmt in ("gemini", "gemini-cloudcode"):
        cand, thoughts = g("candidatesTokenCount"), g("thoughtsTokenCount")
        output = None if cand is None and thoughts is None else (cand or 0) + (thoughts or 0)
        return {"input": g("promptTokenCount"), "output": output,
                "cached": g("cachedContentTokenCount"), "reasoning": thoughts}
    if fmt == "ollama":
        return {"input": g("input"), "output": g("output"), "cached": None, "reasoning": None}
    return {"input": g("prompt_tokens") if g("prompt_tokens") is not None else g("input_tokens"),
            "output": g("completion_tokens") if g("completion_tokens") is not None
            else g("output_tokens"),
            "cached": g("prompt_tokens_details", "cached_tokens")
            if g("prompt_tokens_details", "cached_tokens") is not None
            else g("input_tokens_details", "cached_tokens"),
            "reasoning": g("completion_tokens_details", "reasoning_tokens")
            if g("completion_tokens_details", "reasoning_tokens") is not None
            else g("output_tokens_details", "reasoning_tokens")}


def conversation_view(request: Any, response: Any = None,
                      wire_format: str | None = None) -> dict[str, Any]:
    """The detail API's conversation view; ``request``/``response`` are parsed JSON bodies
    (the response may be a merged stream message)."""
    body = request if isinstance(request, dict) else {}
    fmt = wire_format or "openai-chat"
    inner = body["request"] if fmt == "gemini-cloudcode" and isinstance(
        body.get("request"), dict) else body
    messages = _messages(inner, fmt)
    reply, usage = _response_messages(response, fmt)
    model = body.get("model") or (response.get("model") if isinstance(response, dict) else None)
    return {"format": fmt, "model": model, "system": system_prompt(body, fmt),
            "messages": messages + reply, "tools": _tools(inner),
            "usage": normalize_usage(usage, fmt)}
