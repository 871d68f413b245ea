"""A background database writer: the hot path appends to a queue, one thread writes batches.

Used for usage rows (`engine.usage`) and recorded inspector rows (`inspector.store`). The
caller gives a `write(session, batch)` function; the writer batches whatever is queued, commits,
and on failure (database locked or away) keeps the batch and retries, so nothing is lost while
the process lives. `flush()` waits until everything queued so far is written.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from sqlmodel import Session

from omniroute.db.database import Database

log = logging.getLogger(__name__)

type BatchWrite[T] = Callable[[Session, list[T]], None]


class BackgroundWriter[T]:
    def __init__(
        self,
        db: Database,
        write: BatchWrite[T],
        *,
        name: str,
        batch_size: int = 200,
        retry_delay: float = 1.0,
    ) -> None:
        self._db = db
        self._write_batch = write
        self._name = name
        self._queue: queue.Queue[T | None] = queue.Queue()
        self._batch_size = batch_size
        self._retry_delay = retry_delay
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"omniroute-{name}", daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        """Never blocks: safe on the event loop."""
        with self._idle:
            self._pending += 1
        self._queue.put_nowait(item)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued item is written (tests, shutdown, readers that need it)."""
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
            stop = False
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[T]) -> None:
        while True:
            try:
                with self._db.session() as session:
                    self._write_batch(session, batch)
                    session.commit()
                break
            except Exception as exc:  # noqa: BLE001 - locked/unavailable/any: keep the rows, retry
                log.warning("%s rows queued, database unavailable: %s: %s",
                            self._name, exc.__class__.__name__, exc)
                time.sleep(self._retry_delay)
        with self._idle:
            self._pending -= len(batch)
            self._idle.notify_all()
