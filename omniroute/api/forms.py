"""multipart/form-data request bodies (audio transcriptions), read with the standard library's
MIME parser: one upload a request, so a streaming parser would buy nothing."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from omniroute.engine.errors import BadRequest
from omniroute.engine.media import FormFile


def parse_form(raw: bytes, content_type: str) -> dict[str, Any]:
    """The form's fields: text values as ``str``, uploads as `FormFile`. A body that is not a
    multipart form is a clear 400."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise BadRequest("send the audio as multipart/form-data (a 'file' field and a 'model' field)")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise BadRequest("the multipart/form-data body could not be read")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        fields[name] = _value(part)
    return fields


def _value(part: Message) -> str | FormFile:
    payload = part.get_payload(decode=True)
    content = payload if isinstance(payload, bytes) else b""
    filename = part.get_filename()
    if filename is not None:
        return FormFile(filename, content, part.get_content_type())
    return content.decode(part.get_content_charset() or "utf-8", "replace")
