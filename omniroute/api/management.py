"""Helpers shared by the `/api` management routers: errors and KeyValue settings."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from omniroute.db.database import Database
from omniroute.db.tables import KeyValue, utcnow
from omniroute.engine.errors import EngineError


class NotFound(EngineError):
    status = 404


class Conflict(EngineError):
    status = 409


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


def read_setting(db: Database, key: str, default: Any = None) -> Any:
    with db.session() as session:
        row = session.get(KeyValue, key)
    return default if row is None or row.value is None else row.value


def setting_from_config(db: Database, key: str) -> bool:
    with db.session() as session:
        row = session.get(KeyValue, key)
    return row is not None and row.from_config


def write_setting(db: Database, key: str, value: Any) -> None:
    with db.session() as session:
        row = session.get(KeyValue, key)
        if row is None:
            row = KeyValue(key=key)
        row.value = value
        row.updated_at = utcnow()
        session.add(row)
        session.commit()
