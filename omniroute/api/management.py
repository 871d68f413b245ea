"""Helpers shared by the `/api` management routers."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

from omniroute.engine.errors import Conflict


class DeclaredInConfigFile(Conflict):
    """A write to an entry the config file owns (`from_config`): the file is the place to change it."""


def refuse_config_entry(from_config: bool, what: str) -> None:
    if from_config:
        raise DeclaredInConfigFile(
            f"{what} is declared in the config file, so it is read-only here; change it in the "
            "file and reload (SIGHUP or POST /api/config/reload)"
        )


def invalid(field: str, message: str) -> RequestValidationError:
    """A 422 shaped like pydantic's own (the OmniRoute API specification's
    ValidationErrorResponse: details[{field, message}]),
    for checks that need the database, e.g. "nodes.1.connectionId: no such connection"."""
    loc = ("body", *(int(p) if p.isdigit() else p for p in field.split(".")))
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])
