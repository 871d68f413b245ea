"""Token counts for an Anthropic ``count_tokens`` request, by the provider its model goes to.

Claude Code asks ``/v1/messages/count_tokens`` before it sends long conversations. When the
model resolves to a provider with a counter of its own (an Anthropic-format provider's
``/v1/messages/count_tokens``, a Gemini provider's ``:countTokens``), that counter answers;
otherwise — a provider with no counter, a model nothing resolves, a counter that fails or is
unreachable — the count is estimated locally (``translate.count_tokens``), never an error.
The answer says which in the ``x-omniroute-token-count`` header: ``upstream`` or
``estimated``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from omniroute.engine.errors import EngineError
from omniroute.engine.registry import Connection
from omniroute.engine.resolve import resolve
from omniroute.engine.router import Router
from omniroute.providers.pool import TIMEOUT_KEY
from omniroute.translate import TranslationError, count_tokens, translate_request
from omniroute.translate.formats import WireFormat

HEADER = "x-omniroute-token-count"
UPSTREAM, ESTIMATED = "upstream", "estimated"


@dataclass(frozen=True, slots=True)
class TokenCount:
    input_tokens: int
    how: str  # UPSTREAM | ESTIMATED

    def body(self) -> bytes:
        return json.dumps({"input_tokens": self.input_tokens}).encode()

    def headers(self) -> dict[str, str]:
        return {HEADER: self.how, "content-type": "application/json"}


def estimate(body: dict[str, Any]) -> TokenCount:
    return TokenCount(count_tokens(body, WireFormat.ANTHROPIC), ESTIMATED)


async def count_for(router: Router, body: dict[str, Any], model: str) -> TokenCount:
    """``body`` (an Anthropic count_tokens request) counted for ``model`` (what the engine
    resolves: ``provider/model``, a combo, an alias)."""
    snapshot = router.registry.snapshot
    try:
        targets = resolve(model, snapshot).targets
    except EngineError:
        return estimate(body)
    for target in targets:
        connection = snapshot.connections.get(target.connection_id)
        if connection is None or not connection.is_active:
            continue
        request = _counter_request(connection, body, target.model)
        if request is None:
            return estimate(body)  # the provider the call would go to has no counter
        counted = await _ask(router, connection, *request)
        return TokenCount(counted, UPSTREAM) if counted is not None else estimate(body)
    return estimate(body)


def _counter_request(connection: Connection, body: dict[str, Any], model: str) -> tuple[str, dict[str, Any], str] | None:
    """(url, payload, the field holding the answer) for the connection's own counter."""
    adapter = connection.adapter
    fmt = adapter.upstream_format(WireFormat.ANTHROPIC, model)
    url = adapter.endpoint(connection.url, fmt, model, False, connection.extra)
    if fmt == WireFormat.ANTHROPIC and url.endswith("/v1/messages"):
        return url + "/count_tokens", {**body, "model": model}, "input_tokens"
    if fmt == WireFormat.GEMINI and url.endswith(":generateContent"):
        try:
            request = translate_request(WireFormat.ANTHROPIC, WireFormat.GEMINI, {**body, "max_tokens": 1})
        except TranslationError:
            return None
        request.pop("generationConfig", None)  # countTokens takes the content, not the settings
        counter = url.removesuffix(":generateContent") + ":countTokens"
        return counter, {"generateContentRequest": {"model": f"models/{model}", **request}}, "totalTokens"
    return None


async def _ask(router: Router, connection: Connection, url: str, payload: dict[str, Any], field: str) -> int | None:
    content = json.dumps(payload).encode()
    headers = {**connection.adapter.headers(None if connection.auth else connection.api_key),
               "content-type": "application/json"}
    upstream = router.pool.upstream(connection.id, connection.max_concurrent, connection.extra.get(TIMEOUT_KEY))
    try:
        if connection.auth is not None:
            headers = await connection.auth.authorize("POST", url, content, headers, upstream.proxy)
        response = await upstream.client.post(url, content=content, headers=headers)
        value = response.json().get(field) if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):  # unreachable, or not JSON: estimate instead
        return None
    except Exception:  # noqa: BLE001 - a signer's failure too (cloud providers): estimate instead
        return None
    return value if isinstance(value, int) and value >= 0 else None
