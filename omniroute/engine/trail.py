"""The steps one call took through its targets, for people reading it afterwards.

The router notes each target it skipped (breaker open, no endpoint for the format), each
attempt that failed and fell back, and the one that answered. The trail goes out with the
reply as the ``X-OmniRoute-Attempts`` header, so the inspector (which captures that header)
can show retried and fallen-back attempts as steps of one call.
"""

from __future__ import annotations

import json

HEADER = "x-omniroute-attempts"
_MAX_MESSAGE = 160
_MAX_STEPS = 12  # a long combo's trail stays a readable header


class Trail:
    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps: list[dict[str, object]] = []

    def skipped(self, target: str, reason: str) -> None:
        self._add({"target": target, "outcome": "skipped", "reason": reason[:_MAX_MESSAGE]})

    def failed(self, target: str, status: int, message: str, kind: str, fell_back: bool) -> None:
        self._add({"target": target, "outcome": "fell back" if fell_back else "failed", "status": status,
                   "kind": kind, "reason": message[:_MAX_MESSAGE]})

    def answered(self, target: str) -> None:
        self._add({"target": target, "outcome": "answered"})

    def header(self) -> dict[str, str]:
        """The header, when there is more to tell than one attempt that answered."""
        if len(self.steps) < 2 and all(step["outcome"] == "answered" for step in self.steps):
            return {}
        if self.steps and self.steps[-1]["outcome"] == "fell back":  # nothing was left to fall back to
            self.steps[-1] = {**self.steps[-1], "outcome": "failed"}
        # ASCII only: a header value must be latin-1, and reasons quote upstream text.
        return {HEADER: json.dumps(self.steps, ensure_ascii=True, separators=(",", ":"))}

    def _add(self, step: dict[str, object]) -> None:
        if len(self.steps) < _MAX_STEPS:
            self.steps.append(step)
