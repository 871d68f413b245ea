"""The engine's call, and the one function every entry point builds it with.

`/v1` (and `/v1/bridge`, where the AgentBridge sends the streamed agent calls it rewrites),
the in-process bridge (agent calls answered in one piece on mitmproxy's loop), the Responses
WebSocket and replay all call `build_call`: the same context (who sent it, which client
headers go upstream) whichever way a call came in.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from omniroute.engine.errors import BadRequest
from omniroute.engine.trail import Trail

# Request ids: a per-process random prefix plus a counter, as unique as a uuid4 hex (32 hex
# digits) but without a getrandom() call on every request.
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(int.from_bytes(secrets.token_bytes(4)))


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


# Client headers that switch on upstream features; forwarded when no translation happens.
FORWARDED_HEADERS = ("anthropic-beta", "anthropic-version", "openai-beta")


def forwarded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The client's forwarded headers that have a value; one that is not printable ASCII (the
    upstream could not take it, and httpx cannot encode it) is a clear 400 naming it."""
    out = {}
    for name in FORWARDED_HEADERS:
        value = headers.get(name)
        if not value:
            continue
        if not (value.isascii() and value.isprintable()):
            raise BadRequest(f"header {name!r} must be printable ASCII")
        out[name] = value
    return out


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sends a call: a `/v1` client (`api`), an agent through the AgentBridge, a replay."""

    source: str = "api"  # api | agent-bridge | replay
    agent: str | None = None
    original_host: str | None = None
    asked_model: str | None = None  # the model the agent named, when a mapping replaced it


API_CLIENT = Origin()


@dataclass(slots=True)
class CallContext:
    source: str = "api"  # api | agent-bridge | replay
    agent: str | None = None
    original_host: str | None = None
    api_key_id: str | None = None  # the OmniRoute API key that authorised the call, if any
    asked_model: str | None = None  # the model the agent named (Usage keeps it), if mapped
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.perf_counter)
    # Client headers worth forwarding when the upstream speaks the client's own format
    # (anthropic-beta, openai-beta …): they switch on features the client relies on.
    forward_headers: dict[str, str] = field(default_factory=dict)
    trail: Trail = field(default_factory=Trail)  # the targets tried, for the inspector


@dataclass(slots=True)
class Call:
    client_format: str
    body: dict[str, Any]
    model: str
    stream: bool
    ctx: CallContext = field(default_factory=CallContext)


@dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    media_type: str
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


def build_call(
    fmt: str,
    body: dict[str, Any],
    model: str,
    stream: bool,
    *,
    origin: Origin = API_CLIENT,
    headers: Mapping[str, str] | None = None,
    api_key_id: str | None = None,
) -> Call:
    """The call for ``model`` in the client's format ``fmt``; ``headers`` are the client's
    request headers (those in FORWARDED_HEADERS go upstream when no translation happens;
    BadRequest when one of them cannot)."""
    forward = forwarded_headers(headers) if headers is not None else {}
    ctx = CallContext(
        source=origin.source, agent=origin.agent, original_host=origin.original_host,
        api_key_id=api_key_id, forward_headers=forward, asked_model=origin.asked_model,
    )
    return Call(fmt, body, model, stream, ctx)
