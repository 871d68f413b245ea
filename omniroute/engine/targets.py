"""The unit of routing: one model on one provider connection.

A combo (or a plain model name) resolves to a list of ``Target`` s; a strategy orders them into
the attempt order and the resilience state says which of them may be tried right now.
"""

from __future__ import annotations

from dataclasses import dataclass

TargetKey = tuple[str, str]
"""``(connection_id, model)``: what per-target counters are keyed by. Weight and priority are
combo configuration, not identity, so editing them must not reset a target's history."""


@dataclass(frozen=True, slots=True)
class Target:
    connection_id: str
    provider: str  # provider type: openai / anthropic / gemini / ollama / openai-compatible …
    model: str  # the model id as the upstream expects it
    weight: int = 1
    priority: int = 0  # lower is tried first (priority strategy)

    @property
    def key(self) -> TargetKey:
        return (self.connection_id, self.model)
