"""The request guards, in one pass in front of every route.

Every HTTP request and WebSocket handshake goes through `GuardPass` once: the header list is
read into one dict, then each check of `Guards` runs in the order it was added (today: API
keys, Host/Origin, declared body size). The first check that objects answers the call, in
the caller's own API format; the app behind never sees it. A request that passes and that a
direct route serves (`direct.py`: the model calls, the Usage page's reads) is served without
the FastAPI router; everything else (the rest of the management API, health, the UI) goes on
to FastAPI with its body cut off at the limit.

To add a guard (an IP filter, say): write a `Check` — a plain function of the ASGI scope and
the request's headers that returns `None` or a `Denial` — and `guards_of(app).add(check)` it
where the app is built, before the middleware is installed. A check that needs I/O first
(the key table after a change) adds a `Warm` hook, awaited before the checks run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omniroute.api.body import MAX_BODY_BYTES, BodyTooDeep, BodyTooLarge, too_large
from omniroute.api.direct import Direct
from omniroute.api.errors import client_format_for, error_response
from omniroute.engine.body import DepthScanner

POLICY_VIOLATION = 1008


class Denial(NamedTuple):
    status: int
    message: str


Headers = dict[bytes, bytes]
Check = Callable[[Scope, Headers], Denial | None]
Warm = Callable[[Scope], Awaitable[None]]


@dataclass
class Guards:
    """The checks every request passes, in order, and the hooks that prepare them."""

    checks: list[Check] = field(default_factory=list)
    warm: list[Warm] = field(default_factory=list)

    def add(self, check: Check, warm: Warm | None = None) -> None:
        self.checks.append(check)
        if warm is not None:
            self.warm.append(warm)

    async def run(self, scope: Scope) -> Denial | None:
        for hook in self.warm:
            await hook(scope)
        headers = dict(scope["headers"])  # a repeated header: the last one counts, as before
        for check in self.checks:
            denial = check(scope, headers)
            if denial is not None:
                return denial
        return None


def guards_of(app: Any) -> Guards:
    """The app's guard list, created on first use (`app.state.guards`)."""
    guards = getattr(app.state, "guards", None)
    if guards is None:
        guards = app.state.guards = Guards()
    return guards


def declared_size(limit: int = MAX_BODY_BYTES) -> Check:
    """A declared Content-Length over ``limit`` is refused before anything reads the body."""

    def check(scope: Scope, headers: Headers) -> Denial | None:
        if scope["type"] != "http":
            return None
        value = headers.get(b"content-length")
        if value is not None and value.isdigit() and int(value) > limit:
            return Denial(413, too_large(limit))
        return None

    return check


def limited_receive(scope: Scope, receive: Receive, limit: int = MAX_BODY_BYTES) -> Receive:
    """``receive`` that stops a body at ``limit`` bytes (413 in the caller's format).

    Why: FastAPI reads a management route's whole body into memory before validating it, so
    without a cap any local process could make us allocate without bound. Bodies FastAPI
    parses (management routes) are also refused as they arrive once they nest past
    `MAX_JSON_DEPTH`; model routes check that on the parsed body (`parse_json_object`).
    """
    json_body = True  # FastAPI may parse a body without a content type as JSON
    for name, value in scope["headers"]:
        if name == b"content-type":
            json_body = b"json" in value.lower()
    depth = DepthScanner() if json_body and client_format_for(scope["path"]) is None else None
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            received += len(body)
            if received > limit:
                raise BodyTooLarge(limit)
            if depth is not None and not depth.feed(body):
                raise BodyTooDeep()
        return message

    return receive_within_limit


class GuardPass:
    """Pure ASGI: no body buffering, so streams and WebSockets pass untouched."""

    def __init__(self, app: ASGIApp, guards: Guards, direct: Direct | None = None,
                 limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.guards = guards
        self.direct = direct or {}
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            return await self.app(scope, receive, send)
        denial = await self.guards.run(scope)
        if denial is not None:
            return await deny(scope, receive, send, denial)
        if kind == "websocket":
            return await self.app(scope, receive, send)
        lookup = self.direct.get(scope["method"])
        if lookup is not None and (endpoint := lookup(scope)) is not None:
            return await endpoint(scope, receive, send)  # reads its body within the limit itself
        await self.app(scope, limited_receive(scope, receive, self.limit), send)


async def deny(scope: Scope, receive: Receive, send: Send, denial: Denial) -> None:
    """The refusal in the caller's API format; a WebSocket handshake is refused the same way."""
    status, message = denial
    headers = {"www-authenticate": "Bearer"} if status == 401 else {}
    if scope["type"] == "http":
        await error_response(Request(scope), status, message, headers=headers)(scope, receive, send)
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        # Same error body as over HTTP; Request() only accepts an http scope.
        response = error_response(Request({**scope, "type": "http"}), status, message, headers=headers)
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers.items()]})
        await send({"type": "websocket.http.response.body", "body": bytes(response.body)})
        return
    # Closing before accept makes the server answer the handshake with 403.
    await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": message[:120]})


def install(app: Any, direct: Direct | None = None) -> None:
    """The guard pass as the outermost of the app's own middleware, with the checks added so far."""
    app.add_middleware(GuardPass, guards=guards_of(app), direct=direct)
