"""The busiest model routes served without FastAPI's router: a path → endpoint table that
`GuardPass` consults once the guards have passed.

Why: FastAPI's routing, dependency solving and exception middleware cost more per call than
the engine's own work. These routes need none of it: their handlers (`omniroute.api.v1`, the
same functions the FastAPI routes call, so both ways in behave alike) take the `Router` and
`Tokens` from the composition root, read their own body within the limit, and errors are
answered here exactly as the app's exception handlers answer them (`model_call_error`).
The FastAPI routes stay registered for the OpenAPI document and for every other method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from omniroute.api import v1
from omniroute.api.errors import model_call_error
from omniroute.api.guard_pass import ModelCall, ModelCalls
from omniroute.services import Services
from omniroute.translate.formats import WireFormat

# POST paths of the body-routed formats, under `/v1` and `/api/v1` as the FastAPI routes are.
BODY_ROUTES: dict[str, WireFormat] = {
    "/chat/completions": WireFormat.OPENAI_CHAT,
    "/messages": WireFormat.ANTHROPIC,
    "/responses": WireFormat.OPENAI_RESPONSES,
    "/api/chat": WireFormat.OLLAMA,
}
PREFIXES = ("/v1", "/api/v1")
# Gemini names the model and the method in the path: `models/<model>:generateContent`.
GEMINI_PREFIXES = ("/v1beta/models/", "/api/v1beta/models/", "/v1/models/", "/api/v1/models/")

Handler = Callable[[Request], Awaitable[Response]]


def _endpoint(handler: Handler) -> ModelCall:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:  # noqa: BLE001 - answered in the caller's format, as FastAPI's handlers do
            response = model_call_error(request, exc)
        await response(scope, receive, send)  # an error mid-stream closes the connection, as before

    return endpoint


def model_calls(services: Services) -> ModelCalls:
    """The lookup `GuardPass` calls for each HTTP request: an endpoint, or None for FastAPI."""
    router, tokens = services.router, services.tokens

    def body_route(fmt: WireFormat) -> ModelCall:
        return _endpoint(lambda request: v1.body_call(request, router, tokens, fmt))

    exact = {prefix + path: body_route(fmt) for path, fmt in BODY_ROUTES.items() for prefix in PREFIXES}
    gemini: dict[str, ModelCall] = {}
    for prefix in GEMINI_PREFIXES:
        cut = len(prefix)
        gemini[prefix] = _endpoint(
            lambda request, cut=cut: v1.gemini_call(request, router, tokens, request.scope["path"][cut:]))

    def lookup(scope: Scope) -> ModelCall | None:
        if scope["method"] != "POST":
            return None
        path: str = scope["path"]
        endpoint = exact.get(path)
        if endpoint is None and path.startswith(GEMINI_PREFIXES):
            endpoint = gemini[path[: path.index("/models/") + 8]]
        return endpoint

    return lookup
