"""Turning mitmproxy flows into `InterceptedRequest` rows: masked, capped, timed.

The capture addon calls these at each hook. Only cheap work happens inside a hook (the hook
runs before the flow is forwarded, so its cost is added to every proxied request): the row goes
into the ring at once, in flight, with masked headers, sizes and a host/path detection.
The expensive part — masking, capping and encoding bodies (~0.3-0.5 ms for 100 KB), parsing
JSON (~0.1 ms), the context key, merging a stream — is deferred with ``loop.call_later`` so it
runs after the request was handed on (request body: once the response is in, or after
``REQUEST_FILL_DELAY`` while a slow upstream is still working) and after the response was
relayed (``DEFER_DELAY``). Each step updates the row in the ring.

Streamed responses are teed chunk by chunk into a bounded buffer while they are relayed, then
merged into one final message.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mitmproxy import connection, http

from omniroute.inspector.conversation import context_key, system_prompt
from omniroute.inspector.detect import detect
from omniroute.inspector.masking import Masker
from omniroute.inspector.merge import merge_stream
from omniroute.inspector.model import ERROR, InterceptedRequest, encode_body
from omniroute.inspector.ring import Ring

STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/vnd.amazon.eventstream")
RowSink = Callable[[InterceptedRequest], None]
# A request body still unprocessed this long after the request is filled in while the upstream
# works; fast calls never hit it (their response does the work, after it was relayed).
REQUEST_FILL_DELAY = 0.05
# Response-side work waits this long: measured, work scheduled with call_soon from the response
# hook still ran before the client had the whole response (+2-5 ms per 100 KB call on a loaded
# machine); 5 ms later it no longer shows in the call's latency.
DEFER_DELAY = 0.005


def is_stream_response(response: http.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return any(kind in content_type for kind in STREAM_TYPES)


class StreamTee:
    """A `flow.response.stream` callable: relays every chunk, keeps the first `cap` bytes."""

    __slots__ = ("cap", "chunks", "first_byte_at", "kept", "size")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.size = 0
        self.kept = 0
        self.first_byte_at: float | None = None

    def __call__(self, chunk: bytes) -> bytes:
        if chunk:
            if self.first_byte_at is None:
                self.first_byte_at = time.time()
            self.size += len(chunk)
            if self.kept < self.cap:
                piece = chunk[: self.cap - self.kept]
                self.chunks.append(piece)
                self.kept += len(piece)
        return chunk

    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass(slots=True)
class Pending:
    """A captured flow whose deferred work is not done yet (kept in ``flow.metadata``)."""

    row: InterceptedRequest
    raw: bytes | None  # the request body as received; dropped once processed
    timer: asyncio.TimerHandle | None = None
    filled: bool = False


def _loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # called outside the event loop (unit tests, tools): work inline
        return None


class Capture:
    def __init__(self, ring: Ring, masker: Masker, body_cap: int, sink: RowSink | None = None,
                 enabled: bool = True) -> None:
        self.enabled = enabled  # read by the capture addon; the `capture` mode pauses it
        self.ring = ring
        self.masker = masker
        self.body_cap = body_cap
        self.sink = sink  # recording sessions: completed rows are persisted there
        self.session_id: str | None = None  # the active recording session, if any
        self.session_profile: str | None = None  # llm | custom | all/None: what it records

    # -- hooks -----------------------------------------------------------------------------
    def request(self, flow: http.HTTPFlow, source: str, agent: str | None) -> Pending:
        """Hot path: an in-flight row with masked headers; bodies are filled in later."""
        request = flow.request
        raw = request.raw_content
        host = request.pretty_host
        path, _, query = request.path.partition("?")
        # Without the body: host and path rules only (a body scan is deferred work).
        detection = detect(host, request.method, path)
        row = InterceptedRequest(
            id=flow.id,
            source=source,
            method=request.method,
            host=host,
            path=path,
            started_at=request.timestamp_start,
            agent=agent,
            request_headers=self.masker.mask_headers(request.headers.items(multi=True)),
            request_size=len(raw or b""),
            detected_kind=detection.kind,
            session_id=self.session_id,
            scheme=request.scheme,
            port=request.port,
            query=self.masker.mask_url("?" + query)[1:] if query else "",
            http_version=request.http_version,
            wire_format=detection.wire_format,
            request_end_at=request.timestamp_end,
        )
        self.ring.add(row)
        pending = Pending(row, raw)
        loop = _loop()
        if loop is None:
            self._fill_request(pending, publish=False)
        elif raw:
            pending.timer = loop.call_later(REQUEST_FILL_DELAY, self._fill_request, pending)
        else:
            pending.filled = True
        return pending

    def attribute(self, row: InterceptedRequest, meta: dict[str, Any] | None) -> None:
        """Agent, models and routing note from the AgentBridge's decision."""
        if not meta:
            return
        row.agent = meta.get("agent") or row.agent
        row.source_model = meta.get("sourceModel")
        row.mapped_model = meta.get("mappedModel")
        row.note = meta.get("note")
        row.wire_format = meta.get("wireFormat") or row.wire_format

    def response(self, flow: http.HTTPFlow, pending: Pending, tee: StreamTee | None) -> None:
        self._later(self._complete_response, flow, pending, tee)

    def error(self, flow: http.HTTPFlow, pending: Pending, tee: StreamTee | None = None) -> None:
        if flow.response is not None:
            # The answer had started (often: the client closed right after the last event):
            # keep its status and what arrived; `error` says how the exchange ended.
            self._later(self._complete_interrupted, flow, pending, tee)
        else:
            self._later(self._complete_error, flow, pending)

    def tunnel(self, client: connection.Client, server: connection.Server, source: str) -> InterceptedRequest:
        """A bypassed TLS connection: host and timing only, never content."""
        started = client.timestamp_start
        ended = client.timestamp_end or time.time()
        host = server.sni or (server.address[0] if server.address else "?")
        row = InterceptedRequest(
            id=client.id,
            source=source,
            method="CONNECT",
            host=host,
            path="",
            started_at=started,
            status=200,
            total_latency_ms=round((ended - started) * 1000, 2),
            detected_kind=detect(host, "CONNECT", "").kind,
            session_id=self.session_id,
            note="TLS tunnel: bypassed, not decrypted",
            port=server.address[1] if server.address else None,
            response_end_at=ended,
        )
        self.ring.add(row)
        self._finish(row)
        return row

    # -- deferred work ---------------------------------------------------------------------
    @staticmethod
    def _later(fn: Callable[..., None], *args: Any) -> None:
        loop = _loop()
        if loop is None:
            fn(*args)
        else:
            # After the hook returns mitmproxy relays the response (and its last bytes); then this.
            loop.call_later(DEFER_DELAY, fn, *args)

    def _body(self, raw: bytes | None) -> tuple[str | None, str, bool]:
        return self._masked_body(raw)[:3]  # type: ignore[return-value]

    def _masked_body(self, raw: bytes | None) -> tuple[str | None, str, bool, bytes]:
        """(stored text, encoding, truncated, masked bytes) — the bytes for stream merging."""
        if not raw:
            return None, "text", False, b""
        # Mask before the cut (encode_body caps): a cut must not leave an unmaskable fragment.
        masked = self.masker.mask_bytes(raw[: self.body_cap + 1])
        return (*encode_body(masked, self.body_cap), masked)

    def _fill_request(self, pending: Pending, publish: bool = True) -> None:
        if pending.filled:
            return
        pending.filled = True
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None
        raw, pending.raw = pending.raw, None
        row = pending.row
        text, encoding, truncated = self._body(raw)
        row.request_body = text
        row.request_body_encoding = encoding  # type: ignore[assignment]
        row.request_truncated = truncated
        # One JSON parse serves detection (format, stream flag: no regex scan of the body) and
        # the context key.
        parsed = _json(raw) if raw and (row.wire_format or row.method == "POST") else None
        detection = detect(row.host, row.method, row.path, row.request_headers,
                           parsed if isinstance(parsed, dict) else raw)
        row.detected_kind = detection.kind
        row.wire_format = row.wire_format or detection.wire_format
        row.stream = row.stream or detection.stream
        if isinstance(parsed, dict) and row.wire_format:
            row.context_key = context_key(system_prompt(parsed, row.wire_format))
        if publish:
            self.ring.update(row)

    def _complete_response(self, flow: http.HTTPFlow, pending: Pending, tee: StreamTee | None) -> None:
        self._fill_request(pending, publish=False)
        row, response = pending.row, flow.response
        if response is None:  # replaced by an error since the hook
            self._complete_error(flow, pending)
            return
        raw = tee.body() if tee is not None else response.raw_content
        size = tee.size if tee is not None else len(raw or b"")
        body_text, encoding, truncated, masked = self._masked_body(raw)
        row.status = response.status_code
        row.reason = response.reason
        row.response_headers = self.masker.mask_headers(response.headers.items(multi=True))
        row.response_body = body_text
        row.response_body_encoding = encoding  # type: ignore[assignment]
        row.response_truncated = truncated or (tee is not None and tee.size > tee.kept)
        row.response_size = size
        row.response_start_at = (tee.first_byte_at if tee and tee.first_byte_at else response.timestamp_start)
        row.response_end_at = response.timestamp_end or time.time()
        if tee is not None and raw:
            row.stream = True
            row.merged = merge_stream(masked, row.wire_format).to_dict()  # masked once, above
        self._timings(flow, row)
        self._finish(row)

    def _complete_interrupted(self, flow: http.HTTPFlow, pending: Pending, tee: StreamTee | None) -> None:
        pending.row.error = self.masker.mask_text(flow.error.msg if flow.error else "connection closed")
        self._complete_response(flow, pending, tee)

    def _complete_error(self, flow: http.HTTPFlow, pending: Pending) -> None:
        self._fill_request(pending, publish=False)
        row = pending.row
        row.status = ERROR
        row.error = self.masker.mask_text(flow.error.msg if flow.error else "connection failed")
        row.response_end_at = (flow.error.timestamp if flow.error else None) or time.time()
        self._timings(flow, row)
        self._finish(row)

    # -- internals -------------------------------------------------------------------------
    def _timings(self, flow: http.HTTPFlow, row: InterceptedRequest) -> None:
        """total = client's first byte → last response byte; upstream = while we waited on the server."""
        end = row.response_end_at or time.time()
        total = (end - row.started_at) * 1000
        row.total_latency_ms = round(total, 2)
        sent = flow.request.timestamp_end or row.started_at
        if flow.response is not None:
            upstream = (end - sent) * 1000
            row.upstream_latency_ms = round(upstream, 2)
            row.proxy_latency_ms = round(max(total - upstream, 0.0), 2)

    def records(self, row: InterceptedRequest) -> bool:
        """Whether the active session's profile keeps this row."""
        profile = self.session_profile
        if profile == "llm":
            return row.detected_kind == "llm"
        if profile == "custom":
            return row.source == "custom-host"
        return True

    def _finish(self, row: InterceptedRequest) -> None:
        self.ring.update(row)
        if self.sink is not None and row.session_id is not None and self.records(row):
            self.sink(row)


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
