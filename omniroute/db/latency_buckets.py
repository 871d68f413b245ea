"""Latency buckets for percentiles kept as counts: bucket k ≥ 1 holds latencies in
[FLOOR_MS·RATIO^(k-1), FLOOR_MS·RATIO^k) milliseconds, bucket 0 everything under FLOOR_MS
(a microsecond). A percentile read back is the bucket's geometric middle, within half a step
(2.5 %) of the exact value: sub-millisecond answers (an in-process provider) included."""

from __future__ import annotations

import math
from collections.abc import Iterable

RATIO = 1.05
FLOOR_MS = 0.001
_LOG_RATIO = math.log(RATIO)


def bucket_of(latency_ms: float) -> int:
    if not latency_ms >= FLOOR_MS:  # NaN and anything under a microsecond alike
        return 0
    return int(math.log(latency_ms / FLOOR_MS) / _LOG_RATIO) + 1


def value_of(bucket: int) -> float:
    """The bucket's representative latency in milliseconds."""
    if bucket <= 0:
        return FLOOR_MS / 2
    return FLOOR_MS * RATIO ** (bucket - 0.5)


def percentiles(counts: Iterable[tuple[int, int]], wanted: Iterable[int]) -> dict[int, float]:
    """Nearest-rank percentiles from (bucket, calls) pairs: the p-th is in the bucket holding
    the call of rank ceil(p/100 * n)."""
    ordered = sorted((b, c) for b, c in counts if c > 0)
    total = sum(c for _, c in ordered)
    out: dict[int, float] = {}
    for p in wanted:
        rank, seen = max(1, math.ceil(p * total / 100)), 0
        for bucket, calls in ordered:
            seen += calls
            if seen >= rank:
                out[p] = float(f"{value_of(bucket):.4g}")  # 4 digits: finer than a bucket
                break
    return out
