"""The model routes served without FastAPI's router (`direct.py`): a path → endpoint table.

FastAPI's routing, dependency solving and exception middleware cost more per call than the
engine's own work. These routes need none of it: their handlers (`omniroute.api.v1`, the same
functions the FastAPI routes call) take the `Router` and `Tokens` from the composition root
and read their own body within the limit.
"""

from __future__ import annotations

from starlette.types import Scope

from omniroute.api import v1
from omniroute.api.direct import Endpoint, Lookup, endpoint
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


def model_calls(services: Services) -> Lookup:
    """The lookup `GuardPass` calls for each POST: an endpoint, or None for FastAPI."""
    router, tokens = services.router, services.tokens

    def body_route(fmt: WireFormat) -> Endpoint:
        return endpoint(lambda request: v1.body_call(request, router, tokens, fmt))

    exact = {prefix + path: body_route(fmt) for path, fmt in BODY_ROUTES.items() for prefix in PREFIXES}
    gemini: dict[str, Endpoint] = {}
    for prefix in GEMINI_PREFIXES:
        cut = len(prefix)
        gemini[prefix] = endpoint(
            lambda request, cut=cut: v1.gemini_call(request, router, tokens, request.scope["path"][cut:]))

    def lookup(scope: Scope) -> Endpoint | None:
        path: str = scope["path"]
        found = exact.get(path)
        if found is None and path.startswith(GEMINI_PREFIXES):
            found = gemini[path[: path.index("/models/") + 8]]
        return found

    return lookup
