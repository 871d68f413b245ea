"""The captured-request row: ``InterceptedRequest`` mirroring the OmniRoute API specification.

Public fields are the specification's ``InterceptedRequest`` (camelCase in ``to_dict``); internal fields
carry what HAR export and the detail view need (timestamps, HTTP version, query, body encoding,
truncation, the merged stream). A plain slotted dataclass keeps capture cheap: building one is a
handful of attribute stores.

Captured rows leave the fields derived from headers and bodies (``DEFERRABLE``) to a
``FieldSource`` that computes them when first read: masking and parsing a large body costs
more than a proxied call may spend on capture, and most rows are never read. An unset
slot is what makes Python call ``__getattr__``, so fields that hold a value are read at full speed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol


class DetectedKind(StrEnum):
    LLM = "llm"
    APP = "app"
    UNKNOWN = "unknown"


IN_FLIGHT = "in-flight"
ERROR = "error"
Status = int | Literal["in-flight", "error"]
BodyEncoding = Literal["text", "base64"]

DEFAULT_BODY_CAP = 1024 * 1024  # 1 MiB, the default


_SHARED: dict[str, str] = {}
_SHARED_MAX = 4096  # distinct strings remembered; the set restarts when full


def shared(text: str) -> str:
    """One instance of a string that repeats from row to row (method, scheme, host, path): a
    ring of thousands of rows would otherwise hold a copy per row."""
    known = _SHARED.get(text)
    if known is not None:
        return known
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()  # rows keep the instances they have; today's traffic refills it
    _SHARED[text] = text
    return text


def iso_timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def parse_timestamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


class FieldSource(Protocol):
    def fill(self, row: InterceptedRequest, name: str) -> Any:
        """The value of the unset field ``name`` (it may also store it on ``row``)."""


DEFERRABLE = frozenset({
    "agent", "request_headers", "response_headers", "request_body", "request_body_encoding", "request_truncated",
    "response_body", "response_body_encoding", "response_truncated", "merged",
    "detected_kind", "wire_format", "stream", "context_key",
})


@dataclass(slots=True)
class InterceptedRequest:
    id: str
    source: str
    method: str
    host: str
    path: str
    started_at: float  # epoch seconds of the request's first byte; ``timestamp`` derives from it
    agent: str | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    request_body: str | None = None
    request_size: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None
    response_size: int = 0
    status: Status = IN_FLIGHT
    proxy_latency_ms: float | None = None
    upstream_latency_ms: float | None = None
    total_latency_ms: float | None = None
    error: str | None = None
    source_model: str | None = None
    mapped_model: str | None = None
    detected_kind: str = DetectedKind.UNKNOWN.value
    context_key: str | None = None
    annotation: str | None = None
    session_id: str | None = None
    note: str | None = None
    # ---- internal: HAR export, detail view, filters ----
    scheme: str = "https"
    port: int | None = None
    query: str = ""  # masked query string without the leading "?"
    http_version: str = "HTTP/1.1"
    reason: str = ""  # response status text
    request_body_encoding: BodyEncoding = "text"
    response_body_encoding: BodyEncoding = "text"
    request_truncated: bool = False
    response_truncated: bool = False
    wire_format: str | None = None
    stream: bool = False
    merged: dict[str, Any] | None = None  # merged streamed response (merge.MergeResult.to_dict)
    request_end_at: float | None = None
    response_start_at: float | None = None
    response_end_at: float | None = None
    server_ip: str | None = None
    deferred: FieldSource | None = field(default=None, repr=False, compare=False)

    def __getattr__(self, name: str) -> Any:
        # Only reached for an unset slot: a field left to ``deferred`` until now.
        if name in DEFERRABLE and self.deferred is not None:
            return self.deferred.fill(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def defer(self, source: FieldSource, names: Iterable[str]) -> None:
        """Leave ``names`` unset: ``source`` computes each when it is first read."""
        self.deferred = source
        for name in names:
            try:
                _SLOTS[name].__delete__(self)
            except AttributeError:  # deferred already
                pass

    def holds(self, name: str) -> bool:
        """Whether field ``name`` has a value of its own (a deferred one has none yet)."""
        try:
            _SLOTS[name].__get__(self, InterceptedRequest)
        except AttributeError:
            return False
        return True

    @property
    def timestamp(self) -> str:
        return iso_timestamp(self.started_at)

    @property
    def url(self) -> str:
        default = 443 if self.scheme == "https" else 80
        authority = self.host if self.port in (None, default) else f"{self.host}:{self.port}"
        return f"{self.scheme}://{authority}{self.path}" + (f"?{self.query}" if self.query else "")

    @property
    def status_class(self) -> str:
        """``2xx``..``5xx``, or the status string itself (``in-flight`` / ``error``)."""
        return f"{self.status // 100}xx" if isinstance(self.status, int) else self.status

    def body_bytes(self, which: Literal["request", "response"]) -> bytes:
        """The stored (masked, possibly truncated) body as bytes, decoding base64 bodies."""
        text, enc = ((self.request_body, self.request_body_encoding) if which == "request"
                     else (self.response_body, self.response_body_encoding))
        if not text:
            return b""
        return base64.b64decode(text) if enc == "base64" else text.encode("utf-8", "surrogatepass")

    def to_dict(self, *, internal: bool = False) -> dict[str, Any]:
        """The JSON object of the OmniRoute API specification; ``internal=True`` adds HAR/detail fields."""
        out: dict[str, Any] = {
            "id": self.id, "source": self.source, "agent": self.agent,
            "timestamp": self.timestamp, "method": self.method, "host": self.host,
            "path": self.path, "requestHeaders": self.request_headers,
            "requestBody": self.request_body, "requestSize": self.request_size,
            "responseHeaders": self.response_headers, "responseBody": self.response_body,
            "responseSize": self.response_size, "status": self.status,
            "proxyLatencyMs": self.proxy_latency_ms,
            "upstreamLatencyMs": self.upstream_latency_ms,
            "totalLatencyMs": self.total_latency_ms, "error": self.error,
            "sourceModel": self.source_model, "mappedModel": self.mapped_model,
            "detectedKind": self.detected_kind, "contextKey": self.context_key,
            "annotation": self.annotation, "sessionId": self.session_id, "note": self.note,
        }
        if internal:
            out.update({
                "scheme": self.scheme, "port": self.port, "query": self.query,
                "httpVersion": self.http_version, "reason": self.reason,
                "requestBodyEncoding": self.request_body_encoding,
                "responseBodyEncoding": self.response_body_encoding,
                "requestTruncated": self.request_truncated,
                "responseTruncated": self.response_truncated,
                "wireFormat": self.wire_format, "stream": self.stream, "merged": self.merged,
                "startedAt": self.started_at, "requestEndAt": self.request_end_at,
                "responseStartAt": self.response_start_at,
                "responseEndAt": self.response_end_at, "serverIp": self.server_ip,
            })
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InterceptedRequest:
        """Inverse of ``to_dict`` (either form); used by ingest and the database layer."""
        started = data.get("startedAt")
        if started is None:
            started = parse_timestamp(str(data["timestamp"]))
        status = data.get("status", IN_FLIGHT)
        if isinstance(status, str) and status.isdigit():
            status = int(status)
        kwargs: dict[str, Any] = {"started_at": float(started), "status": status}
        for key, attr in _CAMEL_TO_ATTR.items():
            if key in data and key not in ("status", "startedAt"):
                kwargs[attr] = data[key]
        for attr in ("request_headers", "response_headers"):
            kwargs[attr] = {str(k): str(v) for k, v in (kwargs.get(attr) or {}).items()}
        return cls(**kwargs)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


_ATTR_OVERRIDES = {"started_at": "startedAt", "server_ip": "serverIp"}
_CAMEL_TO_ATTR = {
    _ATTR_OVERRIDES.get(a, _camel(a)): a
    for a in InterceptedRequest.__dataclass_fields__  # type: ignore[attr-defined]
    if a != "deferred"
}
_SLOTS = {a: InterceptedRequest.__dict__[a] for a in DEFERRABLE}  # the slots' descriptors


def encode_body(raw: bytes | None,
                cap: int = DEFAULT_BODY_CAP) -> tuple[str | None, BodyEncoding, bool]:
    """Stored form of a decoded body: ``(text, encoding, truncated)``.

    Text when it decodes as UTF-8 (cut at ``cap`` bytes on a character boundary), base64 for
    binary. Mask *before* calling this (masking.mask_bytes) so a cut never splits a secret into
    an unmaskable fragment.
    """
    if raw is None:
        return None, "text", False
    truncated = len(raw) > cap
    if truncated:
        raw = raw[:cap]
    try:
        return raw.decode("utf-8"), "text", truncated
    except UnicodeDecodeError as e:
        # A cut in the middle of a multi-byte character is still text: drop the partial tail.
        if truncated and e.start >= len(raw) - 3 and e.reason == "unexpected end of data":
            return raw[:e.start].decode("utf-8", "replace"), "text", truncated
    # The bytes decide, not Content-Type: a lying header must not corrupt a binary body.
    return base64.b64encode(raw).decode("ascii"), "base64", truncated
