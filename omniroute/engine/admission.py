"""Whether a model call may start: the caller's rate limits and spending budget, checked by
`Router.dispatch` before any upstream work, so every entry point (`/v1`, the bridge, the
Responses WebSocket, replay) gets the same answer. Also who is calling: the active sessions
behind `GET /api/sessions`.

A session is one caller as this instance sees it: an OmniRoute API key (or none), the agent
that sent the call (for AgentBridge traffic) and the source; it is active while it called in
the last ``SESSION_IDLE_S`` seconds or has a call in flight.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from omniroute.engine.budgets import Budgets
from omniroute.engine.calls import Call
from omniroute.engine.rate_limits import ANONYMOUS, RateLimiter

SESSION_IDLE_S = 30 * 60.0
MAX_SESSIONS = 10_000


@dataclass(slots=True)
class Session:
    id: str
    api_key_id: str | None
    agent: str | None
    source: str
    first_seen: float
    last_seen: float
    requests: int = 0
    refused: int = 0
    in_flight: int = 0
    models: dict[str, int] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id, "apiKeyId": self.api_key_id, "agent": self.agent, "source": self.source,
            "firstSeen": _iso(self.first_seen), "lastSeen": _iso(self.last_seen),
            "requests": self.requests, "refused": self.refused, "inFlight": self.in_flight,
            "models": dict(sorted(self.models.items(), key=lambda kv: -kv[1])[:10]),
        }


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Admission:
    def __init__(self, limiter: RateLimiter, budgets: Budgets, clock: Callable[[], float] = time.time) -> None:
        self.limiter = limiter
        self.budgets = budgets
        self._clock = clock
        self._sessions: dict[tuple[str | None, str | None, str], Session] = {}

    async def admit(self, call: Call) -> None:
        """Count the call; RateLimited or BudgetSpent (both 429, with Retry-After) when it may
        not start."""
        session = self._session(call)
        now = self._clock()
        session.last_seen = now
        try:
            self.limiter.admit(call.ctx.api_key_id, call.model, now)
            if self.budgets.budgets:
                await self.budgets.admit(call.ctx.api_key_id)
        except Exception:
            session.refused += 1
            raise
        session.requests += 1
        session.in_flight += 1
        session.models[call.model] = session.models.get(call.model, 0) + 1

    def finished(self, call: Call, cost: Decimal | None) -> None:
        """The call ended (answered, failed or cancelled); its cost counts against the budget."""
        session = self._sessions.get(_session_key(call))
        if session is not None and session.in_flight > 0:
            session.in_flight -= 1
            session.last_seen = self._clock()
        if cost:
            self.budgets.add(call.ctx.api_key_id, cost)

    def sessions(self) -> dict[str, Any]:
        now = self._clock()
        live = [s for s in self._sessions.values() if s.in_flight or now - s.last_seen < SESSION_IDLE_S]
        live.sort(key=lambda s: s.last_seen, reverse=True)
        by_key: dict[str, int] = {}
        for s in live:
            by_key[s.api_key_id or ANONYMOUS] = by_key.get(s.api_key_id or ANONYMOUS, 0) + 1
        return {"count": len(live), "sessions": [s.to_api() for s in live], "byApiKey": by_key}

    def _session(self, call: Call) -> Session:
        key = _session_key(call)
        session = self._sessions.get(key)
        if session is None:
            if len(self._sessions) >= MAX_SESSIONS:
                self._forget_idle()
            now = self._clock()
            sid = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
            session = self._sessions[key] = Session(sid, *key, now, now)
        return session

    def _forget_idle(self) -> None:
        now = self._clock()
        self._sessions = {k: s for k, s in self._sessions.items()
                          if s.in_flight or now - s.last_seen < SESSION_IDLE_S}
        while len(self._sessions) >= MAX_SESSIONS:  # all active: drop the longest idle
            oldest = min(self._sessions, key=lambda k: self._sessions[k].last_seen)
            del self._sessions[oldest]


def _session_key(call: Call) -> tuple[str | None, str | None, str]:
    ctx = call.ctx
    return ctx.api_key_id, ctx.agent, ctx.source
