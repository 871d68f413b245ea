"""The mock provider's ASGI app: routes, the request path (fault, record, delay, answer).

See ``tests.support.mock_provider`` for the behaviour contract; this module is the
Starlette wiring around the per-API builders (``mock_openai``, ``mock_anthropic``,
``mock_gemini``, ``mock_ollama``) and the fault rules in ``mock_faults``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from tests.support import mock_anthropic, mock_gemini, mock_media, mock_ollama, mock_openai
from tests.support.mock_faults import FaultError
from tests.support.mock_formats import DEFAULT_MODELS, dumps, error_body
from tests.support.mock_http import (
    RAW_SEND,
    ResetResponse,
    SlowBodyResponse,
    Stream,
    StreamResponse,
    error_response,
    parse_body,
    transport_of,
)
from tests.support.mock_state import NO_FAULT, MockState
from tests.support.mock_ws import responses_websocket

JSON = dict[str, Any]


class MockApp:
    """The ASGI callable: records uvicorn's raw ``send`` then hands over to Starlette."""

    def __init__(self, state: MockState) -> None:
        self.state = state
        self.router = Starlette(routes=_routes(state),
                                exception_handlers={404: _not_found(state)})
        self._inflight: dict[asyncio.Task[Any], Scope] = {}
        self._stopping = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if scope["type"] not in ("http", "websocket") or task is None:
            return await self.router(scope, receive, send)
        scope[RAW_SEND] = send
        self._inflight[task] = scope
        try:
            await self.router(scope, receive, send)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # drop_inflight() already cut this connection; a quiet end keeps uvicorn from
            # logging a traceback for every stream or delay still running at shutdown.
        finally:
            self._inflight.pop(task, None)

    async def drop_inflight(self, timeout: float = 1.0) -> None:
        """Abort every connection still being answered (server shutdown), like a dying upstream.

        Without this uvicorn waits out its graceful timeout for long streams and delays, then
        cancels them with an error log.
        """
        self._stopping = True
        tasks = list(self._inflight)
        for task, scope in list(self._inflight.items()):
            transport = transport_of(scope)
            if transport is not None:
                transport.abort()  # connection_lost runs before the task sees the cancel
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


def create_app(default_delay_ms: float = 0, *, default_event_delay_ms: float = 0,
               models: Sequence[str] = DEFAULT_MODELS,
               max_requests: int = 10_000) -> MockApp:
    """Build the mock provider app; ``app.state`` holds its requests and fault rules."""
    return MockApp(MockState(default_delay_ms, default_event_delay_ms, models, max_requests))


# --------------------------------------------------------------------------- HTTP endpoints

Answer = Callable[[JSON, str, Request], JSON | Stream]


async def _serve(state: MockState, request: Request, api: str, answer: Answer,
                 model: str | None = None) -> Response:
    """The path every model call takes: parse, fault, record, delay, answer."""
    raw = await request.body()
    body, problem = parse_body(raw)
    if body is not None and not isinstance(body, dict):
        body, problem = None, "request body must be a JSON object"
    data: JSON = body or {}
    if model is None and isinstance(data.get("model"), str):
        model = data["model"]
    try:
        fault = state.resolve_fault(request, model, "http")
    except FaultError as exc:
        fault, problem = NO_FAULT, problem or str(exc)
    entry = state.record(request, "http", body, raw, model, fault)
    if problem is None and not model:
        problem = "model is required"
    if problem:
        return error_response(api, 400, problem)
    delay = state.first_byte_delay(fault)
    if delay:
        await asyncio.sleep(delay)
    if fault.status is not None:
        message = fault.message or f"mock fault: HTTP {fault.status}"
        return error_response(api, fault.status, message, fault.retry_after)
    result = answer(data, model or "", request)
    if isinstance(result, Stream):
        return StreamResponse(result, fault, state.event_delay(fault), entry)
    if fault.reset_after is not None:
        return ResetResponse(fault.reset_mode)
    if fault.drip_ms or fault.pad_bytes:
        return SlowBodyResponse(result, fault, entry)
    if fault.malformed:
        text = dumps(result)
        return Response(text[: len(text) // 2], media_type="application/json")
    return JSONResponse(result, headers={"x-request-id": state.ids.next("req_mock")})


def _routes(state: MockState) -> list[Route | WebSocketRoute]:
    ids = state.ids

    def chat(body: JSON, model: str, _: Request) -> JSON | Stream:
        plan = mock_openai.plan_chat(body, model)
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Stream(mock_openai.chat_stream(plan, ids, usage))
        return mock_openai.chat_completion(plan, ids)

    def responses(body: JSON, model: str, _: Request) -> JSON | Stream:
        builder = mock_openai.ResponsesBuilder(mock_openai.plan_responses(body, model), body, ids)
        return Stream(builder.events()) if body.get("stream") else builder.response(True)

    def messages(body: JSON, model: str, _: Request) -> JSON | Stream:
        plan = mock_anthropic.plan_anthropic(body, model)
        if body.get("stream"):
            return Stream(mock_anthropic.anthropic_stream(plan, ids))
        return mock_anthropic.anthropic_message(plan, ids)

    def gemini(action: str, envelope: bool) -> Answer:
        """generateContent family; ``envelope`` is Cloud Code's {model, project, request}."""

        def answer(body: JSON, model: str, request: Request) -> JSON | Stream:
            inner = body.get("request") if envelope else body
            inner = inner if isinstance(inner, dict) else {}
            if action == "countTokens":
                return mock_gemini.gemini_count_tokens(inner)
            plan = mock_gemini.plan_gemini(inner, model)
            if action == "generateContent":
                reply = mock_gemini.gemini_response(plan, ids)
                return {"response": reply} if envelope else reply
            chunks = mock_gemini.gemini_stream(plan, ids)
            if envelope:
                chunks = [{"response": c} for c in chunks]
            sse = request.query_params.get("alt") == "sse"
            return Stream(chunks, "sse" if sse else "json_array")

        return answer

    def ollama_chat(body: JSON, model: str, _: Request) -> JSON | Stream:
        stream = body.get("stream", True) is not False  # Ollama streams unless told not to
        lines = mock_ollama.ollama_messages(mock_openai.plan_chat(body, model), stream)
        return Stream(lines, "ndjson") if stream else lines[0]

    def embeddings(body: JSON, model: str, _: Request) -> JSON:
        return mock_openai.embeddings(body, model)

    def count_tokens(body: JSON, _model: str, _: Request) -> JSON:
        return mock_anthropic.anthropic_count_tokens(body)

    def endpoint(api: str, answer: Answer) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await _serve(state, request, api, answer)
        return handle

    async def gemini_models_action(request: Request) -> Response:
        target = request.path_params["target"]
        model, _, action = target.rpartition(":")
        if action not in ("generateContent", "streamGenerateContent", "countTokens"):
            return error_response("gemini", 404, f"unknown method {action!r}")
        return await _serve(state, request, "gemini", gemini(action, False),
                            model.removeprefix("models/"))

    def cloud_code(action: str) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await _serve(state, request, "gemini", gemini(action, True))
        return handle

    async def listing(request: Request, payload: JSON) -> Response:
        """Model lists: recorded and delayed like model calls, but never faulted."""
        state.record(request, "http", None, b"", None, NO_FAULT)
        delay = state.first_byte_delay(NO_FAULT)
        if delay:
            await asyncio.sleep(delay)
        return JSONResponse(payload)

    async def openai_models(request: Request) -> Response:
        # Anthropic's /v1/models has another shape; its clients always send anthropic-version.
        if "anthropic-version" in request.headers:
            return await listing(request, mock_anthropic.anthropic_models(state.models))
        return await listing(request, mock_openai.openai_models(state.models))

    async def openai_model(request: Request) -> Response:
        return await listing(request, mock_openai.openai_model(request.path_params["model"]))

    async def gemini_models(request: Request) -> Response:
        return await listing(request, mock_gemini.gemini_models(state.models))

    async def gemini_model(request: Request) -> Response:
        name = request.path_params["target"].removeprefix("models/")
        return await listing(request, mock_gemini.gemini_model(name))

    async def ollama_tags(request: Request) -> Response:
        return await listing(request, mock_ollama.ollama_tags(state.models))

    async def responses_ws(websocket: WebSocket) -> None:
        await responses_websocket(state, websocket)

    async def speech(request: Request) -> Response:
        raw = await request.body()
        body, problem = parse_body(raw)
        data: JSON = body if isinstance(body, dict) else {}
        model = data.get("model") if isinstance(data.get("model"), str) else None
        fault = state.resolve_fault(request, model, "http")
        state.record(request, "http", body, raw, model, fault)
        if problem or not model:
            return error_response("openai", 400, problem or "model is required")
        if fault.status is not None:
            return error_response("openai", fault.status, fault.message or f"mock fault: HTTP {fault.status}")
        return Response(mock_media.speech(data, model), media_type="audio/mpeg")

    async def transcriptions(request: Request) -> Response:
        raw = await request.body()
        fields, files = mock_media.read_form(raw, request.headers.get("content-type", ""))
        model = fields.get("model")
        fault = state.resolve_fault(request, model, "http")
        state.record(request, "http", {**fields, "files": {k: v[0] for k, v in files.items()}}, raw, model, fault)
        if not model or "file" not in files:
            return error_response("openai", 400, "model and file are required")
        if fault.status is not None:
            return error_response("openai", fault.status, fault.message or f"mock fault: HTTP {fault.status}")
        return JSONResponse(mock_media.transcription(model, *files["file"]))

    def media(answer: Callable[[JSON, str], JSON]) -> Callable[[Request], Any]:
        return endpoint("openai", lambda body, model, _: answer(body, model))

    chat_ep, responses_ep = endpoint("openai", chat), endpoint("openai", responses)
    return [
        Route("/v1/images/generations", media(mock_media.images), methods=["POST"]),
        Route("/v1/moderations", media(mock_media.moderations), methods=["POST"]),
        Route("/v1/rerank", media(mock_media.rerank), methods=["POST"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/chat/completions", chat_ep, methods=["POST"]),
        Route("/v1/responses", responses_ep, methods=["POST"]),
        WebSocketRoute("/v1/responses", responses_ws),
        # Codex signed in with ChatGPT talks to chatgpt.com/backend-api/codex/responses.
        Route("/backend-api/codex/responses", responses_ep, methods=["POST"]),
        WebSocketRoute("/backend-api/codex/responses", responses_ws),
        Route("/v1/messages", endpoint("anthropic", messages), methods=["POST"]),
        Route("/v1/messages/count_tokens", endpoint("anthropic", count_tokens),
              methods=["POST"]),
        Route("/v1/embeddings", endpoint("openai", embeddings), methods=["POST"]),
        Route("/v1/models", openai_models, methods=["GET"]),
        Route("/v1/models/{model:path}", openai_model, methods=["GET"]),
        Route("/v1/models/{target:path}", gemini_models_action, methods=["POST"]),
        Route("/v1beta/models", gemini_models, methods=["GET"]),
        Route("/v1beta/models/{target:path}", gemini_model, methods=["GET"]),
        Route("/v1beta/models/{target:path}", gemini_models_action, methods=["POST"]),
        Route("/v1internal:generateContent", cloud_code("generateContent"), methods=["POST"]),
        Route("/v1internal:streamGenerateContent", cloud_code("streamGenerateContent"),
              methods=["POST"]),
        Route("/v1internal:countTokens", cloud_code("countTokens"), methods=["POST"]),
        Route("/api/chat", endpoint("ollama", ollama_chat), methods=["POST"]),
        Route("/api/tags", ollama_tags, methods=["GET"]),
        *_control_routes(state),
    ]


def _not_found(state: MockState) -> Callable[[Request, Exception], Any]:
    async def handle(request: Request, _exc: Exception) -> Response:
        # Recorded too: "the proxy called the wrong path" should show up in assertions.
        raw = await request.body()
        body, _ = parse_body(raw)
        state.record(request, "http", body, raw, None, NO_FAULT)
        return JSONResponse(error_body("openai", 404, f"mock: no route for "
                                           f"{request.method} {request.url.path}"), 404)
    return handle


# --------------------------------------------------------------------------- control API


def _control_routes(state: MockState) -> list[Route]:
    async def requests_get(_: Request) -> Response:
        return JSONResponse(list(state.requests))

    async def requests_delete(_: Request) -> Response:
        state.clear_requests()
        return JSONResponse({"ok": True})

    async def faults_get(_: Request) -> Response:
        return JSONResponse(state.faults.snapshot())

    async def faults_post(request: Request) -> Response:
        body, problem = parse_body(await request.body())
        if problem or not isinstance(body, dict):
            return error_response("openai", 400, problem or "expected a JSON object")
        try:
            rule = state.faults.add_from_json(body)
        except FaultError as exc:
            return error_response("openai", 400, str(exc))
        return JSONResponse(rule.to_dict(), 201)

    async def faults_delete(_: Request) -> Response:
        state.faults.clear()
        return JSONResponse({"ok": True})

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return [
        Route("/_mock/requests", requests_get, methods=["GET"]),
        Route("/_mock/requests", requests_delete, methods=["DELETE"]),
        Route("/_mock/faults", faults_get, methods=["GET"]),
        Route("/_mock/faults", faults_post, methods=["POST"]),
        Route("/_mock/faults", faults_delete, methods=["DELETE"]),
        Route("/_mock/health", health, methods=["GET"]),
    ]
