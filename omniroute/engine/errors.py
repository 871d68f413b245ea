"""The one error model: every failure the engine reports carries a status and a clear message.

The API layer renders it in the caller's own format (`omniroute.translate.error_body`).
"""

from __future__ import annotations


class EngineError(Exception):
    """A request that cannot be served; `message` is safe to show the client (no secrets)."""

    status: int = 500
    type: str | None = None  # error type in OpenAI/Anthropic vocabulary; None = from status

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.param = param
        self.headers = headers or {}


class BadRequest(EngineError):
    status = 400


class Unauthorized(EngineError):
    status = 401


class Forbidden(EngineError):
    status = 403


class ModelNotFound(EngineError):
    status = 404


class NotFound(EngineError):
    status = 404


class Conflict(EngineError):
    status = 409


class PayloadTooLarge(EngineError):
    status = 413


class UpstreamError(EngineError):
    """Every target failed; the status is the last upstream's (or 502 when none answered)."""

    status = 502
