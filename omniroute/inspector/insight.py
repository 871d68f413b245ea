"""What a person wants to know of one captured row at a glance: tokens, cost, thread, failure.

Pure functions over an ``InterceptedRequest`` (no I/O): the routes call them and an
``InsightCache`` keeps a finished row's answer, since reading a captured body is not free.

- **usage and cost**: the token counts the reply reports (the merged stream or the body), the
  model that answered, priced by the ``PriceTable`` (overrides, then the maintained table). A
  model no table prices has ``cost: None`` ("unknown" on the page), never 0.
- **thread**: the agent session a call belongs to, from what agents send: Claude Code's
  ``metadata.user_id`` (``…_session_<uuid>``, or JSON with ``session_id``), Codex's
  ``session_id``/``conversation_id`` headers and ``prompt_cache_key``, a Cloud Code request's
  ``session_id``; else the context key (same system prompt), else none.
- **failure**: why a call failed (the upstream's status and message, timeout, breaker open, no
  connection) and the engine's steps (``X-OmniRoute-Attempts``): skipped, fell back, answered.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from omniroute.engine.pricing import PriceTable
from omniroute.engine.trail import HEADER as ATTEMPTS_HEADER
from omniroute.inspector.conversation import normalize_usage
from omniroute.inspector.detect import provider_for_host
from omniroute.inspector.model import IN_FLIGHT, InterceptedRequest

_SESSION_HEADERS = ("x-claude-code-session-id", "session_id", "session-id", "conversation_id",
                    "conversation-id", "x-session-id", "x-conversation-id")
_USER_ID = re.compile(r'"user_id"\s*:\s*"((?:[^"\\]|\\.){1,400})"')
_SESSION_IN_USER_ID = re.compile(r"session[_-]?(?:id)?\W{0,6}([0-9A-Za-z][0-9A-Za-z-]{7,63})")
_BODY_SESSION = re.compile(r'"(?:prompt_cache_key|session_id|sessionId|conversation_id)"\s*:\s*"([^"\\]{6,120})"')
_SCAN = 2 * 1024 * 1024  # bytes of a request body searched for a session id


@dataclass(frozen=True, slots=True)
class Usage:
    tokens_in: int | None
    tokens_out: int | None
    cached: int | None


def reply_json(row: InterceptedRequest) -> Any:
    """The reply as JSON: the merged stream's message, else the body when it is JSON text."""
    if row.merged is not None:
        return row.merged.get("message")
    if row.response_body_encoding != "text" or not row.response_body:
        return None
    try:
        return json.loads(row.response_body)
    except ValueError:
        return None


def usage_of(row: InterceptedRequest, reply: Any) -> Usage | None:
    if not isinstance(reply, dict) or not row.wire_format:
        return None
    inner = reply.get("response") if isinstance(reply.get("response"), dict) else reply
    raw = inner.get("usageMetadata") or inner.get("usage")
    if row.wire_format == "ollama":
        raw = {"input": inner.get("prompt_eval_count"), "output": inner.get("eval_count")}
    if not isinstance(raw, dict):
        return None
    counts = normalize_usage(raw, row.wire_format)
    if counts["input"] is None and counts["output"] is None:
        return None
    return Usage(counts["input"], counts["output"], counts["cached"])


def answering_model(row: InterceptedRequest, reply: Any) -> str | None:
    """The model that answered: as the reply names it, else the mapped or asked one."""
    if isinstance(reply, dict):
        inner = reply.get("response") if isinstance(reply.get("response"), dict) else reply
        for key in ("model", "modelVersion"):
            if isinstance(inner.get(key), str) and inner[key]:
                return inner[key]
    return row.mapped_model or row.source_model


def provider_hint(row: InterceptedRequest) -> str:
    """Whose price list applies: the provider the engine used for a routed call, else the
    LLM host's provider for a call that went to it directly."""
    used = row.response_headers.get("x-omniroute-provider")
    if used:
        return used
    if row.mapped_model:
        return ""  # routed, and the host is the agent's, not the provider's
    return provider_for_host(row.host) or ""


def cost_of(row: InterceptedRequest, prices: PriceTable, reply: Any) -> dict[str, Any]:
    usage = usage_of(row, reply)
    model = answering_model(row, reply)
    out: dict[str, Any] = {"tokensIn": None, "tokensOut": None, "tokensCached": None, "model": model, "cost": None}
    if usage is None:
        return out
    out.update(tokensIn=usage.tokens_in, tokensOut=usage.tokens_out, tokensCached=usage.cached)
    if model:
        value = prices.priced_cost(model, provider_hint(row), usage.tokens_in or 0, usage.tokens_out or 0,
                                   usage.cached or 0)
        out["cost"] = None if value is None else _decimal_text(value)
    return out


def thread_of(row: InterceptedRequest) -> dict[str, str] | None:
    """``{"key", "by"}``: the agent session a call belongs to; None for none."""
    who = row.agent or row.source
    headers = {k.lower(): v for k, v in row.request_headers.items()}
    for name in _SESSION_HEADERS:
        value = headers.get(name)
        if value and "*" not in value:
            return {"key": f"{who}:{value[:120]}", "by": name}
    body = row.request_body if row.request_body_encoding == "text" else None
    if body:
        scan = body[-_SCAN:] if len(body) > _SCAN else body
        user = _USER_ID.search(scan)
        if user is not None:
            session = _SESSION_IN_USER_ID.search(user.group(1).replace('\\"', '"'))
            if session is not None:
                return {"key": f"{who}:{session.group(1)}", "by": "metadata.user_id"}
        found = _BODY_SESSION.search(scan)
        if found is not None:
            return {"key": f"{who}:{found.group(1)}", "by": "body session id"}
    if row.context_key:
        return {"key": f"{who}:ctx-{row.context_key}", "by": "context key"}
    return None


def steps_of(row: InterceptedRequest) -> list[dict[str, Any]]:
    raw = row.response_headers.get(ATTEMPTS_HEADER)
    if not raw:
        return []
    try:
        steps = json.loads(raw)
    except ValueError:
        return []
    return [s for s in steps if isinstance(s, dict)] if isinstance(steps, list) else []


def failure_of(row: InterceptedRequest, reply: Any, steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Why the call failed, for the overview and the list's badge; None when it did not."""
    status = row.status
    failed = status == "error" or (isinstance(status, int) and status >= 400) or (row.error and status != IN_FLIGHT)
    if not failed:
        return None
    message = _error_message(reply) or row.error or (row.reason if isinstance(status, int) else None) or ""
    text = f"{message} {row.error or ''}".lower()
    if status == 499 or "client closed" in text or "client disconnected" in text:
        kind = "client closed"
    elif status in (408, 504) or "timeout" in text or "timed out" in text:
        kind = "timeout"
    elif "breaker" in text or any(s.get("reason") in ("breaker_open", "breaker_probing") for s in steps):
        kind = "breaker open"
    elif status == 429 or "rate limit" in text or "rate_limit" in text:
        kind = "rate limited"
    elif status == "error":
        kind = "no response"
    elif row.response_headers.get("x-omniroute-request-id") or steps:
        kind = "upstream"
    else:
        kind = "upstream" if isinstance(status, int) and status >= 500 else "refused"
    fell_back = sum(1 for s in steps if s.get("outcome") == "fell back")
    return {"status": status, "kind": kind, "message": message[:500], "fellBack": fell_back}


def insight_of(row: InterceptedRequest, prices: PriceTable) -> dict[str, Any]:
    reply = reply_json(row)
    steps = steps_of(row)
    return {
        **cost_of(row, prices, reply),
        "thread": thread_of(row),
        "failure": failure_of(row, reply, steps),
        "steps": steps,
        "replayOf": row.note[len("replay of "):] if row.source == "replay" and row.note and
        row.note.startswith("replay of ") else None,
    }


class InsightCache:
    """Finished rows' insight, keyed by what would change it (status, sizes, the prices)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()

    def get(self, row: InterceptedRequest, prices: PriceTable) -> dict[str, Any]:
        if row.status == IN_FLIGHT:
            return insight_of(row, prices)
        key = (row.id, row.status, row.response_size, row.request_size, id(prices))
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = insight_of(row, prices)
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        return found


def _error_message(reply: Any) -> str | None:
    if isinstance(reply, list) and reply:  # Gemini streams errors as a list
        reply = reply[0]
    if not isinstance(reply, dict):
        return None
    error = reply.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("status") or error.get("type")
        return str(message) if message else None
    if isinstance(error, str):
        return error
    message = reply.get("message") or reply.get("detail")
    return str(message) if isinstance(message, (str, int)) else None


def _decimal_text(value: Decimal) -> str:
    return f"{value:f}"
