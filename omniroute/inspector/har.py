"""HAR 1.2 export built on mitmproxy's own ``SaveHar.make_har``.

Rows become real ``mitmproxy.http.HTTPFlow`` objects (``row_to_flow``, also used by the flow
filter) with the captured timestamps, so mitmproxy's entry builder computes timings, sizes,
cookies, query strings and base64 for binary bodies exactly as ``save.har`` does. On top we add
what mitmproxy cannot know:

- ``_source``, ``_agent``, ``_contextKey``, ``_sourceModel``, ``_mappedModel``, ``_annotation``
  (plus ``_id``, ``_detectedKind``, ``_sessionId``, ``_note``) on each entry;
- creator ``OmniRoute``;
- bodies we stored truncated keep their original size in ``content.size`` / ``bodySize`` and
  get ``_truncated``;
- in-flight rows (no response): mitmproxy writes ``content: {}``, which HAR 1.2 rejects
  (``size`` and ``mimeType`` are required), so we fill those two fields;
- binary request bodies: ``postData`` has no ``encoding`` in HAR 1.2, and mitmproxy would write
  the bytes as lossy text; we write base64 and mark it with ``_encoding``.

Rows are masked at capture, so everything here is masked data only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mitmproxy import connection, http
from mitmproxy.addons.savehar import SaveHar
from mitmproxy.flow import Error

import omniroute
from omniroute.inspector.model import InterceptedRequest

# The rows' bodies are stored decoded: a Content-Encoding header left in place would make
# mitmproxy (and every HAR reader) try to gunzip plain text.
_DROP = frozenset({"content-encoding", "transfer-encoding"})
_EXTRAS = (("_source", "source"), ("_agent", "agent"), ("_contextKey", "context_key"),
           ("_sourceModel", "source_model"), ("_mappedModel", "mapped_model"),
           ("_annotation", "annotation"), ("_id", "id"), ("_detectedKind", "detected_kind"),
           ("_sessionId", "session_id"), ("_note", "note"))


def _fields(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    out: list[tuple[bytes, bytes]] = []
    for name, value in headers.items():
        if name.lower() in _DROP:
            continue
        # mask_headers joins repeated Set-Cookie headers with newlines: split them back.
        for v in value.split("\n") if name.lower() == "set-cookie" else (value,):
            out.append((name.encode("utf-8", "surrogateescape"),
                        v.encode("utf-8", "surrogateescape")))
    return tuple(out)


def row_to_flow(row: InterceptedRequest) -> http.HTTPFlow:
    """A real mitmproxy flow carrying a row's (masked) data and timestamps."""
    start = row.started_at
    req_end = row.request_end_at or start
    client = connection.Client(peername=("127.0.0.1", 0), sockname=("127.0.0.1", 0),
                               timestamp_start=start)
    server = connection.Server(address=(row.host, row.port or (443 if row.scheme == "https"
                                                                 else 80)))
    if row.server_ip:
        server.peername = (row.server_ip, row.port or 443)
    flow = http.HTTPFlow(client, server)
    path = row.path + (f"?{row.query}" if row.query else "")
    port = row.port or (443 if row.scheme == "https" else 80)
    # A CONNECT (bypassed tunnel) row is authority-form: mitmproxy builds its URL from that.
    authority = f"{row.host}:{port}".encode() if row.method == "CONNECT" else b""
    flow.request = http.Request(
        host=row.host, port=port,
        method=row.method.encode(), scheme=row.scheme.encode(), authority=authority,
        path=path.encode("utf-8", "surrogateescape"), http_version=row.http_version.encode(),
        headers=http.Headers(_fields(row.request_headers)),
        content=row.body_bytes("request"), trailers=None,
        timestamp_start=start, timestamp_end=max(req_end, start))
    if isinstance(row.status, int):
        resp_start = max(row.response_start_at or req_end, req_end)
        resp_end = max(row.response_end_at or resp_start, resp_start)
        flow.response = http.Response(
            http_version=row.http_version.encode(), status_code=row.status,
            reason=(row.reason or http.status_codes.RESPONSES.get(row.status, "")).encode(),
            headers=http.Headers(_fields(row.response_headers)),
            content=row.body_bytes("response"), trailers=None,
            timestamp_start=resp_start, timestamp_end=resp_end)
    elif row.status == "error":
        flow.error = Error(row.error or "error", timestamp=row.response_end_at or req_end)
    flow.id = row.id
    if row.annotation:
        flow.comment = row.annotation
    return flow


def _entry(row: InterceptedRequest, flow: http.HTTPFlow, entry: dict[str, Any]) -> None:
    for key, attr in _EXTRAS:
        entry[key] = getattr(row, attr)
    resp = entry["response"]
    if flow.response is None:
        resp["content"] = {"size": 0, "mimeType": "x-unknown"}
        resp["_error"] = row.error if row.status == "error" else None
        resp["_status"] = row.status  # "in-flight" / "error": HAR's status 0 loses this
    elif row.response_truncated:
        resp["content"]["size"] = resp["bodySize"] = row.response_size
        resp["content"]["_truncated"] = True
    if row.stream and row.merged is not None:
        resp["_merged"] = row.merged
    post = entry["request"].get("postData")
    if post is not None:
        if row.request_body_encoding == "base64":
            post["text"] = row.request_body or ""
            post["_encoding"] = "base64"
        if row.request_truncated:
            entry["request"]["bodySize"] = row.request_size
            post["_truncated"] = True


def export_har(rows: Iterable[InterceptedRequest]) -> dict[str, Any]:
    """A HAR 1.2 document (dict) for the rows, in the order given."""
    rows = list(rows)
    flows = [row_to_flow(r) for r in rows]
    har = SaveHar().make_har(flows)
    for row, flow, entry in zip(rows, flows, har["log"]["entries"], strict=True):
        _entry(row, flow, entry)
    har["log"]["creator"] = {"name": "OmniRoute", "version": omniroute.__version__,
                             "comment": "built on mitmproxy's SaveHar"}
    return har


def har_bytes(rows: Iterable[InterceptedRequest]) -> bytes:
    # ASCII escapes keep lone surrogates from odd bodies valid JSON for every reader.
    return json.dumps(export_har(rows)).encode("ascii")

