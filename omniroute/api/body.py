"""Request bodies: size- and depth-limited on every route, and bad JSON is a clear 400."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omniroute.api.errors import client_format_for, error_response
from omniroute.engine.body import TOO_DEEP, DepthScanner, parse_json_object
from omniroute.engine.errors import PayloadTooLarge

MAX_BODY_BYTES = 32 * 1024 * 1024


def too_large(limit: int) -> str:
    return f"request body is larger than the limit of {limit} bytes"


class BodyTooLarge(HTTPException):
    """Raised from ``receive``: an HTTPException, so FastAPI's body parsing passes it on
    (any other exception there becomes a 400 "error parsing the body")."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit))


class BodyTooDeep(HTTPException):
    def __init__(self) -> None:
        super().__init__(400, TOO_DEEP)


class BodyLimit:
    """Pure ASGI: no route reads more than ``limit`` request-body bytes.

    Why: FastAPI reads a management route's whole body into memory before validating it, so
    without a cap any local process could make us allocate without bound. A declared
    Content-Length over the limit is refused before the app runs; a chunked body is cut off
    at the limit. Either way the caller gets 413 in its own API format, naming the limit.
    Bodies FastAPI parses (management routes) are also refused as they arrive once they nest
    past `MAX_JSON_DEPTH`; model routes check that on the parsed body (`parse_json_object`).
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit
        received = 0
        json_body = True  # FastAPI may parse a body without a content type as JSON
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await error_response(Request(scope), 413, too_large(limit))(scope, receive, send)
                return
            if name == b"content-type":
                json_body = b"json" in value.lower()
        depth = DepthScanner() if json_body and client_format_for(scope["path"]) is None else None

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

        await self.app(scope, receive_within_limit, send)


async def json_object(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    return parse_json_object(await read_body(request, limit))


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole request body, refused past ``limit``; kept on the request for the inspector."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(too_large(limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(too_large(limit))
        chunks.append(chunk)
    raw: bytes = b"".join(chunks)
    request.state.raw_body = raw  # the stream is consumed: kept for the inspector
    return raw
