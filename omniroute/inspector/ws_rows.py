"""Inspector rows for the responses of a Responses WebSocket: one row per ``response.create``.

mitmproxy sees the session as one flow (the 101 upgrade); each response sent on it is a model
call of its own, so the API that answers it records a row for it, errors included: method
``WS``, the session's host and path, the frame as request body and the events sent back (one
JSON object a line) as response body, masked and capped as captured bodies are.
"""

from __future__ import annotations

import time

from starlette.websockets import WebSocket

from omniroute.engine.calls import Origin, new_request_id
from omniroute.inspector import direct
from omniroute.inspector.capture import Capture
from omniroute.inspector.model import InterceptedRequest

METHOD = "WS"


class ResponseRow:
    """The row of one response on the socket; ``event`` keeps what was sent, ``close`` ends it."""

    __slots__ = ("_capture", "_failed", "_held", "_kept", "_row", "_size")

    def __init__(self, capture: Capture, ws: WebSocket, origin: Origin, frame: str, *, model: str | None,
                 mapped: str | None) -> None:
        self._capture, self._kept, self._held, self._size, self._failed = capture, [], 0, 0, False
        masker, cap, data = capture.masker, capture.body_cap, frame.encode()
        url = ws.url
        row = InterceptedRequest(
            id=new_request_id(), source=origin.source, method=METHOD, host=origin.original_host or url.hostname or "",
            path=url.path, started_at=time.time(), agent=origin.agent,
            request_headers=masker.mask_headers(ws.headers.items()),
            request_body=masker.mask_bytes(data[:cap]).decode("utf-8", "replace"), request_size=len(data),
            request_truncated=len(data) > cap, detected_kind="llm", session_id=capture.session_id,
            scheme="wss" if url.scheme in ("wss", "https") else "ws", port=url.port,
            wire_format="openai-responses", stream=True, source_model=model, mapped_model=mapped,
            note=None if mapped or origin.agent is None else "unmapped",
        )
        row.request_end_at = row.started_at
        capture.ring.add(row)
        self._row = row

    def event(self, text: str) -> None:
        if self._row.response_start_at is None:
            self._row.response_start_at = time.time()
        # an upstream failure inside a stream whose status was already 200
        head = text[:48].replace(" ", "")
        self._failed = self._failed or head.startswith('{"type":"error"') or '"type":"response.failed"' in head
        data = text.encode() + b"\n"
        self._size += len(data)
        if self._held < self._capture.body_cap:
            self._kept.append(data[: self._capture.body_cap - self._held])
            self._held += len(self._kept[-1])

    def close(self, status: int, error: str | None = None) -> None:
        if error is None and self._failed:
            error = "the response failed: see its events"
        direct.finish(self._capture, self._row, status, {"content-type": "application/json"},
                      b"".join(self._kept), self._size, error)


def start(capture: Capture, ws: WebSocket, origin: Origin, frame: str, *, model: str | None = None,
          mapped: str | None = None) -> ResponseRow | None:
    return ResponseRow(capture, ws, origin, frame, model=model, mapped=mapped) if capture.enabled else None
