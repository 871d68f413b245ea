"""Request bodies: size- and depth-limited on every route (the cut-off itself:
`guard_pass.limited_receive`), and bad JSON is a clear 400."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException

from omniroute.engine.body import TOO_DEEP, parse_json_object
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
