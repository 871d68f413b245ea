"""Small JSON settings a user edits through the API, in the `key_values` table.

The one key-value helper: sync, for code already off the event loop; `Store.get_setting` and
`Store.set_setting` run these in a store thread for code on it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from omniroute.db.database import Database
from omniroute.db.tables import KeyValue, utcnow


def kv_get(db: Database, key: str, default: Any = None) -> Any:
    with db.session() as session:
        row = session.get(KeyValue, key)
    return default if row is None or row.value is None else row.value


def kv_get_many(db: Database, defaults: dict[str, Any]) -> dict[str, Any]:
    """Several keys in one query; a key that is unset (or null) gets its default."""
    with db.session() as session:
        rows = session.exec(select(KeyValue).where(col(KeyValue.key).in_(list(defaults)))).all()
    stored = {row.key: row.value for row in rows if row.value is not None}
    return {key: stored.get(key, default) for key, default in defaults.items()}


def kv_set(db: Database, key: str, value: Any) -> None:
    kv_set_many(db, {key: value})


def kv_set_many(db: Database, values: dict[str, Any]) -> None:
    """Store several keys in one transaction: a reader sees all of them changed or none."""
    with db.session() as session:
        for key, value in values.items():
            row = session.get(KeyValue, key) or KeyValue(key=key)
            row.value = value
            row.updated_at = utcnow()
            session.add(row)
        session.commit()


def kv_from_config(db: Database, key: str) -> bool:
    """Whether the config file declares ``key`` (then the API refuses to change it)."""
    with db.session() as session:
        row = session.get(KeyValue, key)
    return row is not None and row.from_config
