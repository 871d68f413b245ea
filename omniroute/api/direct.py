"""Routes served without FastAPI's router: endpoint tables, one per HTTP method, that
`GuardPass` consults once the guards have passed.

Why: for the busiest routes — the model calls (`model_calls.py`), and the Usage page's reads
that poll while the agents work (`usage_reads.py`) — FastAPI's routing, dependency solving and
exception middleware cost more on the loop than the route's own work. Each table calls the
same handler functions as the FastAPI routes, so both ways in behave alike, and errors are
answered here as the app's exception handlers answer them (`errors.handled_error`). The
FastAPI routes stay registered for the OpenAPI document and for every other method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from omniroute.api.errors import handled_error

# A route served without FastAPI: (scope, receive, send) like any ASGI app.
Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]
# For one request's scope: the endpoint that serves it, or None (FastAPI serves it).
Lookup = Callable[[Scope], Endpoint | None]
# The lookups by HTTP method: `POST` the model calls, `GET` the Usage page's reads.
Direct = Mapping[str, Lookup]
Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Endpoint:
    """``handler`` as an ASGI endpoint whose errors are answered in the caller's format."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:  # noqa: BLE001 - answered in the caller's format, as FastAPI's handlers do
            response = handled_error(request, exc)
        await response(scope, receive, send)  # an error mid-stream closes the connection, as before

    return serve
