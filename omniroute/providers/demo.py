"""The built-in offline demo provider (`omniroute run --demo`: connection `demo`, models
`demo/<any>`), served in-process through `httpx.ASGITransport`: no key, no network.

It speaks OpenAI chat completions only; the engine translates for clients in every other
format, as it does for any provider. The reply echoes the last user text:
``demo reply from <model>: <text>`` (streamed word by word when asked to stream).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ECHO_LIMIT = 200
MODELS = ("echo",)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def reply_text(model: str, messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    echo = _text_of(users[-1].get("content")).strip()[:ECHO_LIMIT] if users else ""
    return f"demo reply from {model}:" + (f" {echo}" if echo else "")


def _usage(messages: list[dict[str, Any]], text: str) -> dict[str, int]:
    prompt = max(1, sum(len(_text_of(m.get("content")).split()) for m in messages))
    completion = len(text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": None}}, status)


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def chat_completions(request: Request) -> Response:
    body = await _body(request)
    if body is None or not isinstance(body.get("model"), str):
        return _error(400, "a JSON object with a string `model` is required")
    model, messages = body["model"], _messages(body)
    text = reply_text(model, messages)
    usage = _usage(messages, text)
    cid, created = f"chatcmpl-demo-{uuid.uuid4().hex[:12]}", int(time.time())
    if not body.get("stream"):
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage,
        })
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": choices, **extra}
        return f"data: {json.dumps(data)}\n\n".encode()

    def delta(content: dict[str, Any], finish: str | None = None) -> bytes:
        return chunk([{"index": 0, "delta": content, "finish_reason": finish}])

    async def events() -> AsyncIterator[bytes]:
        yield delta({"role": "assistant", "content": ""})
        words = text.split(" ")
        for i, word in enumerate(words):
            yield delta({"content": word if i == len(words) - 1 else word + " "})
        yield delta({}, "stop")
        if with_usage:
            yield chunk([], usage=usage)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def models(_: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [
        {"id": m, "object": "model", "created": 0, "owned_by": "demo"} for m in MODELS
    ]})


async def embeddings(request: Request) -> Response:
    body = await _body(request)
    if body is None or "input" not in body:
        return _error(400, "a JSON object with `input` is required")
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    # A small vector derived from the text: offline and the same on every run.
    data = [{"object": "embedding", "index": i,
             "embedding": [b / 255 for b in hashlib.sha256(str(x).encode()).digest()[:8]]}
            for i, x in enumerate(inputs)]
    tokens = sum(len(str(x).split()) for x in inputs)
    return JSONResponse({"object": "list", "data": data, "model": body.get("model"),
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def create_app() -> Starlette:
    return Starlette(routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
    ])
