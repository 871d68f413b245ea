"""AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Kiro's ``generateAssistantResponse`` answers in this framing. Layout of one message, all
integers big-endian (AWS SDK "Event Stream Encoding" spec, as implemented by botocore's
``eventstream.py`` and smithy's ``aws-event-stream``)::

    total_length:u32  headers_length:u32  prelude_crc:u32     <- prelude, CRC over first 8 bytes
    headers[headers_length]                                   <- (name_len:u8 name type:u8 value)*
    payload[total_length - headers_length - 16]
    message_crc:u32                                           <- CRC32 of everything before it

Header value types: 0 true, 1 false, 2 int8, 3 int16, 4 int32, 5 int64, 6 bytes (u16 length),
7 string (u16 length, UTF-8), 8 timestamp (int64 ms since epoch), 9 uuid (16 bytes).

Integer widths are kept through decode → encode by the ``Int8``/``Int16``/``Int32``/``Int64``
subclasses of ``int``, so a decoded message re-encodes to the same bytes. Plain ``int`` values
encode as int32 when they fit, otherwise int64.
"""

from __future__ import annotations

import binascii
import json
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = [
    "EventStreamDecoder",
    "EventStreamError",
    "HeaderValue",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "Message",
    "decode_message",
    "encode_message",
    "json_event",
    "json_exception",
]

_PRELUDE = struct.Struct(">III")
_PRELUDE_LEN = 12
_CRC_LEN = 4
_MIN_MESSAGE = _PRELUDE_LEN + _CRC_LEN
# botocore refuses messages above 16 MiB and header blocks above 128 KiB; a corrupted length
# field must not make the incremental decoder wait forever for gigabytes that never come.
MAX_MESSAGE_LEN = 16 * 1024 * 1024
MAX_HEADERS_LEN = 128 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EventStreamError(ValueError):
    """Malformed or corrupted event-stream bytes (bad length, CRC mismatch, bad header)."""


class Int8(int):
    """An int header value that is encoded as type 2 (1 byte)."""


class Int16(int):
    """An int header value that is encoded as type 3 (2 bytes)."""


class Int32(int):
    """An int header value that is encoded as type 4 (4 bytes)."""


class Int64(int):
    """An int header value that is encoded as type 5 (8 bytes)."""


HeaderValue = bool | int | bytes | str | datetime | uuid.UUID


@dataclass(slots=True)
class Message:
    """One event-stream message: ordered headers and a raw payload."""

    # Mapping, not dict: callers build headers as dict[str, str] literals, and dict is
    # invariant in its value type.
    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    payload: bytes = b""


def _crc(data: bytes | memoryview, start: int = 0) -> int:
    return binascii.crc32(data, start) & 0xFFFFFFFF


_INT_TYPES: tuple[tuple[type[int], int, str], ...] = (
    (Int8, 2, ">b"),
    (Int16, 3, ">h"),
    (Int32, 4, ">i"),
    (Int64, 5, ">q"),
)


def _encode_value(name: str, value: HeaderValue) -> bytes:
    # bool before int: bool is an int subclass.
    if isinstance(value, bool):
        return bytes([0 if value else 1])
    if isinstance(value, int):
        explicit = [(code, fmt) for cls, code, fmt in _INT_TYPES if isinstance(value, cls)]
        if explicit:
            code, fmt = explicit[0]
        else:
            code, fmt = (4, ">i") if -(2**31) <= value < 2**31 else (5, ">q")
        try:
            return bytes([code]) + struct.pack(fmt, value)
        except struct.error as exc:
            raise EventStreamError(f"header {name!r}: {value} does not fit type {code}") from exc
    if isinstance(value, bytes):
        if len(value) > 0xFFFF:
            raise EventStreamError(f"header {name!r}: byte array longer than 65535")
        return b"\x06" + struct.pack(">H", len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise EventStreamError(f"header {name!r}: string longer than 65535 bytes")
        return b"\x07" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise EventStreamError(f"header {name!r}: timestamp must be timezone-aware")
        millis = (value - _EPOCH) // timedelta(milliseconds=1)
        return b"\x08" + struct.pack(">q", millis)
    if isinstance(value, uuid.UUID):
        return b"\x09" + value.bytes
    raise EventStreamError(f"header {name!r}: unsupported value type {type(value).__name__}")


def _encode_headers(headers: Mapping[str, HeaderValue]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        if not 0 < len(raw_name) <= 255:
            raise EventStreamError(f"header name {name!r} must be 1..255 bytes")
        out.append(len(raw_name))
        out += raw_name
        out += _encode_value(name, value)
    return bytes(out)


def encode_message(message: Message) -> bytes:
    """Serialise one message, computing both CRCs."""
    headers = _encode_headers(message.headers)
    total = _PRELUDE_LEN + len(headers) + len(message.payload) + _CRC_LEN
    if total > MAX_MESSAGE_LEN:
        raise EventStreamError(f"message of {total} bytes exceeds {MAX_MESSAGE_LEN}")
    head = struct.pack(">II", total, len(headers))
    prelude = head + struct.pack(">I", _crc(head))
    body = prelude + headers + message.payload
    return body + struct.pack(">I", _crc(body))


def _decode_headers(raw: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos, end = 0, len(raw)

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > end:
            raise EventStreamError("header block truncated")
        chunk = raw[pos : pos + n]
        pos += n
        return chunk

    while pos < end:
        name_len = take(1)[0]
        if name_len == 0:
            raise EventStreamError("header name of length 0")
        try:
            name = take(name_len).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventStreamError("header name is not UTF-8") from exc
        if name in headers:
            # A repeated name would make one of the two values silently win.
            raise EventStreamError(f"duplicate header {name!r}")
        code = take(1)[0]
        value: HeaderValue
        if code == 0:
            value = True
        elif code == 1:
            value = False
        elif 2 <= code <= 5:
            cls, _, fmt = _INT_TYPES[code - 2]
            value = cls(struct.unpack(fmt, take(struct.calcsize(fmt)))[0])
        elif code in (6, 7):
            (length,) = struct.unpack(">H", take(2))
            data = take(length)
            if code == 6:
                value = data
            else:
                try:
                    value = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise EventStreamError(f"header {name!r}: string is not UTF-8") from exc
        elif code == 8:
            (millis,) = struct.unpack(">q", take(8))
            value = _EPOCH + timedelta(milliseconds=millis)
        elif code == 9:
            value = uuid.UUID(bytes=take(16))
        else:
            raise EventStreamError(f"header {name!r}: unknown value type {code}")
        headers[name] = value
    return headers


def _check_prelude(buf: bytes | bytearray) -> tuple[int, int]:
    total, headers_len, prelude_crc = _PRELUDE.unpack_from(buf, 0)
    actual = _crc(bytes(buf[:8]))
    if actual != prelude_crc:
        raise EventStreamError(
            f"prelude CRC mismatch: expected {prelude_crc:#010x}, computed {actual:#010x}"
        )
    if total < _MIN_MESSAGE or total > MAX_MESSAGE_LEN:
        raise EventStreamError(f"message length {total} out of range")
    if headers_len > MAX_HEADERS_LEN or headers_len > total - _MIN_MESSAGE:
        raise EventStreamError(f"headers length {headers_len} out of range")
    return total, headers_len


def _decode_complete(raw: bytes, total: int, headers_len: int) -> Message:
    (message_crc,) = struct.unpack_from(">I", raw, total - _CRC_LEN)
    actual = _crc(raw[: total - _CRC_LEN])
    if actual != message_crc:
        raise EventStreamError(
            f"message CRC mismatch: expected {message_crc:#010x}, computed {actual:#010x}"
        )
    headers = _decode_headers(raw[_PRELUDE_LEN : _PRELUDE_LEN + headers_len])
    payload = raw[_PRELUDE_LEN + headers_len : total - _CRC_LEN]
    return Message(headers=headers, payload=payload)


def decode_message(data: bytes) -> Message:
    """Decode exactly one complete message; trailing or missing bytes are an error."""
    if len(data) < _MIN_MESSAGE:
        raise EventStreamError(f"{len(data)} bytes is shorter than the minimum message")
    total, headers_len = _check_prelude(data)
    if total != len(data):
        raise EventStreamError(f"prelude says {total} bytes, got {len(data)}")
    return _decode_complete(bytes(data), total, headers_len)


class EventStreamDecoder:
    """Incremental decoder: ``feed`` arbitrary byte chunks, get back completed messages.

    Only the unconsumed tail is kept between calls, so memory is bounded by one message.
    After an error the decoder is poisoned: the byte boundary is lost, resync is impossible.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._failed: EventStreamError | None = None

    def feed(self, chunk: bytes) -> list[Message]:
        if self._failed is not None:
            raise self._failed
        self._buf += chunk
        out: list[Message] = []
        try:
            while len(self._buf) >= _PRELUDE_LEN:
                total, headers_len = _check_prelude(self._buf)
                if len(self._buf) < total:
                    break
                raw = bytes(self._buf[:total])
                del self._buf[:total]
                out.append(_decode_complete(raw, total, headers_len))
        except EventStreamError as exc:
            self._failed = exc
            raise
        return out

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet form a complete message."""
        return len(self._buf)

    def close(self) -> None:
        """Signal end of input; leftover bytes mean the stream was cut mid-message."""
        if self._buf:
            raise EventStreamError(f"stream ended inside a message ({len(self._buf)} bytes left)")


def json_event(name: str, payload: object) -> bytes:
    """An ``event`` message with a JSON payload, as AWS services stream them."""
    headers: dict[str, HeaderValue] = {
        ":event-type": name, ":content-type": "application/json", ":message-type": "event",
    }  # fmt: skip
    return encode_message(Message(headers, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()))


def json_exception(exception_type: str, message: str) -> bytes:
    """An ``exception`` message (``{"message": ...}``), how AWS reports a failure mid-stream."""
    headers: dict[str, HeaderValue] = {
        ":message-type": "exception", ":exception-type": exception_type, ":content-type": "application/json",
    }  # fmt: skip
    return encode_message(Message(headers, json.dumps({"message": message}, ensure_ascii=False).encode()))
