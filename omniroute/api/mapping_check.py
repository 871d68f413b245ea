"""Mapping targets are checked when saved, and one can be tried (`POST …/mappings/test`).

A target the engine cannot resolve would be saved silently and fail the agent's next call
with a 404; it is refused with a 422 that lists close matches instead. The test sends one
small chat call through the engine, as a routed agent call would go.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from fastapi.exceptions import RequestValidationError

from omniroute.engine.calls import Origin, build_call
from omniroute.engine.errors import EngineError
from omniroute.engine.registry import Snapshot
from omniroute.engine.resolve import close_matches, resolve
from omniroute.engine.router import Router
from omniroute.translate import TranslationError
from omniroute.translate.formats import WireFormat

TEST_PROMPT = "Reply with the single word OK."
TEST_MAX_TOKENS = 16


def unresolvable(target: str, snapshot: Snapshot) -> str | None:
    """Why ``target`` cannot be routed (with close matches), or None when it resolves."""
    try:
        resolve(target, snapshot)
    except EngineError:
        close = close_matches(target, snapshot)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        if not snapshot.connections:
            hint += "; no provider connection exists yet (add one on the Providers page or POST /api/providers)"
        return f"target {target!r} does not resolve to any connection, combo, alias or fallback chain{hint}"
    return None


def check_targets(targets: Iterable[str], snapshot: Snapshot) -> None:
    """A 422 naming every unresolvable target's field (`mappings.N.target`)."""
    errors = [
        {"loc": ("body", "mappings", index, "target"), "msg": problem, "type": "value_error"}
        for index, target in enumerate(targets)
        if (problem := unresolvable(target, snapshot)) is not None
    ]
    if errors:
        raise RequestValidationError(errors)


async def try_target(router: Router, agent_id: str, target: str) -> dict[str, Any]:
    """One small chat call to ``target`` through the engine; the reply (or the error) is the result."""
    problem = unresolvable(target, router.registry.snapshot)
    if problem is not None:
        raise RequestValidationError([{"loc": ("body", "target"), "msg": problem, "type": "value_error"}])
    body = {"model": target, "max_tokens": TEST_MAX_TOKENS, "messages": [{"role": "user", "content": TEST_PROMPT}]}
    started = time.perf_counter()
    result: dict[str, Any] = {"agent_id": agent_id, "target": target}
    try:
        call = build_call(WireFormat.OPENAI_CHAT, body, target, False, origin=Origin(source="api", agent=agent_id))
        reply = await router.dispatch(call)
        raw = reply.body
        if raw is None and reply.stream is not None:
            raw = b"".join([chunk async for chunk in reply.stream])
        result.update(ok=200 <= reply.status < 300, status=reply.status, **_reply_fields(raw or b""))
    except EngineError as exc:
        result.update(ok=False, status=exc.status, error=exc.message)
    except TranslationError as exc:
        result.update(ok=False, status=400, error=str(exc))
    result["latencyMs"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _reply_fields(raw: bytes) -> dict[str, Any]:
    """The model that answered and its text, from an OpenAI chat completion (or its error)."""
    try:
        data = json.loads(raw)
    except ValueError:
        return {"error": raw[:300].decode("utf-8", "replace")}
    if not isinstance(data, dict):
        return {"error": "the reply is not a JSON object"}
    if "error" in data:
        error = data["error"]
        return {"error": error.get("message") if isinstance(error, dict) else str(error)}
    choices = data.get("choices") or [{}]
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message") or {}
    return {"model": data.get("model"), "reply": message.get("content") or ""}
