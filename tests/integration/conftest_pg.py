"""Database fixtures for the storage tests: one throwaway PostgreSQL cluster per test session
(per xdist worker), a fresh database per test, and the same test over SQLite.

Imported by the test modules that need it (`from ... import database_url, postgres_server`,
and `db` for a migrated database)
rather than living in a conftest, so only those modules pay for starting PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from omniroute.db.database import Database
from tests.support.servers import PostgresServer

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL (Debian's binaries) on a free 127.0.0.1 port, trust auth; stopped
    and its data directory removed at the end of the session."""
    with PostgresServer() as server:
        yield server


def fresh_pg_database(server: PostgresServer) -> str:
    name = f"t{next(_names)}"
    admin = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'omniroute.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return fresh_pg_database(server)


@pytest.fixture()
def db(database_url: str) -> Iterator[Database]:
    """``database_url``'s database, migrated to head; disposed after the test."""
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()
