"""Small JSON settings a user edits through the API, in the `key_values` table.

The one key-value helper: sync, for code already off the event loop; `Store.get_setting` and
`Store.set_setting` run these in a store thread for code on it.
"""

from __future__ import annotations

from typing import Any

from omniroute.db.database import Database
from omniroute.db.tables import KeyValue, utcnow


def kv_get(db: Database, key: str, default: Any = None) -> Any:
    with db.session() as session:
        row = session.get(KeyValue, key)
    return default if row is None or row.value is None else row.value


def kv_set(db: Database, key: str, value: Any) -> None:
    with db.session() as session:
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
