"""Write `schema_head.sql` from a database the migrations build: run after adding a migration.

``python -m omniroute.db.write_schema``
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from omniroute.db import sqlite_schema
from omniroute.db.database import Database, head_revision


def main() -> None:
    head = head_revision()
    if head is None:
        raise SystemExit("the migrations have no single head revision")
    with tempfile.TemporaryDirectory() as work:
        database = Database(f"sqlite:///{Path(work) / 'schema.db'}")
        database.migrate(snapshot=False)
        with database.engine.connect() as connection:
            sqlite_schema.SNAPSHOT.write_text(sqlite_schema.dump(connection, head), encoding="utf-8")
        database.dispose()
    print(f"wrote {sqlite_schema.SNAPSHOT} at revision {head}")


if __name__ == "__main__":
    main()
