"""Conversations: the model calls of one agent session, grouped as one thread.

Pure: takes captured rows with their insight (``insight.insight_of``) and sums each thread's
tokens, cost, duration, models and errors; a thread's calls in time order are its timeline.
A cost is exact decimal text; when some call's model has no known price the thread says how
many (``unpricedCalls``), so a partial sum is never shown as the whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from omniroute.inspector.model import InterceptedRequest, iso_timestamp

Insighted = tuple[InterceptedRequest, dict[str, Any]]


@dataclass(slots=True)
class Thread:
    key: str
    by: str
    agent: str | None
    calls: list[Insighted] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        first, last = self.calls[0][0], self.calls[-1][0]
        end = max((r.response_end_at or r.started_at) for r, _ in self.calls)
        cost, priced, unpriced = Decimal(0), 0, 0
        tokens_in = tokens_out = errors = 0
        models: list[str] = []
        for row, info in self.calls:
            tokens_in += info.get("tokensIn") or 0
            tokens_out += info.get("tokensOut") or 0
            errors += info.get("failure") is not None
            if info.get("cost") is not None:
                cost += Decimal(info["cost"])
                priced += 1
            elif info.get("tokensIn") is not None or info.get("tokensOut") is not None:
                unpriced += 1
            model = info.get("model")
            if model and model not in models:
                models.append(model)
        return {
            "key": self.key, "by": self.by, "agent": self.agent, "calls": len(self.calls),
            "firstAt": iso_timestamp(first.started_at), "lastAt": iso_timestamp(last.started_at),
            "durationMs": round((end - first.started_at) * 1000, 2),
            "tokensIn": tokens_in, "tokensOut": tokens_out,
            # None ("unknown") when no call was priced but some had tokens; else the priced sum.
            "cost": None if unpriced and not priced else f"{cost:f}",
            "unpricedCalls": unpriced, "models": models, "errors": errors,
        }

    def timeline(self) -> list[dict[str, Any]]:
        return [{
            "id": row.id, "timestamp": row.timestamp, "status": row.status, "path": row.path,
            "sourceModel": row.source_model, "mappedModel": row.mapped_model, "model": info.get("model"),
            "tokensIn": info.get("tokensIn"), "tokensOut": info.get("tokensOut"), "cost": info.get("cost"),
            "latencyMs": row.total_latency_ms, "failure": info.get("failure"), "steps": info.get("steps"),
            "source": row.source, "replayOf": info.get("replayOf"),
        } for row, info in self.calls]


def group(rows: Iterable[Insighted]) -> dict[str, Thread]:
    """Model calls by thread key, each thread's calls oldest first; rows with no thread are left out."""
    threads: dict[str, Thread] = {}
    for row, info in rows:
        thread = info.get("thread")
        if thread is None or row.detected_kind != "llm":
            continue
        found = threads.get(thread["key"])
        if found is None:
            found = threads[thread["key"]] = Thread(thread["key"], thread["by"], row.agent)
        found.calls.append((row, info))
    for thread in threads.values():
        thread.calls.sort(key=lambda item: item[0].started_at)
    return threads


def newest_first(threads: dict[str, Thread]) -> list[Thread]:
    return sorted(threads.values(), key=lambda t: t.calls[-1][0].started_at, reverse=True)
