"""Inspector rows for calls mitmproxy never sees, made to our API itself: a direct agent call
(an agent whose settings point at our API, source ``direct``), a plain ``/v1`` client's call
(source ``api``, while ``Capture.api_calls`` is on) and a replay (source ``replay``, noted as
the replay of its row).

The row is built from the ASGI request when the call starts and completed when its reply ends
(after the last streamed byte); headers and bodies are masked and capped as captured ones are.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from starlette.requests import Request

from omniroute.engine.errors import EngineError
from omniroute.inspector.capture import Capture
from omniroute.inspector.model import ERROR, InterceptedRequest
from omniroute.translate.errors import client_error_body

DIRECT = "direct"
API = "api"
REPLAY = "replay"


def start(capture: Capture, request: Request, body: bytes, *, request_id: str, agent: str | None, wire_format: str,
          stream: bool, source_model: str, mapped_model: str | None, source: str = DIRECT,
          note: str | None = None) -> InterceptedRequest | None:
    if not capture.enabled or (source == API and not capture.api_calls):
        return None
    url = request.url
    masker = capture.masker
    row = InterceptedRequest(
        id=request_id, source=source, method=request.method, host=url.hostname or "", path=url.path,
        started_at=time.time(), agent=agent,
        request_headers=masker.mask_headers(request.headers.items()),
        request_body=_text(masker.mask_bytes(body[: capture.body_cap])) if body else None,
        request_size=len(body), request_truncated=len(body) > capture.body_cap,
        detected_kind="llm", session_id=capture.session_id, scheme=url.scheme, port=url.port,
        query=masker.mask_url("?" + url.query)[1:] if url.query else "",
        wire_format=wire_format, stream=stream, source_model=source_model, mapped_model=mapped_model,
        note=note or (None if mapped_model or source != DIRECT else "unmapped"),
    )
    row.request_end_at = row.started_at
    capture.ring.add(row)
    return row


def finish(capture: Capture, row: InterceptedRequest, status: int, headers: dict[str, str],
           body: bytes, size: int, error: str | None = None) -> None:
    now = time.time()
    masker = capture.masker
    row.status = status if status else ERROR
    row.response_headers = masker.mask_headers(headers.items())
    row.response_body = _text(masker.mask_bytes(body[: capture.body_cap])) if body else None
    row.response_size = size
    row.response_truncated = size > capture.body_cap
    row.response_end_at = now
    row.total_latency_ms = round((now - row.started_at) * 1000, 2)
    if error:
        row.error = masker.mask_text(error)
    capture.finish(row)


def failed(capture: Capture, row: InterceptedRequest, exc: EngineError, wire_format: str) -> None:
    """Complete a row whose call the engine refused or could not serve, with the error the
    client gets (its status, headers and body in the client's format)."""
    body = json.dumps(client_error_body(wire_format, exc.status, exc.message, exc.param)).encode()
    finish(capture, row, exc.status, {"content-type": "application/json", **exc.headers}, body, len(body),
           exc.message)


async def tee(capture: Capture, row: InterceptedRequest, status: int, headers: dict[str, str],
              chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Relay a streamed reply chunk by chunk, keeping the first ``body_cap`` bytes for the row."""
    kept: list[bytes] = []
    held = size = 0
    error: str | None = None
    try:
        async for chunk in chunks:
            if row.response_start_at is None:
                row.response_start_at = time.time()
            size += len(chunk)
            if held < capture.body_cap:
                kept.append(chunk[: capture.body_cap - held])
                held += len(kept[-1])
            yield chunk
    except BaseException as exc:
        error = f"stream ended early: {exc.__class__.__name__}"
        raise
    finally:
        finish(capture, row, status, headers, b"".join(kept), size, error)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")

