"""Gemini Cloud Code ``v1internal`` envelope (Antigravity, gemini-cli's Code Assist) ↔ IR.

The envelope only wraps the public Gemini bodies (gemini-cli
``packages/core/src/code_assist/converter.ts``: ``CAGenerateContentRequest`` /
``CaGenerateContentResponse``; Antigravity adds ``userAgent``, ``requestId``,
``requestType``)::

    request:  {"model", "project", "user_prompt_id"?, "requestId"?, "userAgent"?,
               "requestType"?, "request": <GenerateContentRequest + session_id?>}
    response: {"response": <GenerateContentResponse>, "traceId"?}

Streams (``v1internal:streamGenerateContent?alt=sse``) carry one such response object per SSE
``data:`` line. Envelope fields are identity/routing (``project`` is the caller's Cloud
project): kept in metadata for Cloud Code→Cloud Code only; towards Cloud Code from another
format the provider adapter must supply ``project``.
"""

from __future__ import annotations

from typing import Any

from . import gemini, gemini_stream
from .base import same_format_metadata
from .ir import IRRequest, IRResponse

__all__ = [
    "Framer",
    "StreamDecoder",
    "StreamEncoder",
    "request_from_ir",
    "request_to_ir",
    "response_from_ir",
    "response_to_ir",
]

FORMAT = "gemini-cloudcode"
_ENVELOPE = ("project", "user_prompt_id", "requestId", "userAgent", "requestType")
_INNER_META = ("session_id", "labels")


def request_to_ir(body: dict[str, Any]) -> IRRequest:
    inner = dict(body.get("request") or {})
    meta: dict[str, Any] = {k: body[k] for k in _ENVELOPE if k in body}
    for key in _INNER_META:
        if key in inner:
            meta[key] = inner.pop(key)
    ir = gemini.request_to_ir(inner)
    ir.model = gemini.strip_models_prefix(body.get("model", ""))
    ir.metadata, ir.metadata_format = meta, FORMAT
    return ir


def request_from_ir(ir: IRRequest) -> dict[str, Any]:
    inner = gemini.request_from_ir(ir)
    meta = same_format_metadata(ir, FORMAT)
    for key in _INNER_META:
        if key in meta:
            inner[key] = meta[key]
    body: dict[str, Any] = {"model": ir.model}
    body.update({k: meta[k] for k in _ENVELOPE if k in meta})
    body["request"] = inner
    return body


def response_to_ir(body: dict[str, Any]) -> IRResponse:
    ir = gemini.response_to_ir(body.get("response") or {})
    ir.id = ir.id or body.get("traceId", "")
    return ir


def response_from_ir(ir: IRResponse) -> dict[str, Any]:
    body: dict[str, Any] = {"response": gemini.response_from_ir(ir)}
    if ir.id:
        body["traceId"] = ir.id
    return body


Framer = gemini_stream.Framer


class StreamDecoder(gemini_stream.StreamDecoder):
    _error_format = FORMAT

    def _unwrap(self, event: dict[str, Any]) -> dict[str, Any]:
        inner = event.get("response")
        if not isinstance(inner, dict):
            return {}
        if "responseId" not in inner and event.get("traceId"):
            inner = {**inner, "responseId": event["traceId"]}
        return inner


class StreamEncoder(gemini_stream.StreamEncoder):
    _error_format = FORMAT

    def _wrap(self, chunk: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"response": chunk}
        if chunk.get("responseId"):
            out["traceId"] = chunk["responseId"]
        return out
