"""OpenAI wire formats for the mock provider: chat completions, Responses, embeddings, models."""

from __future__ import annotations

import base64
import hashlib
import itertools
import struct
import time
from collections.abc import Sequence
from typing import Any

from tests.support.mock_formats import (
    JSON,
    Conversation,
    Event,
    Ids,
    ReplyPlan,
    Structured,
    content_texts,
    dumps,
    finish_plan,
    has_tool_result,
    pieces,
    user_turn,
)

DEFAULT_EMBEDDING_DIMS = 8


# --------------------------------------------------------------------------- chat


def _first_chat_tool(tools: Any) -> str | None:
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict) and tool.get("type", "function") == "function":
            name = (tool.get("function") or {}).get("name")
            if isinstance(name, str):
                return name
    return None


def plan_chat(body: JSON, model: str) -> ReplyPlan:
    """OpenAI chat completions and Ollama /api/chat share the message shape."""
    conv = Conversation()
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        texts = content_texts(msg.get("content"))
        conv.texts.extend(texts)
        role = msg.get("role")
        if role == "user":
            user_turn(conv, texts, has_tool_result(msg.get("content")))
        elif role in ("assistant", "tool", "function"):
            conv.ends_with_user_text = False
    return finish_plan(conv, model, _first_chat_tool(body.get("tools")), thinking=False,
                       structured=_chat_structured(body))


def _chat_structured(body: JSON) -> Structured | None:
    """A forced ``tool_choice`` (a named function, or ``required``), or ``response_format``."""
    choice = body.get("tool_choice")
    named = choice.get("function") if isinstance(choice, dict) else None
    wanted = (named.get("name") if isinstance(named, dict)
              else _first_chat_tool(body.get("tools")) if choice == "required" else None)
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    for tool in tools if wanted else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name") == wanted:
            return Structured(function.get("parameters"), wanted)
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return Structured((fmt.get("json_schema") or {}).get("schema"))
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        return Structured(None)
    return None


def chat_completion(plan: ReplyPlan, ids: Ids) -> JSON:
    message: JSON = {"role": "assistant", "content": plan.text or None, "refusal": None,
                     "annotations": []}
    finish = "stop"
    if plan.tool_name:
        message["tool_calls"] = [{
            "id": ids.next("call_mock"), "type": "function",
            "function": {"name": plan.tool_name, "arguments": plan.tool_args_json},
        }]
        finish = "tool_calls"
    return {
        "id": ids.next("chatcmpl-mock"), "object": "chat.completion",
        "created": int(time.time()), "model": plan.model, "system_fingerprint": "fp_mock",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _chat_usage(plan),
    }


def _chat_usage(plan: ReplyPlan) -> JSON:
    return {
        "prompt_tokens": plan.input_tokens, "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def chat_stream(plan: ReplyPlan, ids: Ids, include_usage: bool) -> list[Event]:
    cid, created = ids.next("chatcmpl-mock"), int(time.time())

    def chunk(delta: JSON, finish: str | None = None) -> Event:
        data: JSON = {"id": cid, "object": "chat.completion.chunk", "created": created,
                      "model": plan.model, "system_fingerprint": "fp_mock",
                      "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                   "finish_reason": finish}]}
        if include_usage:
            data["usage"] = None  # the real API sends null usage on every chunk but the last
        return Event(data)

    if plan.tool_name:
        events = [chunk({"role": "assistant", "content": None, "tool_calls": [{
            "index": 0, "id": ids.next("call_mock"), "type": "function",
            "function": {"name": plan.tool_name, "arguments": ""}}]})]
        events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
                   for p in pieces(plan.tool_args_json)]
        events.append(chunk({}, "tool_calls"))
    else:
        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": p}) for p in pieces(plan.text)]
        events.append(chunk({}, "stop"))
    if include_usage:
        events.append(Event({"id": cid, "object": "chat.completion.chunk", "created": created,
                             "model": plan.model, "system_fingerprint": "fp_mock",
                             "choices": [], "usage": _chat_usage(plan)}))
    events.append(Event("[DONE]"))
    return events


# --------------------------------------------------------------------------- Responses


def plan_responses(body: JSON, model: str) -> ReplyPlan:
    conv = Conversation()
    if isinstance(body.get("instructions"), str):
        conv.texts.append(body["instructions"])
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "message":
            texts = content_texts(item.get("content"))
            conv.texts.extend(texts)
            if item.get("role") == "user":
                user_turn(conv, texts, tool_result=False)
            else:
                conv.ends_with_user_text = conv.ends_with_user_text and item.get("role") in (
                    "system", "developer")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            conv.texts.extend(content_texts(item.get("output")))
            conv.ends_with_user_text = False
        elif kind in ("function_call", "custom_tool_call"):
            conv.ends_with_user_text = False
    tool = next((t.get("name") for t in body.get("tools") or []
                 if isinstance(t, dict) and t.get("type") == "function"
                 and isinstance(t.get("name"), str)), None)
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    structured = None
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        structured = Structured(fmt.get("schema"))
    return finish_plan(conv, model, tool, thinking=False, structured=structured)


class ResponsesBuilder:
    """Builds one Responses API reply; the JSON body and the stream share ids and items."""

    def __init__(self, plan: ReplyPlan, body: JSON, ids: Ids) -> None:
        self.plan, self.body = plan, body
        self.response_id = ids.next("resp_mock")
        self.created_at = int(time.time())
        if plan.tool_name:
            self.item_id, self.call_id = ids.next("fc_mock"), ids.next("call_mock")
        else:
            self.item_id, self.call_id = ids.next("msg_mock"), ""

    def _part(self, text: str) -> JSON:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def item(self, done: bool) -> JSON:
        status = "completed" if done else "in_progress"
        if self.plan.tool_name:
            return {"id": self.item_id, "type": "function_call", "status": status,
                    "call_id": self.call_id, "name": self.plan.tool_name,
                    "arguments": self.plan.tool_args_json if done else ""}
        return {"id": self.item_id, "type": "message", "status": status, "role": "assistant",
                "content": [self._part(self.plan.text)] if done else []}

    def response(self, done: bool) -> JSON:
        body, plan = self.body, self.plan
        usage = None
        if done:
            usage = {"input_tokens": plan.input_tokens,
                     "input_tokens_details": {"cached_tokens": 0},
                     "output_tokens": plan.output_tokens,
                     "output_tokens_details": {"reasoning_tokens": 0},
                     "total_tokens": plan.input_tokens + plan.output_tokens}
        return {
            "id": self.response_id, "object": "response", "created_at": self.created_at,
            "status": "completed" if done else "in_progress", "background": False,
            "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"), "model": plan.model,
            "output": [self.item(True)] if done else [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
            "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0), "truncation": body.get("truncation", "disabled"),
            "usage": usage, "user": None, "metadata": body.get("metadata") or {},
        }

    def events(self) -> list[Event]:
        seq = itertools.count()

        def ev(kind: str, **fields: Any) -> Event:
            return Event({"type": kind, "sequence_number": next(seq), **fields}, name=kind)

        loc = {"item_id": self.item_id, "output_index": 0}
        out = [ev("response.created", response=self.response(False)),
               ev("response.in_progress", response=self.response(False)),
               ev("response.output_item.added", output_index=0, item=self.item(False))]
        if self.plan.tool_name:
            args = self.plan.tool_args_json
            out += [ev("response.function_call_arguments.delta", **loc, delta=p)
                    for p in pieces(args)]
            out.append(ev("response.function_call_arguments.done", **loc, arguments=args,
                          name=self.plan.tool_name))
        else:
            text, cloc = self.plan.text, {**loc, "content_index": 0}
            out.append(ev("response.content_part.added", **cloc, part=self._part("")))
            out += [ev("response.output_text.delta", **cloc, delta=p, logprobs=[])
                    for p in pieces(text)]
            out += [ev("response.output_text.done", **cloc, text=text, logprobs=[]),
                    ev("response.content_part.done", **cloc, part=self._part(text))]
        out += [ev("response.output_item.done", output_index=0, item=self.item(True)),
                ev("response.completed", response=self.response(True))]
        return out



# --------------------------------------------------------------------------- embeddings



def embedding_vector(data: str, dims: int) -> list[float]:
    """Unit vector derived from a hash of the input: same input, same vector, any dims."""
    raw = hashlib.shake_256(data.encode()).digest(dims * 2)
    values = [v / 32767.5 - 1.0 for v in struct.unpack(f"<{dims}H", raw)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


def embeddings(body: JSON, model: str) -> JSON:
    raw = body.get("input")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        inputs: list[Any] = [raw]
    else:
        inputs = list(raw) if isinstance(raw, list) else []
    dims = body.get("dimensions") or DEFAULT_EMBEDDING_DIMS
    base64_out = body.get("encoding_format") == "base64"  # the openai SDK asks for base64
    data, tokens = [], 0
    for index, item in enumerate(inputs):
        if isinstance(item, str):
            key, tokens = item, tokens + len(item.split())
        else:
            key, tokens = dumps(item), tokens + len(item)
        vec = embedding_vector(key, int(dims))
        encoded: Any = vec
        if base64_out:
            encoded = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = max(1, tokens)
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}



# --------------------------------------------------------------------------- model list

def openai_models(models: Sequence[str]) -> JSON:
    return {"object": "list", "data": [openai_model(m) for m in models]}


def openai_model(model: str) -> JSON:
    return {"id": model, "object": "model", "created": 1700000000, "owned_by": "omniroute-mock"}
