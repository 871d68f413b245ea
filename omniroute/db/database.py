"""Engine, sessions and migrations: SQLite in the home directory by default (WAL mode), or
PostgreSQL (`DATABASE_URL=postgresql+psycopg://user:pass@host/db`) for several instances.

Both run the same alembic migrations; the tables use only portable types (JSON, text for
Decimal costs), so nothing is dialect-specific above this module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, create_engine

from omniroute.db import sqlite_schema

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Per instance. Each OmniRoute instance holds at most pool_size + max_overflow connections,
# so N instances need N * 15 connections below PostgreSQL's max_connections (default 100).
PG_POOL_SIZE = 5
PG_MAX_OVERFLOW = 10
PG_POOL_TIMEOUT_S = 10  # waiting for a pooled connection longer than this is an error
PG_POOL_RECYCLE_S = 1800  # outlive idle-connection killers (pgbouncer, cloud LBs)
PG_CONNECT_TIMEOUT_S = 5


class DatabaseError(Exception):
    """The database cannot be opened or migrated; one line for the user."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the inspector and usage writer append while the API reads.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config() -> Config:
    # alembic is imported only when a migration runs: importing it costs more than the rest
    # of a start at head.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@cache
def head_revision() -> str | None:
    """The newest revision in ``migrations/versions``, read from each file's ``revision`` and
    ``down_revision`` as alembic reads them, without importing alembic; None unless that is
    one plain answer (several heads, a computed id), and then alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        if path.name.startswith(("__init__", ".#")):
            continue
        ids = _literal_assignments(path, ("revision", "down_revision"))
        revision, down = ids.get("revision"), ids.get("down_revision")
        if not isinstance(revision, str) or not isinstance(down, str | tuple | list | None):
            return None
        revisions.add(revision)
        parents.update([down] if isinstance(down, str) else down or ())
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _literal_assignments(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """Module-level ``name = <literal>`` (or ``name: T = <literal>``) values of a source file."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_bytes(), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                found[target.id] = ...  # computed: not a plain id
    return found


def stored_revision(connection: Connection) -> str | None:
    """The revision alembic recorded in the database; None before the first migration."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def _alembic(action: Literal["upgrade", "downgrade"], connection: Connection, revision: str) -> None:
    """Run an alembic command on ``connection`` (migrations/env.py uses it as it is)."""
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


def normalize_url(url: str) -> URL:
    """Parse a database URL; plain `postgres://` / `postgresql://` (as Heroku-style
    providers and `psql` print them) mean psycopg 3, the driver we ship, not psycopg2."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"invalid DATABASE_URL: {exc}") from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def engine_options(url: URL) -> dict[str, Any]:
    """`create_engine` keyword arguments for the URL's dialect."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        # One file, one writer at a time: the default pool plus busy_timeout is enough.
        return {
            "pool_pre_ping": True,
            "connect_args": {"check_same_thread": False, "timeout": 5},
        }
    if backend == "postgresql":
        return {
            # pre_ping turns a server restart into one reconnect instead of a failed request.
            "pool_pre_ping": True,
            "pool_size": PG_POOL_SIZE,
            "max_overflow": PG_MAX_OVERFLOW,
            "pool_timeout": PG_POOL_TIMEOUT_S,
            "pool_recycle": PG_POOL_RECYCLE_S,
            "connect_args": {
                "connect_timeout": PG_CONNECT_TIMEOUT_S,
                "application_name": "omniroute",
                # Days and hours in SQL (the Usage page's `date()`) are UTC days, as stored.
                "options": "-c timezone=UTC",
            },
        }
    raise DatabaseError(
        f"unsupported database {url.render_as_string(hide_password=True)}: "
        "use sqlite:///path or postgresql+psycopg://user:password@host/db"
    )


class Database:
    def __init__(self, url: str) -> None:
        self._url = normalize_url(url)
        self.url = self._url.render_as_string(hide_password=False)
        self.dialect = self._url.get_backend_name()
        self.engine: Engine = create_engine(self._url, **engine_options(self._url))
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def migrate(self, revision: str = "head", *, snapshot: bool = True) -> None:
        """Bring the schema to ``revision`` (run at every start). On PostgreSQL several
        instances may start at once; alembic's version row makes the second a no-op, and
        the advisory lock below makes them take turns instead of racing on CREATE TABLE.
        A new SQLite database is created from the schema snapshot at head
        (`sqlite_schema.py`) unless ``snapshot`` is False."""
        try:
            if revision == "head" and self._at_head():
                return  # the usual start: nothing to do, so alembic is not even imported
            if self.dialect == "sqlite":
                self._migrate_sqlite(revision, snapshot=snapshot)
                return
            with self.engine.begin() as connection:
                if self.dialect == "postgresql":
                    # Transaction-scoped: released at commit/rollback of this migration.
                    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7261020128)")
                _alembic("upgrade", connection, revision)
        except SQLAlchemyError as exc:
            detail = exc.orig if getattr(exc, "orig", None) is not None else exc
            detail_line = " ".join(str(detail).split())  # drivers add hint lines; keep one
            raise DatabaseError(
                f"cannot migrate database {self.safe_url}: {exc.__class__.__name__}: {detail_line}"
            ) from None

    def _at_head(self) -> bool:
        head = head_revision()
        if head is None:
            return False
        with self.engine.connect() as connection:
            return stored_revision(connection) == head

    def _migrate_sqlite(self, revision: str, *, snapshot: bool) -> None:
        """The whole upgrade in one SQLite transaction, so `kill -9` mid-migration leaves the
        old schema intact. pysqlite commits before every DDL statement on its own; with its
        implicit transactions off for this one connection, our BEGIN covers the DDL too."""
        head = head_revision() if snapshot and revision == "head" else None
        with self.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            previous = raw.isolation_level
            raw.isolation_level = None
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                # Checked under the write lock: an instance starting at the same moment
                # waits, then finds the schema made and lets alembic see it at head.
                if not (head and sqlite_schema.is_empty(connection)
                        and sqlite_schema.create_at_head(connection, head)):
                    _alembic("upgrade", connection, revision)
                connection.exec_driver_sql("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.rollback()
                raise
            finally:
                raw.isolation_level = previous

    def downgrade(self, revision: str = "base") -> None:
        """Undo migrations down to ``revision`` (tests and operators; never at start)."""
        with self.engine.begin() as connection:
            _alembic("downgrade", connection, revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages and logs."""
        return self._url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
