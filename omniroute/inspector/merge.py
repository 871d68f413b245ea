"""Merge a captured streamed response (SSE or NDJSON bytes) into one final message.

Users want the answer, not 400 fragments. Each wire format has its own merger; all of them are
tolerant: a truncated or malformed stream yields whatever could be merged plus an ``error``
note, and nothing here raises. Independent of ``omniroute.translate`` on purpose: the inspector
must render whatever was on the wire, including streams the translator would reject.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from httpx_sse._decoders import SSEDecoder, SSELineDecoder


@dataclass(slots=True)
class MergeResult:
    format: str | None
    message: dict[str, Any] | None
    events: int = 0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "message": self.message, "events": self.events,
                "error": self.error}


def iter_sse(text: str) -> Iterator[tuple[str, str]]:
    """``(event, data)`` pairs; a final event without its blank line is still yielded."""
    lines, decoder = SSELineDecoder(), SSEDecoder()
    for line in [*lines.decode(text), *lines.flush(), ""]:
        sse = decoder.decode(line)
        if sse is not None:
            yield sse.event, sse.data


def _json_events(text: str) -> tuple[list[tuple[str, Any]], int]:
    """Parsed JSON payloads of an SSE or NDJSON (or Gemini JSON-array) stream + bad count."""
    out: list[tuple[str, Any]] = []
    bad = 0
    stripped = text.lstrip()
    if stripped.startswith("["):  # Gemini without alt=sse: one JSON array, maybe truncated
        dec, i = json.JSONDecoder(), 1
        while i < len(stripped):
            while i < len(stripped) and stripped[i] in " \r\n\t,]":
                i += 1
            if i >= len(stripped):
                break
            try:
                obj, i = dec.raw_decode(stripped, i)
                out.append(("", obj))
            except ValueError:
                bad += 1
                break
        return out, bad
    is_sse = stripped.startswith(("data:", "event:", ":", "id:", "retry:"))
    pairs = iter_sse(text) if is_sse else (("", ln) for ln in text.splitlines() if ln.strip())
    for event, data in pairs:
        if data.strip() == "[DONE]":
            out.append((event, "[DONE]"))
            continue
        try:
            out.append((event, json.loads(data)))
        except ValueError:
            bad += 1
    return out, bad


def sniff_format(events: list[tuple[str, Any]]) -> str | None:
    for _, obj in events[:5]:
        if not isinstance(obj, dict):
            continue
        typ = str(obj.get("type", ""))
        if typ.startswith("response."):
            return "openai-responses"
        if typ in ("message_start", "content_block_start", "content_block_delta", "ping"):
            return "anthropic"
        if obj.get("object") == "chat.completion.chunk" or "choices" in obj:
            return "openai-chat"
        if isinstance(obj.get("response"), dict) and "candidates" in obj["response"]:
            return "gemini-cloudcode"
        if "candidates" in obj or "usageMetadata" in obj:
            return "gemini"
        if "done" in obj and ("message" in obj or "response" in obj):
            return "ollama"
    return None


def merge_stream(body: bytes | str, wire_format: str | None = None) -> MergeResult:
    """Merge a streamed body; ``wire_format`` is a hint (sniffed from the events if None)."""
    try:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        events, bad = _json_events(text)
        fmt = sniff_format(events) or wire_format
        merger = _MERGERS.get(fmt or "")
        if merger is None:
            return MergeResult(fmt, None, len(events), "unrecognised stream format")
        message, error = merger([obj for _, obj in events])
        if bad and not error:
            error = f"{bad} malformed event(s) skipped"
        return MergeResult(fmt, message, len(events), error)
    except Exception as e:  # noqa: BLE001 - the inspector must never fail a capture
        return MergeResult(wire_format, None, 0, f"merge failed: {type(e).__name__}: {e}")


Merged = tuple[dict[str, Any] | None, str | None]


def _merge_openai_chat(events: list[Any]) -> Merged:
    out: dict[str, Any] = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict[str, Any]] = {}
    done = False
    for ev in events:
        if ev == "[DONE]":
            done = True
            continue
        if not isinstance(ev, dict):
            continue
        if "error" in ev:
            out["error"] = ev["error"]
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if ev.get(key) is not None:
                out[key] = ev[key]
        if ev.get("usage"):
            out["usage"] = ev["usage"]
        for ch in ev.get("choices") or []:
            idx = ch.get("index", 0)
            c = choices.setdefault(idx, {"index": idx, "message": {"role": "assistant",
                                                                  "content": None},
                                         "finish_reason": None})
            msg, delta = c["message"], ch.get("delta") or ch.get("message") or {}
            if delta.get("role"):
                msg["role"] = delta["role"]
            for key in ("content", "reasoning_content", "reasoning", "refusal"):
                if isinstance(delta.get(key), str):
                    msg[key] = (msg.get(key) or "") + delta[key]
            for tc in delta.get("tool_calls") or []:
                calls = msg.setdefault("tool_calls", [])
                i = tc.get("index", len(calls))
                while len(calls) <= i:
                    calls.append({"id": None, "type": "function",
                                  "function": {"name": "", "arguments": ""}})
                call, fn = calls[i], tc.get("function") or {}
                call["id"] = tc.get("id") or call["id"]
                if fn.get("name") and not call["function"]["name"]:
                    call["function"]["name"] = fn["name"]
                call["function"]["arguments"] += fn.get("arguments") or ""
            if ch.get("finish_reason"):
                c["finish_reason"] = ch["finish_reason"]
    out["choices"] = [choices[i] for i in sorted(choices)]
    finished = any(c["finish_reason"] for c in out["choices"])
    return out, None if (done or finished) else "stream truncated (no finish_reason / [DONE])"


def _merge_responses(events: list[Any]) -> Merged:
    response: dict[str, Any] | None = None
    items: dict[int, dict[str, Any]] = {}
    for ev in events:
        if not isinstance(ev, dict):
            continue
        typ = ev.get("type", "")
        if typ in ("response.completed", "response.failed", "response.incomplete"):
            final = ev.get("response") or {}
            if final.get("output") or not items:
                return final, None if typ == "response.completed" else typ
            response = final  # some servers omit output in the terminal event
            continue
        if typ in ("response.created", "response.in_progress") and ev.get("response"):
            response = dict(ev["response"])
        elif typ in ("response.output_item.added", "response.output_item.done"):
            items[ev.get("output_index", len(items))] = ev.get("item") or {}
        elif typ == "response.output_text.delta" or typ == "response.refusal.delta":
            item = items.setdefault(ev.get("output_index", 0), {"type": "message", "content": []})
            parts = item.setdefault("content", [])
            ci = ev.get("content_index", 0)
            while len(parts) <= ci:
                parts.append({"type": "output_text", "text": ""})
            key = "refusal" if typ == "response.refusal.delta" else "text"
            parts[ci][key] = parts[ci].get(key, "") + ev.get("delta", "")
        elif typ == "response.function_call_arguments.delta":
            item = items.setdefault(ev.get("output_index", 0), {"type": "function_call"})
            item["arguments"] = item.get("arguments", "") + ev.get("delta", "")
        elif typ == "response.reasoning_summary_text.delta":
            item = items.setdefault(ev.get("output_index", 0), {"type": "reasoning"})
            summary = item.setdefault("summary", [])
            si = ev.get("summary_index", 0)
            while len(summary) <= si:
                summary.append({"type": "summary_text", "text": ""})
            summary[si]["text"] += ev.get("delta", "")
        elif typ == "error":
            response = response or {}
            response["error"] = {k: v for k, v in ev.items() if k != "type"}
    merged = dict(response or {"object": "response"})
    merged["output"] = [items[i] for i in sorted(items)]
    return merged, "stream truncated (no response.completed)"


def _merge_anthropic(events: list[Any]) -> Merged:
    msg: dict[str, Any] = {"type": "message", "role": "assistant", "content": []}
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    stopped, error = False, None
    for ev in events:
        if not isinstance(ev, dict):
            continue
        typ = ev.get("type")
        if typ == "message_start":
            msg.update(ev.get("message") or {})
            msg["content"] = []
        elif typ == "content_block_start":
            blocks[ev.get("index", len(blocks))] = dict(ev.get("content_block") or {})
        elif typ == "content_block_delta":
            i, d = ev.get("index", 0), ev.get("delta") or {}
            block = blocks.setdefault(i, {"type": "text", "text": ""})
            dt = d.get("type")
            if dt == "text_delta":
                block["text"] = block.get("text", "") + d.get("text", "")
            elif dt == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + d.get("thinking", "")
            elif dt == "signature_delta":
                block["signature"] = block.get("signature", "") + d.get("signature", "")
            elif dt == "input_json_delta":
                partial[i] = partial.get(i, "") + d.get("partial_json", "")
            elif dt == "citations_delta":
                block.setdefault("citations", []).append(d.get("citation"))
        elif typ == "message_delta":
            delta = ev.get("delta") or {}
            for key in ("stop_reason", "stop_sequence"):
                if key in delta:
                    msg[key] = delta[key]
            msg["usage"] = {**(msg.get("usage") or {}), **(ev.get("usage") or {})}
        elif typ == "message_stop":
            stopped = True
        elif typ == "error":
            error = f"stream error: {json.dumps(ev.get('error'))}"
            msg["error"] = ev.get("error")
    for i, raw in partial.items():
        try:
            blocks[i]["input"] = json.loads(raw) if raw else {}
        except ValueError:
            blocks[i]["input"] = raw  # truncated tool input: keep the text
            error = error or f"tool_use input of block {i} is not complete JSON"
    msg["content"] = [blocks[i] for i in sorted(blocks)]
    return msg, error or (None if stopped else "stream truncated (no message_stop)")


def _merge_gemini(events: list[Any]) -> Merged:
    envelope: dict[str, Any] | None = None
    merged: dict[str, Any] = {"candidates": []}
    cands: dict[int, dict[str, Any]] = {}
    finished = False
    for ev in events:
        if not isinstance(ev, dict):
            continue
        if isinstance(ev.get("response"), dict):  # Cloud Code envelope
            envelope = {k: v for k, v in ev.items() if k != "response"}
            ev = ev["response"]
        for key in ("usageMetadata", "modelVersion", "responseId", "promptFeedback"):
            if key in ev:
                merged[key] = ev[key]
        if "error" in ev:
            merged["error"] = ev["error"]
        for cand in ev.get("candidates") or []:
            i = cand.get("index", 0)
            c = cands.setdefault(i, {"index": i, "content": {"role": "model", "parts": []}})
            parts = c["content"]["parts"]
            for part in (cand.get("content") or {}).get("parts") or []:
                last = parts[-1] if parts else None
                if ("text" in part and last is not None and "text" in last
                        and bool(last.get("thought")) == bool(part.get("thought"))):
                    last["text"] += part["text"]
                    if part.get("thoughtSignature"):
                        last["thoughtSignature"] = part["thoughtSignature"]
                else:
                    parts.append(dict(part))
            for key in ("finishReason", "safetyRatings", "citationMetadata", "groundingMetadata"):
                if key in cand:
                    c[key] = cand[key]
            finished = finished or bool(cand.get("finishReason"))
    merged["candidates"] = [cands[i] for i in sorted(cands)]
    note = None if finished else "stream truncated (no finishReason)"
    if envelope is not None:
        return {**envelope, "response": merged}, note
    return merged, note


def _merge_ollama(events: list[Any]) -> Merged:
    out: dict[str, Any] = {}
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    response, done, chat = "", False, False
    for ev in events:
        if not isinstance(ev, dict):
            continue
        if "error" in ev:
            out["error"] = ev["error"]
        m = ev.get("message")
        if isinstance(m, dict):
            chat = True
            message["role"] = m.get("role") or message["role"]
            message["content"] += m.get("content") or ""
            if m.get("thinking"):
                message["thinking"] = message.get("thinking", "") + m["thinking"]
            if m.get("tool_calls"):
                message.setdefault("tool_calls", []).extend(m["tool_calls"])
        response += ev.get("response") or ""
        for key, value in ev.items():
            if key not in ("message", "response"):
                out[key] = value
        done = done or ev.get("done") is True
    if chat:
        out["message"] = message
    else:
        out["response"] = response
    return out, None if done else "stream truncated (no done:true)"


_MERGERS = {
    "openai-chat": _merge_openai_chat,
    "openai-responses": _merge_responses,
    "anthropic": _merge_anthropic,
    "gemini": _merge_gemini,
    "gemini-cloudcode": _merge_gemini,
    "ollama": _merge_ollama,
}
