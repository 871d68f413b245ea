"""``kill -9`` at every statement of a schema migration: on restart nothing is corrupt and the
recorded data is intact.

``test_faults_runtime.py::test_kill_9_during_the_first_migration_then_a_clean_start`` kills
``omniroute run`` after fixed delays, which may land before or after the migration rather
than inside it, and on an empty database. Here a child process runs the migration and
sends itself SIGKILL just before its N-th SQL statement, for every N until the migration
completes: every moment of the migration is hit, deterministically. Children are forked
from a forkserver that has already imported the database code, so each costs milliseconds.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

from omniroute.db.database import Database
from omniroute.engine.usage import BATCH_ROWS
from tests.support.harness import OmniRouteProcess, wait_until
from tests.support.inspector_support import BASE, proxied_http
from tests.support.mock_provider import MockProvider

OLD_REVISION = "0001"  # the data is recorded at head, then the schema is taken back to this
MAX_STATEMENTS = 500  # bounded: a migration is a few dozen statements
RECORDED = ("usage_logs", "provider_connections", "inspector_sessions", "captured_requests")
MSG = [{"role": "user", "content": "recorded before the crash"}]


def migrate_and_die_before(db: str, statement: int) -> None:
    """In a child: migrate ``db`` to head, SIGKILL-ing this process before SQL statement N."""
    seen = 0

    @event.listens_for(Engine, "before_cursor_execute")
    def die(*_: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == statement:
            os.kill(os.getpid(), signal.SIGKILL)

    Database(f"sqlite:///{db}").migrate()


def killed_at(db: Path, statement: int) -> bool:
    """Run the migration, killed before ``statement``; False when it finished before that."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["omniroute.db.database", __name__])
    child = context.Process(target=migrate_and_die_before, args=(str(db), statement))
    child.start()
    child.join(60)
    assert child.exitcode in (0, -signal.SIGKILL), child.exitcode
    return child.exitcode == -signal.SIGKILL


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def revision(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone():
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def snapshot(db: Path, tables: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """The recorded rows, in ``tables``' columns (those the old schema has)."""
    with sqlite3.connect(db) as conn:
        return {t: sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall(), key=repr)
                for t, cols in tables.items()}


def columns(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(db) as conn:
        return {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in RECORDED}


@pytest.fixture(scope="module")
def recorded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose database holds usage rows, a provider and a recorded session, at the old
    schema revision: the migration to head has real data to carry."""
    home = tmp_path_factory.mktemp("recorded") / "home"
    with MockProvider() as mock, OmniRouteProcess(home, bridge=False) as proc:
        proc.add_provider("openai", "mk", f"{mock.url}/v1", api_key="sk-mk-crash-0001")
        with proc.api() as api:
            for i in range(12):
                assert api.post("/v1/chat/completions", json={"model": f"mk/m{i}", "messages": MSG}).status_code == 200
            session = api.post(f"{BASE}/sessions", json={"name": "before the crash"}).json()
            with proxied_http(proc) as http:
                for i in range(8):
                    http.post(f"{mock.url}/v1/chat/completions", json={"model": f"rec-{i}", "messages": MSG})
            api.patch(f"{BASE}/sessions/{session['id']}", json={"action": "stop"})
    db = home / "omniroute.db"
    Database(f"sqlite:///{db}").downgrade(OLD_REVISION)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the template is one self-contained file
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in RECORDED}
    assert counts["usage_logs"] == 12 and counts["provider_connections"] == 1
    assert counts["inspector_sessions"] == 1 and counts["captured_requests"] >= 8
    assert revision(db) == OLD_REVISION
    return home


def test_kill_9_at_every_statement_of_an_upgrade_keeps_the_recorded_data(
    recorded_home: Path, tmp_path: Path
) -> None:
    template = recorded_home / "omniroute.db"
    old_columns = columns(template)
    before = snapshot(template, old_columns)
    head = None
    killed = 0
    for statement in range(1, MAX_STATEMENTS):
        db = tmp_path / f"kill-{statement}.db"
        shutil.copyfile(template, db)
        if not killed_at(db, statement):
            head = revision(db)
            break
        killed += 1
        assert integrity(db) == "ok", f"corrupt after a kill before statement {statement}"
        # One transaction: the old schema, untouched, never a half-migrated one.
        assert revision(db) == OLD_REVISION and columns(db) == old_columns, statement
        assert snapshot(db, old_columns) == before, f"data changed by a kill before statement {statement}"
        Database(f"sqlite:///{db}").migrate()  # the restart
        assert integrity(db) == "ok" and snapshot(db, old_columns) == before, statement
        db.unlink()
    assert head is not None and head != OLD_REVISION, "the migration never completed"
    assert killed >= 5, f"only {killed} kill points: is the upgrade still running its statements?"


def test_kill_9_at_every_statement_of_the_first_migration(tmp_path: Path) -> None:
    finished = None
    for statement in range(1, MAX_STATEMENTS):
        db = tmp_path / f"first-{statement}.db"
        if not killed_at(db, statement):
            finished = db
            break
        if db.exists():
            assert integrity(db) == "ok", statement
            assert revision(db) is None, f"half a schema after a kill before statement {statement}"
        Database(f"sqlite:///{db}").migrate()
        assert integrity(db) == "ok" and revision(db) == revision_at_head(tmp_path), statement
    assert finished is not None and statement > 20


def revision_at_head(tmp_path: Path) -> str | None:
    reference = tmp_path / "reference.db"
    if not reference.exists():
        Database(f"sqlite:///{reference}").migrate()
    return revision(reference)


def test_a_real_restart_after_a_kill_mid_upgrade_serves_the_recorded_data(recorded_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(recorded_home, home, ignore=shutil.ignore_patterns("process.log"))
    # Before statement 9 of 13: revision 0002's changes made, 0003's not, nothing committed.
    assert killed_at(home / "omniroute.db", 9)
    assert revision(home / "omniroute.db") == OLD_REVISION
    with OmniRouteProcess(home, proxy=False, bridge=False) as proc, proc.api() as api:
        assert api.get("/api/usage/call-logs").json()["total"] == 12
        providers = api.get("/api/providers").json()["connections"]
        assert [p["name"] for p in providers] == ["mk"] and providers[0]["keyPreview"]
        (session,) = api.get(f"{BASE}/sessions").json()
        har = api.get(f"{BASE}/sessions/{session['id']}/export.har").json()
        models = {json.loads(e["request"]["postData"]["text"])["model"] for e in har["log"]["entries"]}
        assert {f"rec-{i}" for i in range(8)} <= models


# --------------------------------------------------------------------------- kill -9 in a storm

STORM_CLIENTS = 8
STORM_ANSWERED = 200  # killed once this many requests were answered


def test_kill_9_during_a_storm_loses_at_most_the_newest_uncommitted_rows(tmp_path: Path) -> None:
    """What a crash may lose (docs/RELIABILITY.md): only rows not yet committed — those of the
    requests answered last, at most one writer batch — never an older row, none twice.

    Rows are queued and committed in the order requests end, so the rows lost must be the
    tail of the answered requests in the order the clients saw them end; with concurrent
    clients the order can differ by the requests in flight, hence the slack of
    ``STORM_CLIENTS``. Counts only: nothing here depends on timing."""
    home = tmp_path / "home"
    answered: list[str] = []  # request ids, in the order their answers completed
    lock = threading.Lock()
    stop = threading.Event()
    with MockProvider() as mock:
        proc = OmniRouteProcess(home, proxy=False, bridge=False).start()
        proc.add_provider("openai", "mk", f"{mock.url}/v1", api_key="sk-mk-crash-storm-01")

        def client() -> None:
            with proc.api() as api:
                while not stop.is_set():
                    try:
                        response = api.post("/v1/chat/completions", json={"model": "mk/m", "messages": MSG})
                    except httpx.HTTPError:
                        return  # the process is gone
                    if response.status_code == 200:
                        with lock:
                            answered.append(response.headers["x-omniroute-request-id"])

        threads = [threading.Thread(target=client) for _ in range(STORM_CLIENTS)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(answered) >= STORM_ANSWERED, 120.0, "the storm's first answers")
        proc.stop(signal.SIGKILL)
        stop.set()
        for thread in threads:
            thread.join(30)
        proc.close()
    db = home / "omniroute.db"
    assert integrity(db) == "ok"
    with sqlite3.connect(db) as conn:
        written = [row[0] for row in conn.execute("SELECT request_id FROM usage_logs")]
    assert len(written) == len(set(written)), "a row written twice"
    assert set(written) <= set(answered), "a row for no answered request"  # killed mid-answer: no 200
    lost = [rid for rid in answered if rid not in set(written)]
    assert len(lost) <= BATCH_ROWS, f"{len(lost)} rows lost, more than one writer batch"
    tail = set(answered[-(len(lost) + STORM_CLIENTS):]) if lost else set()
    assert set(lost) <= tail, f"an older row was lost: {len(lost)} lost, not all among the newest answers"
    with OmniRouteProcess(home, proxy=False, bridge=False) as again, again.api() as api:
        assert api.get("/api/usage/call-logs").json()["total"] == len(written)  # a clean restart
