"""Request rate limits per OmniRoute API key and model, counted in fixed windows.

A rule says how many calls one key may make to the models it matches in a window
(``{"apiKeyId": "*", "model": "gpt-*", "limit": 60, "windowSeconds": 60}``). ``apiKeyId: "*"``
gives every key its own count (calls without a key share the ``anonymous`` count); ``model`` is
a glob on the model the caller named, and each model matched is counted apart. The counts live
in a `WindowCounter`: in memory for one instance, in Redis (`omniroute.shared`) when several
share the load, so the limit holds across them.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Protocol

from omniroute.engine.errors import EngineError

ANONYMOUS = "anonymous"


class RateLimited(EngineError):
    status = 429
    type = "rate_limit_error"


@dataclass(frozen=True, slots=True)
class Count:
    key: str  # "<rule id>|<api key>|<model>"
    used: int
    reset_at: float  # wall-clock end of the window


class WindowCounter(Protocol):
    def hit(self, key: str, window_s: int, now: float) -> Count:
        """Count one call in the current window of ``key``; the count including it."""
        ...

    def counts(self, now: float) -> list[Count]:
        """Every key counted in its current window."""
        ...


class InMemoryWindowCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)

    def hit(self, key: str, window_s: int, now: float) -> Count:
        end = window_end(now, window_s)
        with self._lock:
            current_end, used = self._windows.get(key, (end, 0))
            used = used + 1 if current_end == end else 1
            self._windows[key] = (end, used)
        return Count(key, used, end)

    def counts(self, now: float) -> list[Count]:
        with self._lock:
            live = {k: v for k, v in self._windows.items() if v[0] > now}
            self._windows = live
        return [Count(k, used, end) for k, (end, used) in live.items()]


def window_end(now: float, window_s: int) -> float:
    """Windows are aligned on the epoch, so every instance agrees on where one ends."""
    return (math.floor(now / window_s) + 1) * window_s


@dataclass(frozen=True, slots=True)
class RateRule:
    limit: int
    window_s: int = 60
    api_key_id: str = "*"
    model: str = "*"
    # Stable across instances and restarts; a changed rule starts a fresh count.
    id: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        text = json.dumps([self.limit, self.window_s, self.api_key_id, self.model])
        object.__setattr__(self, "id", hashlib.sha256(text.encode()).hexdigest()[:10])

    def applies(self, api_key_id: str, model: str) -> bool:
        return self.api_key_id in ("*", api_key_id) and fnmatchcase(model, self.model)

    def to_api(self) -> dict[str, Any]:
        return {"apiKeyId": self.api_key_id, "model": self.model, "limit": self.limit,
                "windowSeconds": self.window_s}


class RateLimiter:
    def __init__(self, counter: WindowCounter) -> None:
        self.counter = counter
        self.enabled = False
        self.rules: tuple[RateRule, ...] = ()

    def configure(self, enabled: bool, rules: tuple[RateRule, ...]) -> None:
        self.enabled, self.rules = enabled, rules

    def admit(self, api_key_id: str | None, model: str, now: float) -> None:
        """Count the call under every rule that applies; RateLimited when one is past its limit."""
        if not self.enabled:
            return
        key_id = api_key_id or ANONYMOUS
        for rule in self.rules:
            if not rule.applies(key_id, model):
                continue
            count = self.counter.hit(f"{rule.id}|{key_id}|{model}", rule.window_s, now)
            if count.used > rule.limit:
                wait = max(1, math.ceil(count.reset_at - now))
                raise RateLimited(
                    f"rate limit reached: {rule.limit} request(s) per {rule.window_s} s for "
                    f"API key {key_id!r} on model {model!r}; retry in {wait} s "
                    "(limits: GET /api/rate-limit)",
                    headers={"retry-after": str(wait)},
                )

    def status(self, now: float) -> list[dict[str, Any]]:
        """The live counts, one entry per key and model counted under a current rule."""
        by_id = {rule.id: rule for rule in self.rules}
        out = []
        for count in self.counter.counts(now):
            rule_id, _, rest = count.key.partition("|")
            key_id, _, model = rest.partition("|")
            rule = by_id.get(rule_id)
            if rule is None:
                continue
            out.append({
                **rule.to_api(), "apiKeyId": key_id, "model": model, "rule": rule.to_api(),
                "used": count.used, "remaining": max(0, rule.limit - count.used),
                "resetInSeconds": max(0, math.ceil(count.reset_at - now)),
            })
        return sorted(out, key=lambda e: (e["apiKeyId"], e["model"]))
