"""Turning mitmproxy flows into `InterceptedRequest` rows: masked, capped, timed.

The capture addon calls these at each hook; the row goes into the ring at once (in flight)
and is updated as the response arrives. Streamed responses are teed chunk by chunk into a
bounded buffer while they are relayed, then merged into one final message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
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


def is_stream_response(response: http.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return any(kind in content_type for kind in STREAM_TYPES)


class StreamTee:
    """A `flow.response.stream` callable: relays every chunk, keeps the first `cap` bytes."""

    __slots__ = ("cap", "chunks", "size", "kept", "first_byte_at")

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


class Capture:
    def __init__(self, ring: Ring, masker: Masker, body_cap: int, sink: RowSink | None = None) -> None:
        self.ring = ring
        self.masker = masker
        self.body_cap = body_cap
        self.sink = sink  # recording sessions: completed rows are persisted there
        self.session_id: str | None = None

    # -- rows ------------------------------------------------------------------------------
    def _body(self, raw: bytes | None) -> tuple[str | None, str, bool]:
        if not raw:
            return None, "text", False
        text, encoding, truncated = encode_body(self.masker.mask_bytes(raw[: self.body_cap + 1]), self.body_cap)
        return text, encoding, truncated

    def request(self, flow: http.HTTPFlow, source: str, agent: str | None) -> InterceptedRequest:
        request = flow.request
        raw = request.raw_content
        detection = detect(request.pretty_host, request.method, request.path, request.headers, raw)
        body_text, encoding, truncated = self._body(raw)
        path, _, query = request.path.partition("?")
        parsed = _json(raw) if detection.wire_format else None
        row = InterceptedRequest(
            id=flow.id,
            source=source,
            method=request.method,
            host=request.pretty_host,
            path=path,
            started_at=request.timestamp_start,
            agent=agent,
            request_headers=self.masker.mask_headers(request.headers.items(multi=True)),
            request_body=body_text,
            request_size=len(raw or b""),
            detected_kind=detection.kind,
            context_key=context_key(system_prompt(parsed, detection.wire_format)) if parsed else None,
            session_id=self.session_id,
            scheme=request.scheme,
            port=request.port,
            query=self.masker.mask_url("?" + query)[1:] if query else "",
            http_version=request.http_version,
            request_body_encoding=encoding,  # type: ignore[arg-type]
            request_truncated=truncated,
            wire_format=detection.wire_format,
            stream=detection.stream,
            request_end_at=request.timestamp_end,
        )
        self.ring.add(row)
        return row

    def attribute(self, row: InterceptedRequest, meta: dict[str, Any] | None) -> None:
        """Agent, models and routing note from the AgentBridge's decision."""
        if not meta:
            return
        row.agent = meta.get("agent") or row.agent
        row.source_model = meta.get("sourceModel")
        row.mapped_model = meta.get("mappedModel")
        row.note = meta.get("note")
        row.wire_format = meta.get("wireFormat") or row.wire_format

    def response(self, flow: http.HTTPFlow, row: InterceptedRequest, tee: StreamTee | None) -> None:
        response = flow.response
        assert response is not None
        raw = tee.body() if tee is not None else response.raw_content
        size = tee.size if tee is not None else len(raw or b"")
        body_text, encoding, truncated = self._body(raw)
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
            row.merged = merge_stream(self.masker.mask_bytes(raw), row.wire_format).to_dict()
        self._timings(flow, row)
        self._finish(row)

    def error(self, flow: http.HTTPFlow, row: InterceptedRequest) -> None:
        row.status = ERROR
        row.error = self.masker.mask_text(flow.error.msg if flow.error else "connection failed")
        row.response_end_at = time.time()
        self._timings(flow, row)
        self._finish(row)

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

    def _finish(self, row: InterceptedRequest) -> None:
        self.ring.update(row)
        if self.sink is not None and row.session_id is not None:
            self.sink(row)


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
