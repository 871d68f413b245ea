"""Turning mitmproxy flows into `InterceptedRequest` rows: masked, capped, timed.

The capture addon calls these at each hook. A hook runs before the flow is forwarded, so its
cost is added to every proxied request: it does O(1) work. The row goes into the ring at once,
in flight, with sizes and a host/path detection; headers and body are kept as mitmproxy holds
them (references, no copies). The response hook only schedules the rest, which runs after the
response was relayed (``DEFER_DELAY``) and is O(1) again: status, timings, references to the
response's headers and body. Everything else — masking, JSON parsing, the context key, merging
a stream, naming the agent — is done when a field is first read (``deferred.DeferredFields``); finished bodies are
compressed by a background thread (``bodies.StoredBody``). Watchers still get live updates: an
``update`` event after ``REQUEST_FILL_DELAY`` while a slow upstream works, and on completion.

Streamed responses are teed chunk by chunk into a bounded buffer while they are relayed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mitmproxy import connection, http

from omniroute.inspector.bodies import StoredBody
from omniroute.inspector.deferred import DeferredFields
from omniroute.inspector.detect import detect
from omniroute.inspector.masking import Masker
from omniroute.inspector.model import ERROR, InterceptedRequest, shared
from omniroute.inspector.ring import Ring

STREAM_TYPES = ("text/event-stream", "application/x-ndjson", "application/vnd.amazon.eventstream")
RowSink = Callable[[InterceptedRequest], None]
# Watchers (live-event subscribers) get an `update` with the request body this long into a call
# still waiting on its upstream; fast calls never hit it (their completion publishes the row).
REQUEST_FILL_DELAY = 0.05
# Response-side work waits this long: measured, work scheduled with call_soon from the response
# hook still ran before the client had the whole response; 5 ms later it no longer shows in the
# call's latency (and watchers' events, which mask bodies, are built then).
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
        joined = b"".join(self.chunks)
        self.chunks = [joined]  # one copy, not the chunks and their join
        return joined


@dataclass(slots=True)
class Pending:
    """A captured flow not completed yet (kept in ``flow.metadata``)."""

    row: InterceptedRequest
    fields: DeferredFields
    timer: asyncio.TimerHandle | None = None  # publishes the request body to watchers


def _loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # called outside the event loop (unit tests, tools): work inline
        return None


class Capture:
    def __init__(self, ring: Ring, masker: Masker, body_cap: int, sink: RowSink | None = None,
                 enabled: bool = True, api_calls: bool = True) -> None:
        self.enabled = enabled  # read by the capture addon; the `capture` mode pauses it
        self.api_calls = api_calls  # rows for calls made straight to /v1 (inspector/direct.py)
        self.ring = ring
        self.masker = masker
        self.body_cap = body_cap
        self.sink = sink  # recording sessions: completed rows are persisted there
        self.session_id: str | None = None  # the active recording session, if any
        self.session_profile: str | None = None  # llm | custom | all/None: what it records

    # -- hooks -----------------------------------------------------------------------------
    def request(self, flow: http.HTTPFlow, source: str, agent: str | None = None, *,
                identify: Callable[[], str | None] | None = None) -> Pending:
        """Hot path: an in-flight row; headers and body are kept as they are. ``identify``
        names the agent if the row is read before ``attribute`` does."""
        request = flow.request
        raw = request.raw_content
        host = shared(request.pretty_host)
        path, _, query = request.path.partition("?")
        path = shared(path)
        # Host and path only: the body's shape and the Accept header are read when needed.
        detection = detect(host, request.method, path)
        row = InterceptedRequest(
            id=flow.id,
            source=source,
            method=shared(request.method),
            host=host,
            path=path,
            started_at=request.timestamp_start,
            agent=agent,
            request_size=len(raw or b""),
            detected_kind=detection.kind,
            session_id=self.session_id,
            scheme=shared(request.scheme),
            port=request.port,
            query=self.masker.mask_url("?" + query)[1:] if query else "",
            http_version=shared(request.http_version),
            wire_format=detection.wire_format,
            stream=detection.stream,
            request_end_at=request.timestamp_end,
        )
        pending = Pending(row, DeferredFields(self.masker))
        pending.fields.add_request_headers(row, request.headers.fields, None if agent else identify)
        self.ring.add(row)  # the `new` event: no body yet, so watchers never mask one here
        body = StoredBody(raw, self.body_cap, self.masker) if raw else None
        pending.fields.add_request_body(row, body)
        loop = _loop()
        if body is not None and loop is not None and self.ring.watched:
            pending.timer = loop.call_later(REQUEST_FILL_DELAY, self._publish_request, pending)
        return pending

    def attribute(self, row: InterceptedRequest, meta: dict[str, Any] | None) -> None:
        """Agent, models and routing note from the AgentBridge's decision."""
        if not meta:
            return
        if meta.get("agent"):  # only set: reading a deferred agent would identify it here
            row.agent = meta["agent"]
        row.source_model = meta.get("sourceModel")
        row.mapped_model = meta.get("mappedModel")
        row.note = meta.get("note")
        if meta.get("wireFormat"):  # only set: reading a deferred format would parse the body here
            row.wire_format = meta["wireFormat"]

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
        self.finish(row)
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

    def _publish_request(self, pending: Pending) -> None:
        pending.timer = None
        self.ring.update(pending.row)

    def _request_done(self, pending: Pending) -> None:
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None

    def _complete_response(self, flow: http.HTTPFlow, pending: Pending, tee: StreamTee | None) -> None:
        self._request_done(pending)
        row, response = pending.row, flow.response
        if response is None:  # replaced by an error since the hook
            self._complete_error(flow, pending)
            return
        raw = tee.body() if tee is not None else response.raw_content
        row.status = response.status_code
        row.reason = shared(response.reason)
        row.response_size = tee.size if tee is not None else len(raw or b"")
        row.response_start_at = (tee.first_byte_at if tee and tee.first_byte_at else response.timestamp_start)
        row.response_end_at = response.timestamp_end or time.time()
        if tee is not None and raw:
            row.stream = True
        body = StoredBody(raw, self.body_cap, self.masker) if raw else None
        pending.fields.add_response(row, response.headers.fields, body, streamed=tee is not None,
                                    cut=tee is not None and tee.size > tee.kept)
        self._timings(flow, row)
        self.finish(row)
        pending.fields.pack(row)  # after watchers' events: those mask, and the masked bytes are packed

    def _complete_interrupted(self, flow: http.HTTPFlow, pending: Pending, tee: StreamTee | None) -> None:
        pending.row.error = self.masker.mask_text(flow.error.msg if flow.error else "connection closed")
        self._complete_response(flow, pending, tee)

    def _complete_error(self, flow: http.HTTPFlow, pending: Pending) -> None:
        self._request_done(pending)
        row = pending.row
        row.status = ERROR
        row.error = self.masker.mask_text(flow.error.msg if flow.error else "connection failed")
        row.response_end_at = (flow.error.timestamp if flow.error else None) or time.time()
        self._timings(flow, row)
        self.finish(row)
        pending.fields.pack(row)

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

    def finish(self, row: InterceptedRequest) -> None:
        self.ring.update(row)
        if self.sink is not None and row.session_id is not None and self.records(row):
            self.sink(row)

