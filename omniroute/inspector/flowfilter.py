"""mitmproxy flow-filter expressions (``~d api.openai.com & ~c 429``) over captured rows.

mitmproxy's own parser and filter classes do the work, so every operator behaves as users know
it from mitmweb. Its filters need real ``HTTPFlow`` objects (several check ``isinstance``), so a
row is turned into one with ``har.row_to_flow`` when it is evaluated.

Why at query time rather than on the live flow at capture: the expression is only known when
someone asks, and keeping live flows would pin unmasked bodies in memory.

Speed: constructing a fresh ``HTTPFlow`` costs ~80-250 µs (mitmproxy type-checks every field of
``RequestData``/``ResponseData`` in ``__post_init__``). ``_FlowView`` builds one flow per
compiled filter and re-points its ``.data`` fields at each row instead: ~10-30 µs per row
including a 100 KB body (test_flowfilter.py prints both), i.e. ~10-30 ms for a 1000-row ring.
A compiled filter is therefore not re-entrant: use it from one thread at a time (the API
evaluates it synchronously).
"""

from __future__ import annotations

from collections.abc import Callable

from mitmproxy import flowfilter, http
from mitmproxy.flow import Error

from omniroute.inspector.har import _fields, row_to_flow
from omniroute.inspector.model import InterceptedRequest


class FlowFilterError(ValueError):
    """An invalid expression; the message is mitmproxy's (the API answers 400 with it)."""


def parse_filter(expr: str) -> flowfilter.TFilter:
    try:
        return flowfilter.parse(expr)
    except ValueError as e:
        detail = f" ({e.__cause__})" if e.__cause__ else ""
        raise FlowFilterError(f"{e}{detail}") from e


def compile_filter(expr: str) -> Callable[[InterceptedRequest], bool]:
    """A predicate over rows (fits ``ring.RingFilter(predicate=...)``)."""
    flt = parse_filter(expr)
    view = _FlowView()

    def predicate(row: InterceptedRequest) -> bool:
        return bool(flt(view.load(row)))

    predicate.pattern = expr  # type: ignore[attr-defined]
    return predicate


def matches(expr: str, row: InterceptedRequest) -> bool:
    return compile_filter(expr)(row)


class _FlowView:
    """One reusable HTTPFlow whose request/response data are swapped per row."""

    def __init__(self) -> None:
        seed = InterceptedRequest(id="view", source="", method="GET", host="localhost",
                                  path="/", started_at=0.0, status=200)
        self.flow = row_to_flow(seed)
        self.response = self.flow.response
        assert self.response is not None

    def load(self, row: InterceptedRequest) -> http.HTTPFlow:
        flow, req = self.flow, self.flow.request.data
        default_port = 443 if row.scheme == "https" else 80
        req.host, req.port = row.host, row.port or default_port
        req.method, req.scheme = row.method.encode(), row.scheme.encode()
        req.authority = f"{row.host}:{req.port}".encode() if row.method == "CONNECT" else b""
        path = row.path + (f"?{row.query}" if row.query else "")
        req.path = path.encode("utf-8", "surrogateescape")
        req.http_version = row.http_version.encode()
        req.headers = http.Headers(_fields(row.request_headers))
        req.content = row.body_bytes("request")
        req.timestamp_start = row.started_at
        req.timestamp_end = row.request_end_at or row.started_at
        flow.error = Error(row.error or "error") if row.status == "error" else None
        flow.comment = row.annotation or ""
        if isinstance(row.status, int):
            resp = self.response.data  # type: ignore[union-attr]
            resp.status_code = row.status
            resp.reason = (row.reason or http.status_codes.RESPONSES.get(row.status, "")).encode()
            resp.http_version = row.http_version.encode()
            resp.headers = http.Headers(_fields(row.response_headers))
            resp.content = row.body_bytes("response")
            flow.response = self.response
        else:
            flow.response = None
        return flow
