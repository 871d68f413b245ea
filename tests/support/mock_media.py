"""The mock provider's images, speech, transcriptions, moderations and rerank endpoints.

Deterministic like the chat ones: an image is the base64 of ``mock image from <model>:
<prompt>`` (``n`` of them, usage = prompt words); speech is ``ID3`` + ``mock speech from <model>:
<input>`` as ``audio/mpeg``; a transcription is ``mock transcript from <model>: <filename>
(<bytes> bytes)``; moderation flags an input containing the word ``flag``; rerank scores each
document by the share of the query's words it contains (Jina's shape, usage = all words).
"""

from __future__ import annotations

import base64
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

JSON = dict[str, Any]


def _words(text: str) -> int:
    return len(text.split())


def images(body: JSON, model: str) -> JSON:
    prompt = str(body.get("prompt", ""))
    n = body.get("n") if isinstance(body.get("n"), int) and 1 <= body["n"] <= 10 else 1
    image = base64.b64encode(f"mock image from {model}: {prompt}".encode()).decode()
    return {"created": 1700000000, "data": [{"b64_json": image} for _ in range(n)],
            "usage": {"input_tokens": _words(prompt), "output_tokens": 0, "total_tokens": _words(prompt)}}


def speech(body: JSON, model: str) -> bytes:
    return b"ID3" + f"mock speech from {model}: {body.get('input', '')}".encode()


def moderations(body: JSON, model: str) -> JSON:
    inputs = body.get("input")
    texts = inputs if isinstance(inputs, list) else [inputs]
    results = []
    for text in texts:
        flagged = "flag" in str(text).lower().split()
        results.append({"flagged": flagged, "categories": {"violence": flagged},
                        "category_scores": {"violence": 0.9 if flagged else 0.01}})
    return {"id": "modr-mock", "model": model, "results": results}


def rerank(body: JSON, model: str) -> JSON:
    query = set(str(body.get("query", "")).lower().split())
    documents = [str(d) for d in body.get("documents") or []]
    scored = [(len(query & set(d.lower().split())) / (len(query) or 1), i, d) for i, d in enumerate(documents)]
    scored.sort(key=lambda item: (-item[0], item[1]))
    top = body.get("top_n") if isinstance(body.get("top_n"), int) else len(scored)
    words = len(query) + sum(_words(d) for d in documents)
    return {"model": model, "usage": {"total_tokens": words},
            "results": [{"index": i, "relevance_score": s, "document": {"text": d}} for s, i, d in scored[:top]]}


def read_form(raw: bytes, content_type: str) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """(text fields, files as (filename, content)) of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[str(name)] = (part.get_filename() or "", content)
        else:
            fields[str(name)] = content.decode("utf-8", "replace")
    return fields, files


def transcription(model: str, filename: str, content: bytes) -> JSON:
    text = f"mock transcript from {model}: {filename} ({len(content)} bytes)"
    return {"text": text, "usage": {"type": "tokens", "input_tokens": len(content) // 100 + 1,
                                    "output_tokens": _words(text), "total_tokens": len(content) // 100 + 1 + _words(text)}}
