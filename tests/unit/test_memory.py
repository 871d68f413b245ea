"""The quiet collector: one full collection and a heap trim after a burst of work, never
during one."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from omniroute import memory
from omniroute.memory import QuietCollector, malloc_trim


class CpuClock:
    """CPU seconds that the test advances, or that advance by ``step`` at each reading."""

    def __init__(self) -> None:
        self.now = 100.0
        self.step = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    # Only the collector may free the test's cycle, so its effect is the one seen.
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_due_only_in_the_quiet_interval_after_real_work() -> None:
    clock = CpuClock()
    collector = QuietCollector(clock)
    clock.now += 0.01
    assert not collector.due()  # quiet, but nothing was done since start
    clock.now += 3.0
    assert not collector.due()  # busy: a collection now would pause calls
    clock.now += 2.0
    assert not collector.due()  # still busy
    clock.now += 0.02
    assert collector.due()  # the burst is over


async def test_a_collection_frees_cycles_and_trims_the_heap_once_per_burst(no_automatic_gc: None) -> None:
    clock, trims = CpuClock(), []
    collector = QuietCollector(clock, trim=lambda pad: trims.append(pad) or 1)
    left_behind = weakref.ref(Cycle())
    assert left_behind() is not None  # a cycle: only a collection frees it
    clock.now += 2.0
    assert not collector.due()
    clock.now += 0.01
    assert collector.due()
    await collector.collect()
    assert left_behind() is None and trims == [0] and collector.collections == 1
    clock.now += 0.01
    assert not collector.due()  # quiet, and no new work since the collection


async def test_the_running_collector_waits_for_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "CHECK_EVERY_S", 0.01)
    clock = CpuClock()
    collector = QuietCollector(clock)
    task = asyncio.create_task(collector.run())
    try:
        clock.step = 0.5  # busy: every interval spends half a CPU second
        await asyncio.sleep(0.3)
        assert collector.collections == 0
        clock.step = 0.0
        for _ in range(200):
            await asyncio.sleep(0.01)
            if collector.collections:
                break
        assert collector.collections == 1
    finally:
        task.cancel()


def test_malloc_trim_is_glibcs_here() -> None:
    trim = malloc_trim()
    assert trim is not None  # this machine runs glibc; elsewhere the collector only collects
    assert trim(0) in (0, 1)
