"""Helpers shared by the `/api` management routers."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError


def invalid(field: str, message: str) -> RequestValidationError:
    """A 422 shaped like pydantic's own (the OmniRoute API specification's
    ValidationErrorResponse: details[{field, message}]),
    for checks that need the database, e.g. "nodes.1.connectionId: no such connection"."""
    loc = ("body", *(int(p) if p.isdigit() else p for p in field.split(".")))
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])
