"""Translation errors and error bodies in each client's own format.

``TranslationError`` is raised for anything the destination format cannot express (for
example ``n > 1`` towards Anthropic); callers answer 400 in the *client's* format, naming
``field``, via :func:`error_body`. Mid-stream errors use :func:`stream_error_event`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from .formats import PASSTHROUGH, get_format

log = logging.getLogger("omniroute.translate")


class TranslationError(ValueError):
    """A request/response cannot be expressed in the target format.

    ``field`` is a dotted path in the *source* body (e.g. ``"n"``, ``"messages[3].content[1]"``)
    so the 400 tells the user exactly what to remove.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def body(self, fmt: str) -> dict[str, Any]:
        return error_body(fmt, 400, str(self), "invalid_request_error", param=self.field)


# Anthropic error types by status (https://docs.anthropic.com/en/api/errors).
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}
# google.rpc.Code names used in Gemini error bodies.
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",  # Google answers oversize requests as an invalid argument
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_AWS_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
}


def anthropic_error_type(status: int) -> str:
    if status in _ANTHROPIC_TYPES:
        return _ANTHROPIC_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def openai_error_type(status: int) -> str:
    if status in _OPENAI_TYPES:
        return _OPENAI_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "server_error"


def error_body(
    fmt: str, status: int, message: str, type: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """An error response body as client format ``fmt`` expects it.

    ``type`` overrides the status-derived error type (given in Anthropic or OpenAI vocabulary;
    each format maps what it can).
    """
    fmt = str(fmt)
    if fmt == "anthropic":
        return {
            "type": "error",
            "error": {"type": type or anthropic_error_type(status), "message": message},
        }
    if fmt in ("openai-chat", "openai-responses"):
        return {
            "error": {
                "message": message,
                "type": type or openai_error_type(status),
                "param": param,
                "code": None,
            }
        }
    if fmt in ("gemini", "gemini-cloudcode"):
        return {
            "error": {
                "code": status,
                "message": message,
                "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
            }
        }
    if fmt == "ollama":
        return {"error": message}
    if fmt in ("kiro", "bedrock", "bedrock-anthropic"):
        aws = _AWS_TYPES.get(status, "InternalServerException")
        return {"__type": aws, "message": message}
    raise ValueError(f"unknown format {fmt!r}")


def stream_error_event(fmt: str, status: int, message: str, type: str | None = None) -> bytes:
    """The wire bytes announcing an error inside an already-started stream of format ``fmt``.

    Format modules' ``StreamEncoder.error`` produce the same thing but also know their
    stream state (e.g. the Responses sequence number); this function is the stateless
    fallback for callers that have no encoder (e.g. the stream failed before the first byte
    of a passthrough).
    """
    fmt = str(fmt)
    body = error_body(fmt, status, message, type)
    if fmt == "anthropic":
        return _sse(body, "error")
    if fmt == "openai-chat":
        return _sse(body) + b"data: [DONE]\n\n"
    if fmt == "openai-responses":
        err = body["error"]
        event = {
            "type": "error",
            "code": err["type"],
            "message": message,
            "param": None,
            "sequence_number": 0,
        }
        return _sse(event, "error")
    if fmt == "ollama":
        return json.dumps(body).encode() + b"\n"
    # Other framings (Gemini SSE, Kiro's binary event-stream) belong to their modules.

    return b"".join(get_format(fmt).StreamEncoder("").error(message, status))


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


# Formats with no error shape of their own answer in the shape their clients parse.
_ERROR_SHAPE = {fmt: "openai-chat" for fmt in PASSTHROUGH}


def client_error_body(fmt: str, status: int, message: str, param: str | None = None) -> dict[str, Any]:
    """``error_body`` for any client format, falling back to OpenAI's shape. Never raises: it
    runs inside error handlers, where raising would leave the client a bare 500."""
    try:
        return error_body(_ERROR_SHAPE.get(fmt, fmt), status, message, param=param)
    except ValueError:
        log.warning("no error shape for format %r; answering in OpenAI's", fmt)
        return error_body("openai-chat", status, message, param=param)
