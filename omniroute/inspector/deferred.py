"""The fields of a captured row that are computed when first read.

Capture hooks hand over headers and bodies as mitmproxy holds them (header tuples are replaced,
never changed, when a later addon rewrites them, so a reference is a snapshot; ``StoredBody`` is a
reference too) and leave these fields unset on the row (``InterceptedRequest.defer``). The first
read masks the headers; the first read of a request-body field parses the body as received —
detection by body shape, the ``stream`` flag and the context key come from that one parse, before
masking could change a hashed system prompt — then masks it. Body texts are rebuilt from the
stored bytes on every read and never kept; the small fields are stored on the row once computed.
Once the flow is over, headers not yet read are kept as one ``marshal`` string (``pack``): a
tuple of byte pairs costs about four times its bytes in object headers, and a ring holds
thousands of rows.
The agent is named by the capture addon's ``identify`` only if the row is read before the
AgentBridge's decision names it. Values are exactly what eager processing gave.
"""

from __future__ import annotations

import json
import marshal
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mitmproxy import http

from omniroute.inspector.bodies import StoredBody, pack_later
from omniroute.inspector.conversation import context_key, system_prompt
from omniroute.inspector.detect import detect
from omniroute.inspector.masking import Masker
from omniroute.inspector.merge import merge_stream
from omniroute.inspector.model import InterceptedRequest, encode_body

HeaderFields = tuple[tuple[bytes, bytes], ...]  # mitmproxy's ``Headers.fields``
# What a row holds until its headers are read: mitmproxy's fields, an ASGI scope's raw list,
# a reply's dict, or any of those packed by ``marshal`` (C speed, exact for these types).
HeldHeaders = HeaderFields | list[tuple[bytes, bytes]] | Mapping[str, str] | bytes

REQUEST_BODY = ("request_body", "request_body_encoding", "request_truncated")
RESPONSE_BODY = ("response_body", "response_body_encoding", "response_truncated")
# From the request body's content: shape detection (only when host and path were silent) etc.
ANALYSIS = ("detected_kind", "wire_format", "stream", "context_key")


class DeferredFields:
    """A ``FieldSource`` for one captured row."""

    __slots__ = ("analyzed", "identify", "masker", "request", "request_headers", "response",
                 "response_cut", "response_headers")

    def __init__(self, masker: Masker) -> None:
        self.masker = masker
        self.identify: Callable[[], str | None] | None = None  # the agent, from host and UA
        self.request_headers: HeldHeaders = ()
        self.response_headers: HeldHeaders = ()
        self.request: StoredBody | None = None
        self.response: StoredBody | None = None
        self.response_cut = False  # a teed stream went on past the cap
        self.analyzed = False

    def add_request_headers(self, row: InterceptedRequest, headers: HeldHeaders,
                            identify: Callable[[], str | None] | None = None) -> None:
        self.request_headers = headers
        self.identify = identify
        row.defer(self, ["request_headers", "agent"] if identify is not None else ["request_headers"])

    def add_request_body(self, row: InterceptedRequest, body: StoredBody | None, analysis: bool = True) -> None:
        """After the row's `new` event: what the body (or, for ``stream``, Accept) decides.
        ``analysis=False``: the caller set the fields the body's content would decide."""
        names = [] if not analysis else ["context_key"] if row.stream else ["context_key", "stream"]
        if body is not None:
            self.request = body
            names += REQUEST_BODY
            if row.wire_format is None and row.method == "POST":
                names += ["detected_kind", "wire_format"]
        row.defer(self, names)

    def add_response(self, row: InterceptedRequest, headers: HeldHeaders, body: StoredBody | None,
                     streamed: bool, cut: bool) -> None:
        self.response_headers = headers
        self.response = body
        self.response_cut = cut
        names = ["response_headers"]
        if body is not None:
            names += [*RESPONSE_BODY, "merged"] if streamed else RESPONSE_BODY
        else:
            row.response_truncated = cut
        row.defer(self, names)

    def pack(self, row: InterceptedRequest) -> None:
        """Compact the row now that the flow is over: the bodies in the background, the headers
        into one string each, and the agent named if no decision did (the catalog remembers its
        answer per host and User-Agent), so the row stops holding ``identify`` and its strings."""
        identify = self.identify
        if identify is not None:
            if not row.holds("agent"):
                row.agent = identify()
            # Cleared after the agent is set: a reader on another thread sees one or the other.
            self.identify = None
        if self.request is not None and row.request_size > self.request.cap + 1:
            # Packing keeps the capped part only; detection and the context key read the whole.
            self._analyze(row)
        pack_later([body for body in (self.request, self.response) if body is not None])
        self.request_headers = _packed(self.request_headers)
        self.response_headers = _packed(self.response_headers)

    # -- FieldSource -------------------------------------------------------------------------
    def fill(self, row: InterceptedRequest, name: str) -> Any:
        identify = self.identify
        if name == "agent" and identify is not None:
            _fill(row, "agent", identify())
        if name == "request_headers" or name == "response_headers":
            held = getattr(self, name)
            if not held and row.holds(name):  # another thread (HAR export) got here first
                return getattr(row, name)
            masked = self.masker.mask_headers(_header_items(held))
            setattr(row, name, masked)
            setattr(self, name, ())  # kept masked on the row from now on
            return masked
        if name in ANALYSIS:
            self._analyze(row)
        elif name in REQUEST_BODY:
            self._analyze(row)  # first: it reads the body as received, masking replaces that
            text = self._settle(row, self.request, REQUEST_BODY, cut=False)
            if name == "request_body":
                return text
        elif name in RESPONSE_BODY:
            text = self._settle(row, self.response, RESPONSE_BODY, self.response_cut)
            if name == "response_body":
                return text
        elif name == "merged" and self.response is not None:
            # Rebuilt per read (detail view, HAR, recording): merged messages are not kept.
            return merge_stream(self.response.masked(), row.wire_format).to_dict()
        if row.holds(name):
            return getattr(row, name)
        raise AttributeError(name)

    def _analyze(self, row: InterceptedRequest) -> None:
        """Detection from the body, the stream flag and the context key: one parse."""
        if self.analyzed:
            return
        if all(row.holds(name) for name in ANALYSIS):  # set by the caller: nothing to parse
            self.analyzed = True
            return
        raw = self.request.unmasked() if self.request is not None else None
        fmt = row.wire_format if row.holds("wire_format") else None
        parsed = _json(raw) if raw and (fmt or row.method == "POST") else None
        detection = detect(row.host, row.method, row.path, row.request_headers,
                           parsed if isinstance(parsed, dict) else raw)
        _fill(row, "detected_kind", detection.kind)
        _fill(row, "wire_format", detection.wire_format)
        _fill(row, "stream", detection.stream)
        fmt = row.wire_format
        key = context_key(system_prompt(parsed, fmt)) if isinstance(parsed, dict) and fmt else None
        _fill(row, "context_key", key)
        self.analyzed = True

    @staticmethod
    def _settle(row: InterceptedRequest, body: StoredBody | None, names: tuple[str, str, str],
                cut: bool) -> str | None:
        """The stored text of a body; its encoding and truncation are kept on the row."""
        text, encoding, truncated = (encode_body(body.masked(), body.cap) if body is not None
                                     else (None, "text", False))
        _fill(row, names[1], encoding)
        _fill(row, names[2], truncated or cut)
        return text


def _fill(row: InterceptedRequest, name: str, value: Any) -> None:
    """Set a deferred field, unless something set it meanwhile (e.g. the bridge's format)."""
    if not row.holds(name):
        setattr(row, name, value)


def _packed(headers: HeldHeaders) -> HeldHeaders:
    if not headers or isinstance(headers, bytes):
        return headers
    # marshal takes built-in containers only (a reply may hand over any mapping)
    return marshal.dumps(headers if isinstance(headers, tuple | list | dict) else dict(headers))


def _header_items(held: HeldHeaders) -> Iterable[tuple[str, str]]:
    value = marshal.loads(held) if isinstance(held, bytes) else held
    if isinstance(value, Mapping):
        return value.items()
    return http.Headers(value).items(multi=True)


def _json(raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
