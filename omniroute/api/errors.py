"""Errors on the wire: in the caller's own API format, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from omniroute.engine.errors import EngineError
from omniroute.translate import TranslationError
from omniroute.translate.errors import client_error_body

log = logging.getLogger("omniroute.api")


def client_format_for(path: str) -> str | None:
    """The model-API format a path speaks; None for management routes."""
    if path.startswith("/api/v1/"):
        path = path[4:]
    if path.startswith("/v1beta/") or ":generateContent" in path or ":streamGenerateContent" in path:
        return "gemini"
    if not path.startswith("/v1/"):
        return None
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1/responses"):
        return "openai-responses"
    if path.startswith("/v1/api/"):
        return "ollama"
    return "openai-chat"


def management_error(
    status: int, message: str, code: str | None = None, details: list[dict[str, str]] | None = None
) -> JSONResponse:
    error: dict[str, Any] = {"message": message}
    if code:
        error["code"] = code
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status)


def error_response(
    request: Request, status: int, message: str, *, param: str | None = None,
    headers: dict[str, str] | None = None, code: str | None = None,
    details: list[dict[str, str]] | None = None,
) -> JSONResponse:
    fmt = getattr(request.state, "client_format", None) or client_format_for(request.url.path)
    if fmt is None:
        response = management_error(status, message, code, details)
    else:
        response = JSONResponse(client_error_body(fmt, status, message, param), status_code=status)
    response.headers.update(headers or {})
    return response


def _validation_details(exc: RequestValidationError) -> list[dict[str, str]]:
    details = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        details.append({"field": ".".join(loc) or "body", "message": str(error.get("msg", "invalid"))})
    return details


def validation_response(request: Request, exc: RequestValidationError, status: int = 422) -> JSONResponse:
    """An invalid request body: every field named (ValidationErrorResponse's details)."""
    details = _validation_details(exc)
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return error_response(request, status, f"invalid request: {summary}", code="validation_error", details=details)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path."""
    scope = {**request.scope, "type": "http"}
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.methods and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


# What the app's exception handlers catch; `handled_error` answers each. Each class is named, not
# only `Exception`: Starlette gives a handler of `Exception` to its outermost middleware, which
# answers and then re-raises (a logged traceback); the named ones are answered next to the routes.
HANDLED: tuple[type[Exception], ...] = (EngineError, TranslationError, RequestValidationError,
                                        StarletteHTTPException, OperationalError, PoolTimeout, Exception)


def install(app: FastAPI) -> None:
    async def answer(request: Request, exc: Exception) -> JSONResponse:
        return handled_error(request, exc)

    for kind in HANDLED:
        app.add_exception_handler(kind, answer)
    app.add_middleware(KeepAliveOnError)  # the innermost middleware: next to the routes


def handled_error(request: Request, exc: Exception) -> JSONResponse:
    """The answer to an error a route raised, in the caller's format: from the app's exception
    handlers, and from the routes served without them (`omniroute.api.direct`)."""
    if isinstance(exc, EngineError):
        return error_response(request, exc.status, exc.message, param=exc.param, headers=exc.headers)
    if isinstance(exc, TranslationError):
        return error_response(request, 400, str(exc), param=exc.field)
    if isinstance(exc, RequestValidationError):
        return validation_response(request, exc)
    if isinstance(exc, StarletteHTTPException):
        headers = exc.headers
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; a path is often
            # served by several (GET and POST routes), and Allow must list them all.
            headers = {**(headers or {}), "allow": ", ".join(allowed_methods(request))}
        return error_response(request, exc.status_code, str(exc.detail), headers=headers)
    if isinstance(exc, (OperationalError, PoolTimeout)):
        return database_away(request, exc)
    return unexpected_error(request, exc)


def database_away(request: Request, exc: Exception) -> JSONResponse:
    # Locked past its busy timeout, or the server is down: say so in one line. A handler
    # here (not the catch-all below) also keeps the client's keep-alive connection open.
    detail = getattr(exc, "orig", None) or exc
    line = " ".join(str(detail).split())[:300]
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, line)
    return error_response(request, 503, f"database unavailable: {line}", headers={"retry-after": "5"})


def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to our log only; the client gets a clear, secret-free line.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, f"internal error ({exc.__class__.__name__}); see the OmniRoute log")


class KeepAliveOnError:
    """An unhandled error is answered 500 here, and not raised further.

    Why: Starlette's catch-all handler sends its 500 and then re-raises, and uvicorn closes
    the connection of any request whose app raised — so every client of a keep-alive
    connection paid for one bad request with a reset. Mid-stream (the response has started)
    the error is raised as before: closing the connection is then the only way to tell the
    client its body is incomplete.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # noqa: BLE001 - any error at all is answered, not a reset
            response = unexpected_error(Request(scope), exc)
            try:
                await response(scope, receive, send)
            except Exception:  # noqa: BLE001 - the response had started: the server closes the connection
                raise exc from None
