"""Memory back to the system once a burst of traffic is over.

A burst of agent calls leaves two things behind when it ends. Reference cycles that only a full
collection frees: mitmproxy's layers of each finished connection form one, and they hold that
connection's TLS state in C memory the collector does not weigh, so nothing hurries that
collection. And free heap the C allocator keeps for later. When the process has done real
work since it last collected and is now quiet, one full collection and glibc's ``malloc_trim``
hand both back. Quiet means next to no CPU over the last interval, so the collection's pause
falls when no call is waiting for the loop; under steady traffic it never runs.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger("omniroute")

CHECK_EVERY_S = 5.0
QUIET_CPU_S = 0.05  # CPU seconds over one interval that still count as quiet (1 % of a core)
WORK_CPU_S = 1.0  # CPU seconds since the last collection that make the next one worth its pause


def malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


class QuietCollector:
    """Counts the process's CPU time per interval; collects once per burst, when quiet."""

    def __init__(self, cpu_clock: Callable[[], float] = time.process_time,
                 trim: Callable[[int], int] | None = None) -> None:
        self._cpu_clock = cpu_clock
        self._trim = trim
        self._last = cpu_clock()
        self._worked = 0.0  # CPU seconds since the last collection
        self.collections = 0

    def due(self) -> bool:
        """One interval has passed: is this the quiet moment after real work?"""
        now = self._cpu_clock()
        spent, self._last = now - self._last, now
        self._worked += spent
        return spent <= QUIET_CPU_S and self._worked >= WORK_CPU_S

    async def collect(self) -> None:
        started = time.perf_counter()
        freed = gc.collect()
        paused = time.perf_counter() - started
        if self._trim is not None:
            # In a thread: the trim walks the heap and needs no interpreter lock.
            await asyncio.to_thread(self._trim, 0)
        log.debug("quiet collection: %d objects freed, the loop paused %.1f ms",
                  freed, paused * 1000)
        self.collections += 1
        self._worked = 0.0
        self._last = self._cpu_clock()  # the collection's own CPU is not the next burst's work

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            if self.due():
                await self.collect()
