"""The store layer: how code on the event loop reaches the database.

Every call here runs the synchronous sqlmodel work in a worker thread of the store's own pool
and awaits it, so a slow query (the Usage page over a large table, a PostgreSQL round trip)
never stalls the loop that carries the agents' traffic. Sync code that already runs in a
thread (start-up, the usage writer, reloads after another instance's change) keeps using the
`Database` directly. Reads of many rows (the Usage page) go further, to a process of their
own (`read`, `read_worker.py`): their Python then takes nothing from the loop's interpreter.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar, TypeVarTuple

from sqlmodel import Session

from omniroute.db.database import Database
from omniroute.db.kv import kv_from_config, kv_get, kv_set
from omniroute.db.read_worker import ReaderGone, ReaderProcess, shareable

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")

# As many threads as the PostgreSQL pool holds connections: more would only wait for one.
STORE_WORKERS = 5


def _json_of(session: Session, work: Callable[..., Any], *args: Any) -> bytes:
    # As Starlette's JSONResponse renders it.
    return json.dumps(work(session, *args), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class Store:
    def __init__(self, db: Database, workers: int = STORE_WORKERS) -> None:
        self.db = db
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="omniroute-db")
        # `read` goes to the reader process when another process can open the database.
        self._reader = ReaderProcess(db.url) if shareable(db.url) else None

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` (sync, may use the database) in a store thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a store thread, with a session opened and closed there."""
        return await self.call(self._in_session, work)

    async def read(self, work: Callable[[Session, *Ts], T], *args: *Ts) -> T:
        """``work(session, *args)`` in the reader process: a module-level function, plain
        arguments and result (they are pickled). If the process died (killed, out of memory),
        this read is served from a store thread and the next one starts a new process."""
        if self._reader is not None:
            try:
                result: T = await self._reader.call(work, args)
                return result
            except ReaderGone as exc:
                log.warning("%s; this read runs in a store thread, the next starts a new reader", exc)
        return await self.run(lambda session: work(session, *args))

    async def read_json(self, work: Callable[[Session, *Ts], Any], *args: *Ts) -> bytes:
        """As `read`, with the result encoded as JSON where it ran: the body of a response sent
        as it is, so the loop neither unpickles the result nor encodes it."""
        return await self.read(_json_of, work, *args)

    def _in_session(self, work: Callable[[Session], T]) -> T:
        with self.db.session() as session:
            return work(session)

    async def get_setting(self, key: str, default: Any = None) -> Any:
        """A JSON setting from the key-value table (``default`` when unset)."""
        return await self.call(kv_get, self.db, key, default)

    async def set_setting(self, key: str, value: Any) -> None:
        await self.call(kv_set, self.db, key, value)

    async def setting_from_config(self, key: str) -> bool:
        """Whether the config file declares the setting ``key``."""
        return await self.call(kv_from_config, self.db, key)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._reader is not None:
            self._reader.close()
