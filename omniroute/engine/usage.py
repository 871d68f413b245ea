"""Usage rows: one per request, written off the hot path by a background writer thread.

The request path only appends to a queue. The writer batches inserts; when the database is
locked or away, rows stay queued and are retried, so none is lost while the process lives.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from omniroute.db.database import Database
from omniroute.db.tables import UsageLog

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    source: str
    client_format: str
    model_requested: str
    agent: str | None = None
    model_used: str | None = None
    provider: str | None = None
    connection_id: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost: Decimal = Decimal(0)
    latency_ms: float = 0.0
    upstream_latency_ms: float | None = None
    fallback_attempts: int = 0
    status: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> UsageLog:
        data = asdict(self)
        data.pop("extra")
        data["cost"] = str(self.cost)
        return UsageLog(**data)


class UsageRecorder:
    def __init__(self, db: Database, batch_size: int = 200, retry_delay: float = 1.0) -> None:
        self._db = db
        self._queue: queue.Queue[UsageRecord | None] = queue.Queue()
        self._batch_size = batch_size
        self._retry_delay = retry_delay
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="omniroute-usage", daemon=True)
        self._thread.start()

    def record(self, record: UsageRecord) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put_nowait(record)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is written (tests, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    return
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[UsageRecord]) -> None:
        while True:
            try:
                with self._db.session() as session:
                    session.add_all([record.row() for record in batch])
                    session.commit()
                break
            except Exception as exc:  # database locked/unavailable: keep the rows, retry
                log.warning("usage rows queued, database unavailable: %s", exc.__class__.__name__)
                time.sleep(self._retry_delay)
        with self._idle:
            self._pending -= len(batch)
            self._idle.notify_all()
