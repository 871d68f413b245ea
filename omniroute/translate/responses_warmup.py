"""The answer to a Responses warm-up request (``generate: false``, which Codex sends first on
its WebSocket to prepare the session): the response is created and completed with no output and
no usage, as OpenAI answers it, without asking any model.
"""

from __future__ import annotations

import time
from typing import Any

from .base import new_id


def warmup_events(body: dict[str, Any]) -> list[dict[str, Any]]:
    response = {
        "id": "resp_" + new_id(""), "object": "response", "created_at": int(time.time()), "status": "in_progress",
        "model": body.get("model", ""), "output": [], "error": None, "incomplete_details": None,
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)), "tool_choice": "auto", "tools": [],
    }  # fmt: skip
    usage = {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 0,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 0}  # fmt: skip
    return [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {"type": "response.completed", "sequence_number": 1,
         "response": {**response, "status": "completed", "usage": usage}},
    ]
