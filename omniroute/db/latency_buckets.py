"""Latency buckets for percentiles kept as counts: bucket k holds latencies in
[RATIO^k, RATIO^(k+1)) milliseconds, bucket 0 everything under 1 ms. A percentile read back
is the bucket's geometric middle, within half a step (2.5 %) of the exact value."""

from __future__ import annotations

import math
from collections.abc import Iterable

RATIO = 1.05
_LOG_RATIO = math.log(RATIO)


def bucket_of(latency_ms: float) -> int:
    if not latency_ms >= 1.0:  # NaN and sub-millisecond answers alike
        return 0
    return int(math.log(latency_ms) / _LOG_RATIO) + 1


def value_of(bucket: int) -> float:
    """The bucket's representative latency in milliseconds."""
    if bucket <= 0:
        return 0.5
    return RATIO ** (bucket - 0.5)


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
                out[p] = round(value_of(bucket), 2)
                break
    return out
