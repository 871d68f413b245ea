"""Images, audio, moderations and rerank, served under `/v1` and `/api/v1`.

None of these is translated: the engine resolves the model as for chat (aliases, combos,
fallback, usage rows, cost headers) and sends the body to a target whose provider serves the
same endpoint (`ProviderAdapter.media`). When none does, the answer is a 400 in OpenAI's error
format naming the providers tried.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from omniroute.api.body import json_object, read_body
from omniroute.api.deps import RouterDep, TokensDep
from omniroute.api.forms import parse_form
from omniroute.api.v1 import dispatch
from omniroute.engine.errors import BadRequest
from omniroute.engine.media import FormFile
from omniroute.engine.router import Router
from omniroute.services import Tokens
from omniroute.translate.formats import WireFormat

router = APIRouter()


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The request body these routes read themselves, declared for `/openapi.json`."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _strings(*names: str) -> dict[str, Any]:
    return {name: {"type": "string"} for name in names}


IMAGES = _json_body({"type": "object", "required": ["model", "prompt"], "properties": {
    **_strings("model", "prompt", "size", "quality", "response_format"), "n": {"type": "integer"}}})
SPEECH = _json_body({"type": "object", "required": ["model", "input"],
                     "properties": _strings("model", "input", "voice", "response_format")})
MODERATIONS = _json_body({"type": "object", "required": ["model", "input"], "properties": {
    "model": {"type": "string"},
    "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}})
RERANK = _json_body({"type": "object", "required": ["model", "query", "documents"], "properties": {
    **_strings("model", "query"), "documents": {"type": "array", "items": {"type": "string"}},
    "top_n": {"type": "integer"}}})
TRANSCRIPTIONS = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "model"],
    "properties": {"file": {"type": "string", "format": "binary"}, **_strings("model", "language", "prompt")}}}}}}
AUDIO = {"200": {"description": "The audio", "content": {"audio/mpeg": {}, "application/octet-stream": {}}}}


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"'{name}' is required and must be a non-empty string", param=name)
    return value.strip()


def _scoped(model: str, provider: str | None) -> str:
    return model if provider is None or model.startswith(f"{provider}/") else f"{provider}/{model}"


async def _call(request: Request, router: Router, tokens: Tokens, fmt: WireFormat,
                required: tuple[str, ...], provider: str | None = None) -> Response:
    request.state.client_format = fmt
    body = await json_object(request)
    model = _scoped(_text(body, "model"), provider)
    for name in required:
        if name not in body:
            raise BadRequest(f"'{name}' is required", param=name)
    if body.get("stream"):
        raise BadRequest("this endpoint is not streamed; leave 'stream' out", param="stream")
    return await dispatch(request, router, tokens, fmt, body, model, False)


@router.post("/images/generations", openapi_extra=IMAGES)
async def images(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await _call(request, router, tokens, WireFormat.OPENAI_IMAGES, ("prompt",))


@router.post("/providers/{provider}/images/generations", openapi_extra=IMAGES)
async def provider_images(request: Request, router: RouterDep, tokens: TokensDep, provider: str) -> Response:
    return await _call(request, router, tokens, WireFormat.OPENAI_IMAGES, ("prompt",), provider)


@router.post("/audio/speech", openapi_extra=SPEECH, responses=AUDIO)  # type: ignore[arg-type]
async def speech(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await _call(request, router, tokens, WireFormat.OPENAI_SPEECH, ("input",))


@router.post("/moderations", openapi_extra=MODERATIONS)
async def moderations(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await _call(request, router, tokens, WireFormat.OPENAI_MODERATIONS, ("input",))


@router.post("/rerank", openapi_extra=RERANK)
async def rerank(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    return await _call(request, router, tokens, WireFormat.RERANK, ("query", "documents"))


@router.post("/audio/transcriptions", openapi_extra=TRANSCRIPTIONS)
async def transcriptions(request: Request, router: RouterDep, tokens: TokensDep) -> Response:
    fmt = request.state.client_format = WireFormat.OPENAI_TRANSCRIPTIONS
    form = parse_form(await read_body(request), request.headers.get("content-type", ""))
    model = _text(form, "model")
    if not isinstance(form.get("file"), FormFile):
        raise BadRequest("'file' is required: the audio, as a file part of the form", param="file")
    if form.get("stream") in ("true", "1"):
        raise BadRequest("transcriptions are not streamed here; leave 'stream' out", param="stream")
    return await dispatch(request, router, tokens, fmt, form, model, False)
