"""The Usage page benchmark's own arithmetic (``benchmarks.usage_load``): the bootstrap interval
of a p99 move, and the kernel's account of the calls' loop."""

from __future__ import annotations

import os
import random

from benchmarks.usage_load import Phase, _loop_schedstat, _p99_moved, _p99_moved_interval


def _rounds(shift_ms: float, pause_in_round: int | None = None) -> list[tuple[Phase, Phase]]:
    pick = random.Random(3)
    rounds = []
    for n in range(20):
        calm = [pick.gauss(8, 1.5) for _ in range(120)]
        busy = [ms + shift_ms for ms in calm]
        if n == pause_in_round:
            busy[:20] = [250.0] * 20  # the host held the CPU for a quarter of a second, once
        rounds.append((Phase(v1=calm), Phase(v1=busy)))
    return rounds


def test_no_move_gives_an_interval_of_nothing() -> None:
    assert _p99_moved_interval(_rounds(0.0), "v1") == [0.0, 0.0]


def test_a_steady_move_is_its_own_interval() -> None:
    assert _p99_moved_interval(_rounds(3.0), "v1") == [3.0, 3.0]


def test_one_pause_widens_the_interval_around_the_pooled_move() -> None:
    rounds = _rounds(0.0, pause_in_round=7)
    pooled = _p99_moved([ms for calm, _ in rounds for ms in calm.v1], [ms for _, busy in rounds for ms in busy.v1])
    low, high = _p99_moved_interval(rounds, "v1")
    # 20 paused calls of 2,400 stay under the p99 (the 24th slowest), so the pooled move is small;
    # a draw holding round 7 twice (about one in four) has 40 and moves the p99 by the pause.
    assert low <= 0.5 and high > 100
    assert low <= pooled <= high


def test_the_loop_account_is_this_threads_time_on_the_cpu() -> None:
    before = _loop_schedstat(os.getpid())
    sum(range(200_000))
    after = _loop_schedstat(os.getpid())
    assert before is not None and after is not None
    assert after[0] > before[0] > 0 and after[1] >= before[1] >= 0


def test_no_account_where_the_kernel_keeps_none() -> None:
    beyond_any_pid = 2**22 + 1  # Linux's pid_max is at most 2**22
    assert _loop_schedstat(beyond_any_pid) is None
    assert Phase(v1=[5.0]).loop_per_second() == {}  # a phase without one reports nothing
