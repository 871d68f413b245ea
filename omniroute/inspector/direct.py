"""Inspector rows for calls mitmproxy never sees, made to our API itself: a direct agent call
(an agent whose settings point at our API, source ``direct``), a plain ``/v1`` client's call
(source ``api``, while ``Capture.api_calls`` is on) and a replay (source ``replay``, noted as
the replay of its row).

The row is built from the ASGI request when the call starts and completed when its reply ends
(after the last streamed byte). Headers and bodies are kept as received and masked when first
read, as captured ones are (``deferred.DeferredFields``): a call nobody inspects pays for
neither masking nor copies.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Mapping

from starlette.datastructures import URL
from starlette.requests import Request

from omniroute.engine.errors import EngineError
from omniroute.inspector.bodies import StoredBody
from omniroute.inspector.capture import Capture
from omniroute.inspector.deferred import DeferredFields
from omniroute.inspector.model import ERROR, InterceptedRequest, shared
from omniroute.translate.errors import client_error_body

DIRECT = "direct"
API = "api"
REPLAY = "replay"


def start(capture: Capture, request: Request, body: bytes, *, request_id: str, agent: str | None, wire_format: str,
          stream: bool, source_model: str, mapped_model: str | None, source: str = DIRECT,
          note: str | None = None) -> InterceptedRequest | None:
    if not capture.enabled or (source == API and not capture.api_calls):
        return None
    scheme, host, port, path, query = _url_parts(request)
    masker = capture.masker
    row = InterceptedRequest(
        id=request_id, source=source, method=shared(request.method), host=host, path=path,
        started_at=time.time(), agent=agent, request_size=len(body),
        detected_kind="llm", session_id=capture.session_id, scheme=scheme, port=port,
        query=masker.mask_url("?" + query)[1:] if query else "",
        wire_format=wire_format, stream=stream, source_model=source_model, mapped_model=mapped_model,
        note=note or (None if mapped_model or source != DIRECT else "unmapped"),
    )
    row.request_end_at = row.started_at
    fields = DeferredFields(masker)
    fields.add_request_headers(row, tuple(request.headers.raw))  # a copy of the scope's list, not a view
    fields.add_request_body(row, StoredBody(body, capture.body_cap, masker) if body else None, analysis=False)
    capture.ring.add(row)
    return row


def finish(capture: Capture, row: InterceptedRequest, status: int, headers: Mapping[str, str],
           body: bytes, size: int, error: str | None = None, *, streamed: bool = False) -> None:
    now = time.time()
    masker = capture.masker
    fields = row.deferred if isinstance(row.deferred, DeferredFields) else DeferredFields(masker)
    row.status = status if status else ERROR
    row.response_size = size
    fields.add_response(row, headers, StoredBody(body, capture.body_cap, masker) if body else None,
                        streamed=streamed, cut=size > capture.body_cap)
    row.response_end_at = now
    row.total_latency_ms = round((now - row.started_at) * 1000, 2)
    if error:
        row.error = masker.mask_text(error)
    capture.finish(row)
    fields.pack(row)  # after watchers' events: those mask, and the masked bytes are packed


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
        finish(capture, row, status, headers, b"".join(kept), size, error, streamed=True)


def _url_parts(request: Request) -> tuple[str, str, int | None, str, str]:
    """Scheme, host, port, path and query of the request's URL, as Starlette's ``URL`` reads
    them from the scope; all but the query remembered, since every call to one endpoint asks
    the same (the query may carry a key: it is not kept past the call)."""
    scope = request.scope
    server = scope.get("server")
    scheme, host, port, path = _parse_url(scope.get("scheme", "http"), tuple(server) if server else None,
                                          request.headers.get("host"), scope["path"])
    return scheme, host, port, path, scope.get("query_string", b"").decode("utf-8", "replace")


@functools.lru_cache(maxsize=512)
def _parse_url(scheme: str, server: tuple[str, int] | None, host: str | None,
               path: str) -> tuple[str, str, int | None, str]:
    url = URL(scope={"scheme": scheme, "server": server, "path": path, "query_string": b"",
                     "headers": [(b"host", host.encode("latin-1"))] if host else []})
    return url.scheme, url.hostname or "", url.port, url.path
