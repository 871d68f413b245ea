"""The reader process: the Usage page's reads, out of the proxy's interpreter.

Summing months of usage costs milliseconds of Python per request (SQLAlchemy building and
reading rows, the sums merged). In a thread of the process that carries the agents' traffic,
that Python holds the GIL the event loop needs: each time the loop lets go of it (every wait
for sockets, every write) it may wait a whole switch interval (5 ms) to get it back, and the
calls stall behind the page (``benchmarks.usage_load``). A process of its own has its own
interpreter, and runs at a lower priority (``READER_NICE``), so on a busy machine the scheduler
serves the calls first.

The parent talks to it over a socket pair from the event loop itself, with no thread of its
own (a pool's helper threads would take the GIL back from the loop): each request is
``(work, args)``, pickled, framed with its id and length; ``work(session, *args)`` runs there
with a session of the reader's own `Database`, and the reply (the result, or the exception
raised) comes back under the same id. ``work`` is a module-level function (pickled by name),
its arguments and result plain values. The database URL is the first frame, never an argument
(``ps`` shows arguments to every user).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

# Niceness of the reader process: a page load may take longer on a saturated machine; the
# agents' calls do not wait for it.
READER_NICE = 10
# How many SQLite steps the reader runs between offers of its core (`_give_way`).
STEPS_PER_YIELD = 20_000
_HEADER = struct.Struct("!QI")  # call id, payload length


class ReaderGone(Exception):
    """The reader process stopped (killed, out of memory) or could not start."""


def _frame(call_id: int, value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(call_id, len(data)) + data


def shareable(url: str) -> bool:
    """Whether another process can open the database: not an in-memory SQLite one."""
    tail = url.partition("://")[2]
    return not (url.startswith("sqlite") and (tail in ("", "/", "/:memory:") or "mode=memory" in tail))


def _reader_env() -> dict[str, str]:
    """The server's environment, with the folder its own ``omniroute`` came from first on the
    reader's path (and, by ``-P``, not the working directory): the reader runs the server's
    code, not another ``omniroute`` found where the server was started."""
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}


class ReaderProcess:
    """One reader process, started on the first `call`, and started again after it died."""

    def __init__(self, url: str, nice: int = READER_NICE) -> None:
        self._url = url
        self._nice = nice
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._replies: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count()
        self._starting = asyncio.Lock()

    async def call(self, work: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """``work(session, *args)`` in the reader; its result, or the exception it raised."""
        if self._writer is None:
            async with self._starting:
                if self._writer is None:
                    await self._start()
        assert self._writer is not None
        call_id = next(self._ids)
        reply = self._pending[call_id] = asyncio.get_running_loop().create_future()
        try:
            self._writer.write(_frame(call_id, (work, args)))
            return await reply
        finally:
            self._pending.pop(call_id, None)

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            # Only a fork and an exec on the loop: the reader's imports happen in the reader.
            self._process = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-P", "-m", "omniroute.db.read_worker", str(theirs.fileno()), str(self._nice)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, close_fds=True, env=_reader_env(),
            )
        except OSError as exc:
            ours.close()
            raise ReaderGone(f"the reader process could not start: {exc}") from None
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        self._writer.write(_frame(0, self._url))
        self._replies = asyncio.create_task(self._read_replies(reader), name="omniroute-reader-replies")

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                call_id, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                ok, value = pickle.loads(await reader.readexactly(size))
                reply = self._pending.get(call_id)
                if reply is not None and not reply.done():  # not given up on (client gone)
                    reply.set_result(value) if ok else reply.set_exception(value)
        except (asyncio.IncompleteReadError, OSError):
            pass  # the reader stopped
        finally:
            self._lost()

    def _lost(self) -> None:
        """Fail what waits for the reader; the next call starts a new one."""
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(ReaderGone("the reader process stopped"))
        if self._writer is not None:
            self._writer.close()
        self._writer = None
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:  # its socket failed, not the process: it has nothing left to do
                process.kill()
            code = process.wait()  # at once: it has exited, or SIGKILL takes it now
            log.warning("the reader process stopped (exit status %s); the next read starts another", code)

    def close(self) -> None:
        """Stop the reader (at shutdown; the loop may be gone by then)."""
        if self._replies is not None:
            self._replies.cancel()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _read_frame(stream: IO[bytes]) -> tuple[int, bytes] | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None  # the server closed its end: stop
    call_id, size = _HEADER.unpack(header)
    return call_id, stream.read(size)


def _give_way(dbapi_connection: Any, _record: Any) -> None:
    """Offer the core every few thousand SQLite steps.

    Why: on SQLite the page's aggregates run in this process, often on the core the event loop
    runs on. Linux (EEVDF) lets a running task finish its slice, a millisecond or more, before a
    task that wakes gets the core, whatever their niceness; so every call the loop resumed
    meanwhile would wait that long. ``sched_yield`` hands the core over at once when the loop
    is waiting for it, and is a cheap no-op when nothing is.
    """
    dbapi_connection.set_progress_handler(os.sched_yield, STEPS_PER_YIELD)


def serve(fd: int, nice: int) -> None:
    """The reader process: answer requests one after another until the server goes away."""
    from sqlalchemy import event

    from omniroute.db.database import Database  # the reader's own; the parent's stays unloaded here

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the process group; the server stops us
    with contextlib.suppress(OSError, AttributeError):  # no os.nice on Windows
        os.nice(nice)
    with socket.socket(fileno=fd) as sock, sock.makefile("rwb") as stream:
        first = _read_frame(stream)
        if first is None:
            return
        db = Database(pickle.loads(first[1]))
        if db.dialect == "sqlite" and hasattr(os, "sched_yield"):
            event.listen(db.engine, "connect", _give_way)
        while (request := _read_frame(stream)) is not None:
            call_id, payload = request
            try:
                work, args = pickle.loads(payload)
                with db.session() as session:
                    answer = _frame(call_id, (True, work(session, *args)))
            except Exception as exc:  # noqa: BLE001 - the caller raises it, as if the read had run there
                try:
                    answer = _frame(call_id, (False, exc))
                except Exception:  # noqa: BLE001 - an exception that cannot be pickled: its text
                    answer = _frame(call_id, (False, RuntimeError(f"{type(exc).__name__}: {exc}")))
            stream.write(answer)
            stream.flush()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
