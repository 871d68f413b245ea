"""Gemini generateContent wire format for the mock provider (also used in Cloud Code envelopes)."""

from __future__ import annotations

from collections.abc import Sequence

from tests.support.mock_formats import (
    JSON,
    Conversation,
    Ids,
    ReplyPlan,
    Structured,
    content_texts,
    finish_plan,
    pieces,
    user_turn,
)


def plan_gemini(body: JSON, model: str) -> ReplyPlan:
    conv = Conversation()
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        conv.texts.extend(content_texts(system.get("parts")))
    elif isinstance(system, str):
        conv.texts.append(system)
    for content in body.get("contents") or []:
        if not isinstance(content, dict):
            continue
        parts = content.get("parts") or []
        texts = content_texts(parts)
        conv.texts.extend(texts)
        if content.get("role", "user") == "user":
            answered = any(isinstance(p, dict) and ("functionResponse" in p
                                                   or "function_response" in p) for p in parts)
            user_turn(conv, texts, answered)
        else:
            conv.ends_with_user_text = False
    tool = None
    for t in body.get("tools") or []:
        decls = (t.get("functionDeclarations") or t.get("function_declarations")
                 if isinstance(t, dict) else None)
        if decls and isinstance(decls[0], dict) and isinstance(decls[0].get("name"), str):
            tool = decls[0]["name"]
            break
    config = body.get("generationConfig") if isinstance(body.get("generationConfig"), dict) else {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    structured = None
    if schema or config.get("responseMimeType") == "application/json":
        structured = Structured(schema)
    return finish_plan(conv, model, tool, thinking=False, structured=structured)


def _gemini_usage(plan: ReplyPlan) -> JSON:
    return {"promptTokenCount": plan.input_tokens, "candidatesTokenCount": plan.output_tokens,
            "totalTokenCount": plan.input_tokens + plan.output_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": plan.input_tokens}]}


def _gemini_chunk(plan: ReplyPlan, rid: str, parts: list[JSON], last: bool) -> JSON:
    candidate: JSON = {"content": {"parts": parts, "role": "model"}, "index": 0}
    chunk: JSON = {"candidates": [candidate]}
    if last:
        candidate["finishReason"] = "STOP"  # Gemini says STOP for function calls too
        chunk["usageMetadata"] = _gemini_usage(plan)
    chunk["modelVersion"] = plan.model
    chunk["responseId"] = rid
    return chunk


def _gemini_call_part(plan: ReplyPlan) -> JSON:
    return {"functionCall": {"name": plan.tool_name, "args": plan.tool_args}}


def gemini_response(plan: ReplyPlan, ids: Ids) -> JSON:
    part = _gemini_call_part(plan) if plan.tool_name else {"text": plan.text}
    return _gemini_chunk(plan, ids.next("mockresp"), [part], last=True)


def gemini_stream(plan: ReplyPlan, ids: Ids) -> list[JSON]:
    rid = ids.next("mockresp")
    if plan.tool_name:
        return [_gemini_chunk(plan, rid, [_gemini_call_part(plan)], last=True)]
    texts = pieces(plan.text)
    return [_gemini_chunk(plan, rid, [{"text": t}], last=i == len(texts) - 1)
            for i, t in enumerate(texts)]


def gemini_count_tokens(body: JSON) -> JSON:
    # countTokens takes either {contents} or {generateContentRequest: {...}}.
    inner = body.get("generateContentRequest") or body
    return {"totalTokens": plan_gemini(inner, "count").input_tokens}



def gemini_model(model: str) -> JSON:
    return {"name": f"models/{model}", "version": "001", "displayName": model,
            "description": "OmniRoute mock model", "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "streamGenerateContent",
                                           "countTokens"]}


def gemini_models(models: Sequence[str]) -> JSON:
    return {"models": [gemini_model(m) for m in models]}
