"""Figures from raw samples: percentiles per arm and per round, throughput summed over rounds
with its CPU, and the hot spots of a py-spy profile."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """Milliseconds. p99 of a few hundred samples is their 99th value: read it as a tail hint."""
    ok = [s for s in raw["samples"] if s[3]]
    totals = [s[0] * 1000 for s in ok]
    ttfbs = [s[1] * 1000 for s in ok]
    bodies = [(s[0] - s[1]) * 1000 for s in ok]
    wall = raw.get("wall") or 0.0
    return {
        "n": len(ok), "errors": (len(raw["samples"]) - len(ok)) or len(raw.get("errors", [])),  # failed calls stay as not-ok samples
        "p50": _pct(totals, 0.5), "p90": _pct(totals, 0.9), "p99": _pct(totals, 0.99),
        "ttfb_p50": _pct(ttfbs, 0.5), "ttfb_p99": _pct(ttfbs, 0.99),
        "body_p50": _pct(bodies, 0.5),
        "events": statistics.median([s[2] for s in ok]) if ok else 0,
        "rps": len(ok) / wall if wall else None,
        "first_error": (raw.get("errors") or [None])[0],
        "round_p50": _round_p50s(raw, 0), "round_ttfb_p50": _round_p50s(raw, 1),
    }


def _round_p50s(raw: dict[str, Any], column: int) -> list[float | None]:
    """p50 (ms) of one sample column (0 total, 1 TTFB) in each interleaved round taken alone:
    how far one run's rounds spread on a shared machine."""
    out: list[float | None] = []
    start = 0
    for size in raw.get("round_sizes", []):
        ok = [s for s in raw["samples"][start:start + size] if s[3]]
        start += size
        out.append(_pct([s[column] * 1000 for s in ok], 0.5))
    return out


class RoundTotals:
    """One throughput arm summed over interleaved rounds, with the CPU its processes used."""

    def __init__(self) -> None:
        self.raw: dict[str, Any] = {"samples": [], "errors": [], "wall": 0.0, "warmup": 0}
        self.cpu = 0.0

    def add(self, raw: dict[str, Any], cpu_seconds: float) -> None:
        for key in ("samples", "errors"):
            self.raw[key] += raw[key]
        self.raw["wall"] += raw["wall"]
        self.raw["warmup"] += raw["warmup"]
        self.cpu += cpu_seconds

    def summary(self) -> dict[str, Any]:
        stats = summarize(self.raw)
        served = stats["n"] + self.raw["warmup"]  # the warm-up requests ran on the same CPU clock
        stats["cpu_ms_per_request"] = 1000 * self.cpu / served if served else None
        return stats


def hot_spots(raw_profile: str, top: int = 12) -> dict[str, list[tuple[str, float]]]:
    """py-spy `raw` (collapsed stacks) → share of samples by own time and by inclusive time."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_profile.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            # cli.py's run/_serve is the root of every stack, so it says nothing.
            if ("omniroute/" in frame or "addons/" in frame) and "omniroute/cli.py" not in frame:
                inclusive[frame] += count
    if not total:
        return {"own": [], "inclusive": [], "samples": []}
    share = lambda c: round(100 * c / total, 1)
    return {"own": [(f, share(c)) for f, c in own.most_common(top)],
            "inclusive": [(f, share(c)) for f, c in inclusive.most_common(top)],
            "samples": [("total", float(total))]}


def _short(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3.12/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


# -- report ------------------------------------------------------------------------------
