"""The database locked past its busy timeout, or down: requests are still served, management
says "database unavailable" (503) in one line, and every usage row is written once it is back,
none lost and none twice.

``test_faults_runtime.py::test_locked_database_requests_served_and_usage_rows_written_later``
holds the SQLite lock ~3 s, inside SQLite's 5 s busy timeout, so the writer never fails there.
Here the lock outlasts it (the writer's retry path runs), and a real PostgreSQL is stopped
and started again under a running process.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess, wait_until
from tests.support.mock_provider import MockProvider
from tests.support.servers import PostgresServer, ServerUnavailable

MSG = [{"role": "user", "content": "is the database there?"}]
SQLITE_BUSY_TIMEOUT_S = 5.0  # PRAGMA busy_timeout in omniroute/db/database.py



def model_call(api: httpx.Client, i: int) -> httpx.Response:
    """Every other call Anthropic-shaped, every third streamed: all formats queue rows alike."""
    stream = i % 3 == 0
    if i % 2:
        return api.post("/v1/messages", json={"model": "mk/outage", "max_tokens": 8, "messages": MSG, "stream": stream})
    return api.post("/v1/chat/completions", json={"model": "mk/outage", "messages": MSG, "stream": stream})


def usage_rows(api: httpx.Client) -> list[dict[str, Any]]:
    return list(api.get("/api/usage/call-logs", params={"limit": 1000}).json()["items"])


def assert_one_row_per_request(api: httpx.Client, request_ids: list[str]) -> None:
    rows = usage_rows(api)
    assert sorted(row["requestId"] for row in rows) == sorted(request_ids), "a row lost or written twice"
    assert {row["status"] for row in rows} == {200}


def database_unavailable(response: httpx.Response) -> str:
    assert response.status_code == 503, response.text
    message = str(response.json()["error"]["message"])
    assert message.startswith("database unavailable: ") and "\n" not in message
    assert response.headers["retry-after"]
    return message


# --------------------------------------------------------------------------- SQLite


def test_sqlite_locked_past_its_busy_timeout(mock_provider: MockProvider) -> None:
    with OmniRouteProcess(proxy=False, bridge=False) as proc, proc.api() as api:
        proc.add_provider("openai", "mk", f"{mock_provider.url}/v1", api_key="sk-mk-outage-0001")
        ids = [model_call(api, i).headers["x-omniroute-request-id"] for i in range(3)]
        wait_until(lambda: len(usage_rows(api)) == 3, 10.0, "the first rows")
        lock = sqlite3.connect(proc.home / "omniroute.db", timeout=10, isolation_level=None)
        try:
            lock.execute("BEGIN EXCLUSIVE")
            lock.execute("CREATE TABLE _held (x)")  # a write: nobody else may write now
            held_since = time.monotonic()
            for i in range(20):
                response = model_call(api, i)
                assert response.status_code == 200, response.text
                ids.append(response.headers["x-omniroute-request-id"])
            assert time.monotonic() - held_since < SQLITE_BUSY_TIMEOUT_S, "requests waited for the database"
            # A management write waits out the busy timeout, then says why it failed.
            refused = api.post("/api/combos", json={"name": "during-lock", "model": "during-lock",
                                                    "strategy": "priority", "nodes": []})
            assert "locked" in database_unavailable(refused)
            wait_until(lambda: "usage rows queued, database unavailable" in proc.log(),
                       SQLITE_BUSY_TIMEOUT_S + 5, "the usage writer to fail once and keep its rows")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        wait_until(lambda: len(usage_rows(api)) == len(ids), 15.0, "the queued rows")
        assert_one_row_per_request(api, ids)
        assert api.get("/api/combos").status_code == 200  # the same keep-alive client still works


# --------------------------------------------------------------------------- PostgreSQL


def pg_ctl(server: PostgresServer, *args: str) -> None:
    """``pg_ctl`` on the server's cluster; ``restart`` reuses its recorded options."""
    cmd = [str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-w", "-t", "60", *args]
    if os.geteuid() == 0:  # the cluster belongs to the postgres user (initdb refuses root)
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture()
def pg_process(postgres: PostgresServer, mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, httpx.Client]]:
    with OmniRouteProcess(proxy=False, bridge=False, env={"DATABASE_URL": postgres.url}) as proc, proc.api() as api:
        proc.add_provider("openai", "mk", f"{mock_provider.url}/v1", api_key="sk-mk-outage-0002")
        yield proc, api
        with proc.api() as cleanup:  # the cluster outlives this process: leave it empty
            for connection in cleanup.get("/api/providers").json()["connections"]:
                cleanup.delete(f"/api/providers/{connection['id']}")


def test_postgres_down_then_back(postgres: PostgresServer, pg_process: Any) -> None:
    proc, api = pg_process
    before = {row["requestId"] for row in usage_rows(api)}
    ids = [model_call(api, i).headers["x-omniroute-request-id"] for i in range(5)]
    wait_until(lambda: len(usage_rows(api)) == len(before) + 5, 10.0, "the first rows")
    pg_ctl(postgres, "-m", "fast", "stop")
    try:
        for i in range(20):
            started = time.monotonic()
            response = model_call(api, i)
            assert response.status_code == 200, response.text
            assert time.monotonic() - started < 2.0, "a model call waited for the database"
            ids.append(response.headers["x-omniroute-request-id"])
        assert "refused" in database_unavailable(api.get("/api/providers"))
        assert "refused" in database_unavailable(api.get("/api/usage/call-logs"))
        assert api.get("/health").status_code == 200
        wait_until(lambda: "usage rows queued, database unavailable" in proc.log(), 10.0, "the writer to retry")
    finally:
        pg_ctl(postgres, "-l", str(postgres.log_path), "restart")
    wait_until(lambda: len(usage_rows(api)) == len(before) + len(ids), 30.0, "the queued rows")
    rows = [row for row in usage_rows(api) if row["requestId"] not in before]
    assert sorted(row["requestId"] for row in rows) == sorted(ids), "a row lost or written twice"
    assert {row["status"] for row in rows} == {200}


def test_a_row_the_database_refuses_does_not_hold_back_the_others(pg_process: Any, mock_provider: MockProvider) -> None:
    """A NUL byte in an upstream's error text: PostgreSQL refuses it in a text column."""
    _, api = pg_process
    mock_provider.add_fault(400, message="bad \x00 request", model="nul-error", count=1)
    try:
        assert api.post("/v1/chat/completions", json={"model": "mk/nul-error", "messages": MSG}).status_code == 400
        ids = {model_call(api, i).headers["x-omniroute-request-id"] for i in range(3)}
        wait_until(lambda: ids <= {row["requestId"] for row in usage_rows(api)}, 10.0, "the 3 good rows")
    finally:
        mock_provider.clear_faults()
