"""Ollama /api/chat and /api/tags wire formats for the mock provider (requests read like chat)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from tests.support.mock_formats import JSON, ReplyPlan, pieces

_OLLAMA_TIME = "2024-01-01T00:00:00.000000Z"


def ollama_messages(plan: ReplyPlan, stream: bool) -> list[JSON]:
    def line(message: JSON, done: bool) -> JSON:
        data: JSON = {"model": plan.model, "created_at": _OLLAMA_TIME, "message": message,
                      "done": done}
        if done:
            data.update(done_reason="stop", total_duration=1_000_000, load_duration=1_000,
                        prompt_eval_count=plan.input_tokens, prompt_eval_duration=1_000,
                        eval_count=plan.output_tokens, eval_duration=1_000)
        return data

    if plan.tool_name:
        call = {"role": "assistant", "content": "",
                "tool_calls": [{"function": {"name": plan.tool_name,
                                             "arguments": plan.tool_args}}]}
        if not stream:
            return [line(call, True)]
        return [line(call, False), line({"role": "assistant", "content": ""}, True)]
    if not stream:
        return [line({"role": "assistant", "content": plan.text}, True)]
    out = [line({"role": "assistant", "content": p}, False) for p in pieces(plan.text)]
    out.append(line({"role": "assistant", "content": ""}, True))
    return out


def ollama_tags(models: Sequence[str]) -> JSON:
    return {"models": [{"name": f"{m}:latest", "model": f"{m}:latest",
                        "modified_at": _OLLAMA_TIME, "size": 1024,
                        "digest": hashlib.sha256(m.encode()).hexdigest(),
                        "details": {"format": "gguf", "family": "mock", "families": ["mock"],
                                    "parameter_size": "1M", "quantization_level": "Q4_0"}}
                       for m in models]}
