"""The reader process offers its core while SQLite runs a long query (`read_worker._give_way`).

Why: on Linux a running task keeps the core for the rest of its slice when another wakes, a
millisecond or more whatever their niceness, and the page's aggregates may run on the event
loop's core: each call resumed meanwhile would wait that long (issue #16, the page must not
move the calls' p99 by more than 2 ms). The figures are in BENCHMARKS.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import TextClause, event, text

from omniroute.db import read_worker
from omniroute.db.database import Database

# About a million SQLite steps: a large period summed, in miniature.
LONG_QUERY = text("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
                  "SELECT sum(i) FROM n")


def offers_while_running(statement: TextClause, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """``statement``'s result on a connection the reader's hook is on, and how often it offered the core."""
    offers: list[None] = []
    monkeypatch.setattr(os, "sched_yield", lambda: offers.append(None))
    db = Database(f"sqlite:///{tmp_path / 'reader.db'}")
    event.listen(db.engine, "connect", read_worker._give_way)
    with db.session() as session:
        result = session.execute(statement).scalar_one()
    db.dispose()
    return result, len(offers)


def test_a_long_sqlite_query_offers_the_core_every_few_thousand_steps(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    result, offers = offers_while_running(LONG_QUERY, tmp_path, monkeypatch)
    assert result == 200000 * 200001 // 2
    # Each offer is STEPS_PER_YIELD steps apart: many in a long query, none spared.
    assert offers >= 20


def test_a_short_read_runs_without_an_offer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, offers = offers_while_running(text("SELECT 1"), tmp_path, monkeypatch)
    assert result == 1
    assert offers == 0
