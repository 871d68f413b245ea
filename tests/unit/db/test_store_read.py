"""`Store.read`: a read in the reader process, or in a store thread where no other process can
open the database (SQLite in memory) or when the reader dies during the read; the log filter
travels there as plain values; `Store.read_json` encodes the response there; the reader runs
the server's own code wherever the server was started."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from omniroute.api.usage import LogFilter
from omniroute.db.database import Database
from omniroute.db.read_worker import shareable
from omniroute.db.store import Store


def pid_and_sum(session: Session, a: int, b: int) -> tuple[int, int]:
    return os.getpid(), int(session.execute(text("SELECT :a + :b"), {"a": a, "b": b}).scalar_one())


def test_only_a_database_another_process_can_open_goes_to_the_reader() -> None:
    assert shareable("sqlite:////tmp/x/omniroute.db") and shareable("postgresql+psycopg://u@h/db")
    assert not shareable("sqlite://") and not shareable("sqlite:///:memory:")
    assert not shareable("sqlite:///file:x?mode=memory&uri=true")


def test_reads_run_in_another_process_or_in_a_thread(tmp_path: Path) -> None:
    async def both() -> tuple[tuple[int, int], tuple[int, int]]:
        on_disk = Store(Database(f"sqlite:///{tmp_path / 'omniroute.db'}"))
        in_memory = Store(Database("sqlite://"))
        try:
            return await on_disk.read(pid_and_sum, 2, 3), await in_memory.read(pid_and_sum, 4, 5)
        finally:
            on_disk.close()
            in_memory.close()

    (reader_pid, five), (thread_pid, nine) = asyncio.run(both())
    assert (five, nine) == (5, 9)
    assert reader_pid != os.getpid() and thread_pid == os.getpid()


def test_a_log_filter_survives_the_trip() -> None:
    chosen = LogFilter.of(model="m", status="error", sources=("agent-bridge", "direct"))
    again = pickle.loads(pickle.dumps(chosen))
    assert again == chosen
    assert [str(clause) for clause in again.where()] == [str(clause) for clause in chosen.where()]
    assert len(chosen.where()) == 3


def dies_in_the_reader(session: Session, test_pid: int) -> int:
    if os.getpid() != test_pid:  # in the reader: as if it ran out of memory
        os.kill(os.getpid(), signal.SIGKILL)
    return int(session.execute(text("SELECT 7")).scalar_one())


def test_a_read_whose_reader_dies_is_answered_from_a_thread(tmp_path: Path) -> None:
    async def reads() -> tuple[int, tuple[int, int]]:
        store = Store(Database(f"sqlite:///{tmp_path / 'omniroute.db'}"))
        try:
            return await store.read(dies_in_the_reader, os.getpid()), await store.read(pid_and_sum, 1, 1)
        finally:
            store.close()

    seven, (next_pid, two) = asyncio.run(reads())
    assert (seven, two) == (7, 2)
    assert next_pid != os.getpid()  # the next read had a new reader


def pid_and_text(session: Session, text_: str) -> dict[str, object]:
    return {"pid": os.getpid(), "text": text_, "one": session.execute(text("SELECT 1")).scalar_one()}


def test_a_response_body_is_encoded_in_the_reader(tmp_path: Path) -> None:
    """`read_json`: the loop gets bytes to send, already JSON (UTF-8, as Starlette renders it)."""
    async def body() -> bytes:
        store = Store(Database(f"sqlite:///{tmp_path / 'omniroute.db'}"))
        try:
            return await store.read_json(pid_and_text, "café")
        finally:
            store.close()

    encoded = asyncio.run(body())
    assert isinstance(encoded, bytes) and "café".encode() in encoded and b": " not in encoded
    decoded = json.loads(encoded)
    assert decoded["text"] == "café" and decoded["one"] == 1 and decoded["pid"] != os.getpid()


def test_the_reader_imports_the_servers_omniroute_not_a_folder_where_it_started(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Started from a directory holding another ``omniroute`` (a checkout of another version),
    the reader still runs the server's own code."""
    (tmp_path / "omniroute").mkdir()
    (tmp_path / "omniroute" / "__init__.py").write_text("raise ImportError('another omniroute')\n")
    monkeypatch.chdir(tmp_path)

    async def read() -> tuple[int, int]:
        store = Store(Database(f"sqlite:///{tmp_path / 'omniroute.db'}"))
        try:
            return await store.read(pid_and_sum, 20, 22)
        finally:
            store.close()

    reader_pid, answer = asyncio.run(read())
    assert answer == 42 and reader_pid != os.getpid()  # not the store thread a failed reader leaves
