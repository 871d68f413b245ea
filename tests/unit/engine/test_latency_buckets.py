"""Latency percentiles from bucket counts: nearest rank, within half a bucket of the exact value."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from omniroute.db.latency_buckets import bucket_of, percentiles, value_of


def exact(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_are_within_2_5_percent_of_nearest_rank(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(5, 1.2) + 1 for _ in range(rng.randrange(1, 3000))]
    counts = Counter(bucket_of(v) for v in values)
    got = percentiles(counts.items(), (50, 90, 99))
    for p in (50, 90, 99):
        assert got[p] == pytest.approx(exact(values, p), rel=0.025)


def test_sub_millisecond_nan_and_bucket_edges() -> None:
    assert bucket_of(0.0002) == bucket_of(float("nan")) == 0 and value_of(0) == 0.0005
    assert bucket_of(0.001) == 1 and bucket_of(0.00104) == 1 and bucket_of(0.00106) == 2
    # Sub-millisecond answers (an in-process provider) keep their precision too.
    assert value_of(bucket_of(0.755)) == pytest.approx(0.755, rel=0.025)
    assert percentiles([], (50,)) == {}
    assert percentiles([(0, 3), (bucket_of(100.0), 1)], (50, 99)) == {50: 0.0005, 99: float(f"{value_of(bucket_of(100.0)):.4g}")}
