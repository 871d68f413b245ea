"""The pass-through endpoints' bodies: embeddings, images, speech, transcriptions, moderations
and rerank are never translated, so the engine only needs how each is encoded and what usage
its answer reports.

A transcription is a multipart form: the API hands it to the engine as a dict whose ``file``
is a `FormFile`, and it is encoded again here with the target's model name in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from omniroute.translate import ir
from omniroute.translate.formats import WireFormat


@dataclass(frozen=True, slots=True)
class FormFile:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


def encode_form(body: dict[str, Any]) -> tuple[bytes, str]:
    """A multipart/form-data body (and its content type) for the form ``body``."""
    files = {k: (v.filename, v.content, v.content_type) for k, v in body.items() if isinstance(v, FormFile)}
    data: dict[str, Any] = {k: v for k, v in body.items() if not isinstance(v, FormFile)}
    request = httpx.Request("POST", "http://form.invalid/", data=data, files=files)
    return request.read(), request.headers["content-type"]


def answers_binary(wire_format: str) -> bool:
    """Speech answers with the audio itself, not JSON."""
    return wire_format == WireFormat.OPENAI_SPEECH


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def usage_of(wire_format: str, data: Any) -> ir.Usage:
    """The tokens a pass-through answer reports (0 where the API reports none)."""
    if not isinstance(data, dict):
        return ir.Usage()
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    if wire_format == WireFormat.OPENAI_EMBEDDINGS:
        return ir.Usage(input_tokens=_int(usage.get("prompt_tokens")))
    if wire_format == WireFormat.RERANK:
        # Jina and vLLM report tokens; Cohere reports billed search units instead.
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        billed = meta.get("billed_units") if isinstance(meta.get("billed_units"), dict) else {}
        tokens = usage.get("total_tokens", usage.get("prompt_tokens"))
        return ir.Usage(input_tokens=_int(tokens) or _int(billed.get("search_units")))
    # Images (gpt-image-1) and transcriptions (gpt-4o-transcribe) use the Responses names.
    return ir.Usage(input_tokens=_int(usage.get("input_tokens")), output_tokens=_int(usage.get("output_tokens")))
