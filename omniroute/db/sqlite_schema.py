"""The SQLite schema at the newest migration, as SQL: a fresh home's database is created from it
in one transaction instead of by replaying every migration (which imports alembic and runs each
revision's module, the larger part of a first start's database work).

The migrations stay the source of truth: `schema_head.sql` is what they produce, written by
``python -m omniroute.db.write_schema`` and checked against them by the test suite. A snapshot
whose revision is not the current head is not used; the migrations run instead.

A fresh database holds no rows to carry over, so the migrations' backfills have nothing to do
there; the snapshot is the schema alone, plus alembic's version row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection

SNAPSHOT = Path(__file__).with_name("schema_head.sql")
_REVISION_LINE = "-- revision: "
# Tables before the indexes and triggers on them; sqlite_* objects SQLite makes by itself.
_DUMP = (
    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
    "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, name"
)


def dump(connection: Connection, revision: str) -> str:
    """The schema of ``connection``'s database as the snapshot file holds it."""
    statements = connection.exec_driver_sql(_DUMP).scalars().all()
    body = "".join(f"{statement};\n\n" for statement in statements)
    return f"{_REVISION_LINE}{revision}\n\n{body}"


def is_empty(connection: Connection) -> bool:
    """No table, index or view yet: a database file SQLite has just created."""
    return connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one() == 0


def snapshot_revision(text: str) -> str | None:
    first = text.split("\n", 1)[0]
    return first.removeprefix(_REVISION_LINE) if first.startswith(_REVISION_LINE) else None


def statements(text: str) -> Iterator[str]:
    """The snapshot's statements; sqlite3 decides where one ends (a ``;`` inside a quoted
    default does not end it)."""
    pending = ""
    for line in text.splitlines(keepends=True):
        if not pending and (line.startswith("--") or not line.strip()):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip().removesuffix(";")
            pending = ""
    if pending.strip():
        raise ValueError(f"{SNAPSHOT.name} ends inside a statement: {pending[:80]!r}")


def create_at_head(connection: Connection, head: str) -> bool:
    """Create the schema at ``head`` from the snapshot on an empty database, inside the
    caller's transaction; False (nothing done) when the snapshot is at another revision."""
    try:
        text = SNAPSHOT.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    if snapshot_revision(text) != head:
        return False
    for statement in statements(text):
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    return True
