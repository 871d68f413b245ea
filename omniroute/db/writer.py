"""A background database writer: the hot path appends to a queue, one thread writes batches.

Used for usage rows (`engine.usage`) and recorded inspector rows (`inspector.sessions`). The
caller gives a `write(session, batch)` function. After the first item of a batch the thread
lingers (``linger`` seconds, or until ``batch_size`` items), so a busy process commits one
transaction per batch instead of one per request, and wakes once per batch rather than once
per item. On failure (database locked or away) the batch is kept and retried, so nothing is
lost while the process lives; a row the database refuses outright (a constraint, a value the
column or the driver cannot take) is written alone, after the caller's ``repair`` if it has one
(counted in ``repaired``), or else dropped (counted in ``dropped``), and logged, instead of
blocking the rows behind it. Only errors that say the database is unavailable are retried:
anything else would be retried forever, holding back every row queued after it.
`flush()` waits until everything queued before it is written, cutting the linger short.
`written()` is the readers' wait (the Usage page), awaited on the event loop: it holds no thread
and lets the batch in progress linger to its end (at most ``linger`` more). Were every read to
cut it short, a page polled in a loop would have the thread write a batch per request: each
batch wakes the thread and holds the GIL the event loop needs for the agents' calls. When every
item put so far is already written, both return at once. `close()` drains the queue and stops
the thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from omniroute.db.database import Database

log = logging.getLogger(__name__)

type BatchWrite[T] = Callable[[Session, list[T]], None]
type Repair[T] = Callable[[T], T | None]


class _Flush:
    """A queue marker: set once every item queued before it is written."""

    __slots__ = ("_wake", "done", "stop")

    def __init__(self, stop: bool = False, wake: Callable[[], None] | None = None) -> None:
        self.done = threading.Event()
        self.stop = stop  # close(): the thread ends after this batch
        self._wake = wake  # written(): tells the waiting event loop

    def set(self) -> None:
        self.done.set()
        if self._wake is not None:
            self._wake()


class BackgroundWriter[T]:
    def __init__(
        self,
        db: Database,
        write: BatchWrite[T],
        *,
        name: str,
        batch_size: int = 500,
        linger: float = 0.1,
        retry_delay: float = 1.0,
        repair: Repair[T] | None = None,
    ) -> None:
        self._db = db
        self._write_batch = write
        self._name = name
        # SimpleQueue.put is one C call with no Python-level lock: cheap on the event loop.
        self._queue: queue.SimpleQueue[T | _Flush] = queue.SimpleQueue()
        self._batch_size = batch_size
        self._linger = linger
        self._retry_delay = retry_delay
        self._repair = repair
        self._hurry = threading.Event()  # set by flush()/close(): stop lingering now
        # Items put, and items written or dropped: equal when there is nothing to wait for.
        self._counting = threading.Lock()  # put() may come from more than one thread
        self._put = 0
        self._settled = 0  # only the writer thread changes this
        # Rows the database refused on their own (only the writer thread changes these).
        self.repaired = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"omniroute-{name}", daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        """Never blocks: safe on the event loop."""
        with self._counting:
            self._put += 1
        self._queue.put(item)

    def _all_written(self) -> bool:
        return self._settled == self._put

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every item queued so far is written (tests, shutdown, readers that need
        it); False if that took longer than ``timeout`` (the database is still away)."""
        return self._all_written() or self._mark(_Flush(), timeout)

    async def written(self, timeout: float) -> bool:
        """Until every item queued so far is written, for a reader on the event loop: it awaits
        the marker instead of parking a thread on it, and does not cut the linger short."""
        if self._all_written():
            return True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(_resolve, done)
            except RuntimeError:  # the loop closed while the batch was written
                pass

        if not self._thread.is_alive():
            return self._queue.empty()
        self._queue.put(_Flush(wake=wake))
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (waiting up to ``timeout``) and stop the thread."""
        if self._thread.is_alive() and self._mark(_Flush(stop=True), timeout):
            self._thread.join(timeout)  # returns at once: the thread ends after the marker

    def _mark(self, marker: _Flush, timeout: float) -> bool:
        if not self._thread.is_alive():  # closed: nothing will be written any more
            return self._queue.empty()
        self._queue.put(marker)
        self._hurry.set()
        return marker.done.wait(timeout)

    def _run(self) -> None:
        while True:
            batch: list[T] = []
            markers: list[_Flush] = []
            stop = self._take(self._queue.get(), batch, markers)
            if not markers:
                # Linger for company, unless a backlog already fills the batch.
                if self._queue.qsize() + 1 < self._batch_size:
                    self._hurry.wait(self._linger)
                self._hurry.clear()  # before draining: a later flush's marker sets it again
            while not stop and len(batch) < self._batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stop = self._take(item, batch, markers)  # after close(): not ours to write
            if batch:
                self._write(batch)
                self._settled += len(batch)  # written, or dropped when the database refused it
            for marker in markers:
                marker.set()
            if stop:
                return

    @staticmethod
    def _take(item: T | _Flush, batch: list[T], markers: list[_Flush]) -> bool:
        """File ``item`` under the batch or the markers; True for a close() marker."""
        if isinstance(item, _Flush):
            markers.append(item)
            return item.stop
        batch.append(item)
        return False

    def _write(self, batch: list[T], repair: bool = True) -> None:
        while True:
            try:
                with self._db.session() as session:
                    self._write_batch(session, batch)
                    session.commit()
                if not repair:  # the row written was a repaired one
                    self.repaired += 1
                    log.warning("%s row repaired: the database refused it as it was", self._name)
                return
            except Exception as exc:  # noqa: BLE001 - locked/unavailable/any: keep the rows, retry
                if _refused(exc):
                    self._write_apart(batch, exc, repair)
                    return
                log.warning("%d %s rows queued, database unavailable: %s: %s",
                            len(batch), self._name, exc.__class__.__name__, exc)
                time.sleep(self._retry_delay)

    def _write_apart(self, batch: list[T], exc: Exception, repair: bool) -> None:
        """The database refused a row of ``batch``: write the rows one by one, so only the row
        it refuses on its own is repaired or dropped; retried, it would hold back every row
        behind it."""
        if len(batch) > 1:
            for item in batch:
                self._write([item])
            return
        if repair and self._repair is not None and (fixed := self._repair(batch[0])) is not None:
            self._write([fixed], repair=False)  # refused again: dropped
            return
        self.dropped += 1
        log.error("%s row dropped (%d so far), the database refuses it: %s: %s",
                  self._name, self.dropped, exc.__class__.__name__, " ".join(str(exc).split())[:500])


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():  # not already cancelled by the waiter's timeout
        done.set_result(None)


def _refused(exc: Exception) -> bool:
    """The rows themselves were refused, as opposed to the database being locked or away,
    which a retry outlasts. Only "unavailable" is recognised: a constraint, a value the column
    or the driver cannot take (an unpaired surrogate, an integer past 64 bits) and any error of
    ours would fail the same way on every retry."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return False
        return not isinstance(exc, OperationalError | InterfaceError)
    return not isinstance(exc, PoolTimeout | OSError)
