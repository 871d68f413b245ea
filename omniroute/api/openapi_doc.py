"""Our `/openapi.json` declares every status a route can answer, with the error body's schema.

FastAPI lists only 200 and 422; the middleware and the routes answer more: 401/403 (API keys,
Host/Origin checks, loopback-only routes), 400 and 413 (bodies), 404 and 409 (missing and
clashing entries), 429 (rate limits), 503 (database away) and, on the model APIs, the
upstream's 4xx/5xx relayed as it came (`AttemptFailed.client_status`: a 402, 408, 500 or 529
reaches the caller), so their POSTs also declare the ranges ``4XX`` and ``5XX`` (502/503/504
when none answered). Which statuses apply is read from the route's kind (model API or
management) and its method, the same facts the middleware uses.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from omniroute.api.auth import INGEST_PATH, route_kind

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error in the caller's API format: OpenAI's, Anthropic's or Gemini's on the model APIs, "
                   "{error: {message, code?, details?}} on /api",
    "required": ["error"],
    "properties": {"error": {"type": ["object", "string"]}, "type": {"type": "string"}},
}
_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_WHY: dict[int | str, str] = {
    400: "Bad request", 401: "No valid API key (or ingest token)", 403: "Refused: Host/Origin check, key scope or loopback-only route",
    404: "Not found", 409: "Conflict with a stored entry", 413: "Request body too large",
    422: "Validation error", 429: "Rate limited (Retry-After)", 502: "Upstream failed",
    503: "Unavailable: database away, or no target available (Retry-After)", 504: "Upstream timed out",
    "4XX": "The upstream's own client error, relayed", "5XX": "The upstream's own server error, relayed",
}
_BODY_METHODS = frozenset({"post", "put", "patch", "delete"})


def statuses(path: str, method: str) -> list[int | str]:
    """The error statuses ``method path`` can answer: codes, and on the model APIs the ranges
    ``4XX``/``5XX`` (OpenAPI's notation) for whatever status the upstream answered."""
    kind = route_kind(path)
    found = [400, 403, 422, 503]
    if kind is not None or path == INGEST_PATH:  # the ingest route checks its own token instead of API keys
        found.append(401)
    if method in _BODY_METHODS:
        found.append(413)
    if kind == "model":
        found += [404, 413, 429, 502, 504]
    elif kind == "management":
        found += [404, 502]  # upstream checks (provider tests, model lists) report a failed upstream
        if method in _BODY_METHODS:
            found.append(409)
    codes: list[int | str] = sorted(set(found))
    if kind == "model" and method == "post":  # the calls that reach an upstream (model lists do not relay)
        codes += ["4XX", "5XX"]
    return codes


def document(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {}).setdefault("schemas", {})["ErrorResponse"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in statuses(path, method):
                entry = responses.setdefault(str(status), {"description": _WHY[status]})
                entry["content"] = {"application/json": {"schema": _REF}}
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
