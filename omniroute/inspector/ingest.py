"""Rows captured by another process (``POST .../internal/ingest``): token and re-masking.

The token is ``settings.inspector_ingest_token`` (env ``INSPECTOR_INTERNAL_INGEST_TOKEN``) when
set, else a random one per start. Either way it is written to ``<home>/inspector-ingest.token``
(mode 0600) so a local tool running as the same user can read it; nobody else can.

An ingested row is masked again here: the sender may be a tool that does not mask, and nothing
unmasked may reach the ring, the database or the API.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from omniroute.config import Settings
from omniroute.inspector.masking import Masker
from omniroute.inspector.model import InterceptedRequest, encode_body

TOKEN_FILE = "inspector-ingest.token"
HEADER = "x-inspector-ingest-token"


def ingest_token(settings: Settings) -> str:
    token = settings.inspector_ingest_token or secrets.token_urlsafe(32)
    path: Path = settings.home / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    os.chmod(path, 0o600)
    return token


def token_matches(presented: str | None, expected: str) -> bool:
    return bool(presented) and hmac.compare_digest(presented.encode(), expected.encode())  # type: ignore[union-attr]


def ingested_row(data: dict[str, Any], masker: Masker, body_cap: int) -> InterceptedRequest:
    """A row from its JSON in the API specification (camelCase), masked and capped as if we had captured it."""
    row = InterceptedRequest.from_dict(data)
    row.request_headers = masker.mask_headers(row.request_headers)
    row.response_headers = masker.mask_headers(row.response_headers)
    if row.query:
        row.query = masker.mask_url("?" + row.query)[1:]
    path, _, query = row.path.partition("?")
    if query:  # a sender may leave the query on the path
        row.path, row.query = path, masker.mask_url("?" + query)[1:]
    for which in ("request", "response"):
        raw = row.body_bytes(which)  # type: ignore[arg-type]
        if raw:
            text, enc, cut = encode_body(masker.mask_bytes(raw[: body_cap + 1]), body_cap)
            setattr(row, f"{which}_body", text)
            setattr(row, f"{which}_body_encoding", enc)
            setattr(row, f"{which}_truncated", cut or getattr(row, f"{which}_truncated"))
    for attr in ("error", "annotation", "note"):
        value = getattr(row, attr)
        if value:
            setattr(row, attr, masker.mask_text(value))
    if row.merged is not None:
        # The merged message is derived from the body: mask it as text and read it back.
        row.merged = json.loads(masker.mask_text(json.dumps(row.merged)))
    return row
