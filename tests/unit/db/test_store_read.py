"""`Store.read`: a read in the reader process, or in a store thread where no other process can
open the database (SQLite in memory) or when the reader dies during the read; the log filter
travels there as plain values."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
from pathlib import Path

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
