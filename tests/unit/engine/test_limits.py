"""The attempt watchdog and the capped reader (engine/limits.py), on asyncio alone."""

from __future__ import annotations

import asyncio

import pytest

from omniroute.engine.limits import DEFAULT_LIMITS, LimitExceeded, UpstreamLimits, Watchdog

EXCEEDED = LimitExceeded("too slow", 504)


async def test_a_read_past_the_deadline_raises_the_limit_not_a_cancellation() -> None:
    watchdog = Watchdog(0.05, EXCEEDED)
    with pytest.raises(LimitExceeded) as info:
        await watchdog.wait(asyncio.sleep(30))
    assert info.value is EXCEEDED
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_progress_moves_the_idle_deadline_and_a_slow_consumer_is_not_blamed() -> None:
    watchdog = Watchdog(30, EXCEEDED)
    watchdog.streaming(0.2, EXCEEDED)
    for _ in range(5):  # reads well inside the window, each completing an event
        await watchdog.wait(asyncio.sleep(0.01))
        watchdog.progress()
    await asyncio.sleep(0.4)  # the consumer (not the upstream) is slow: nothing is cancelled
    assert await watchdog.wait(asyncio.sleep(0.01, "next")) == "next"  # a fresh window
    with pytest.raises(LimitExceeded):
        async with asyncio.timeout(10):  # the idle window, not the 30 s first-byte deadline
            await watchdog.wait(asyncio.sleep(30))
    watchdog.close()


async def test_an_outside_cancellation_stays_a_cancellation() -> None:
    watchdog = Watchdog(30, EXCEEDED)
    task = asyncio.create_task(watchdog.wait(asyncio.sleep(30)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    watchdog.close()


def test_connection_settings_override_the_time_limits_only() -> None:
    limits = DEFAULT_LIMITS.for_connection({"firstByteTimeoutSeconds": 2, "idleTimeoutSeconds": 1.5})
    assert (limits.first_byte_s, limits.idle_s) == (2.0, 1.5)
    assert limits.max_body_bytes == DEFAULT_LIMITS.max_body_bytes
    assert DEFAULT_LIMITS.for_connection({}) is DEFAULT_LIMITS
    assert "32 MiB limit (OMNIROUTE_UPSTREAM_MAX_BODY_BYTES)" in UpstreamLimits().body_exceeded().message
