"""AWS event-stream framing: known vectors, CRC checks, incremental feeding, round trips.

The byte vectors are the AWS-published event-stream test cases as carried in botocore's
``tests/unit/test_eventstream.py`` (boto/botocore), so the codec is checked against an
independent implementation, not only against itself.
"""

from __future__ import annotations

import itertools
import struct
import uuid
from binascii import crc32
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omniroute.translate.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    Int8,
    Int16,
    Int32,
    Int64,
    Message,
    decode_message,
    encode_message,
)

EMPTY = b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff"
INT8 = b"\x00\x00\x00\x17\x00\x00\x00\x07)\x86\x01X\x04byte\x02\xff\xc2\xf8i\xdc"
INT16 = b"\x00\x00\x00\x19\x00\x00\x00\tq\x0e\x92>\x05short\x03\xff\xff\xb2|\xb6\xcc"
INT32 = (
    b"\x00\x00\x00\x1d\x00\x00\x00\r\x83\xe3\xf0\xe7\x07integer\x04\xff\xff\xff\xff\x8b\x8e\x12\xeb"
)
INT64 = (
    b"\x00\x00\x00\x1e\x00\x00\x00\x0e]J\xdb\x8d\x04long\x05"
    b"\xff\xff\xff\xff\xff\xff\xff\xffK\xc22\xda"
)
PAYLOAD_NO_HEADERS = b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96"
ONE_STR_HEADER = (
    b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10"
    b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1"
)
ALL_TYPES = (
    b"\x00\x00\x00\x62\x00\x00\x00\x52\x03\xb5\xcb\x9c"
    b"\x010\x00\x011\x01\x012\x02\x02\x013\x03\x00\x03"
    b"\x014\x04\x00\x00\x00\x04\x015\x05\x00\x00\x00\x00\x00\x00\x00\x05"
    b"\x016\x06\x00\x05bytes\x017\x07\x00\x04utf8"
    b"\x018\x08\x00\x00\x00\x00\x00\x00\x00\x08\x019\x090123456789abcdef"
    b"\x63\x35\x36\x71"
)
ERROR_EVENT = (
    b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e"
    b"\x0d:message-type\x07\x00\x05error"
    b"\x0b:error-code\x07\x00\x04code"
    b"\x0e:error-message\x07\x00\x07message"
    b"\x6b\x6c\xea\x3d"
)
DUPLICATE_HEADER = (
    b"\x00\x00\x00\x24\x00\x00\x00\x14\x4b\xb9\x82\xd0"
    b"\x04test\x04asdf\x04test\x04asdf\xf3\xf4\x75\x63"
)

POSITIVE: list[tuple[bytes, Message]] = [
    (EMPTY, Message({}, b"")),
    (INT8, Message({"byte": -1}, b"")),
    (INT16, Message({"short": -1}, b"")),
    (INT32, Message({"integer": -1}, b"")),
    (INT64, Message({"long": -1}, b"")),
    (PAYLOAD_NO_HEADERS, Message({}, b"{'foo':'bar'}")),
    (ONE_STR_HEADER, Message({"content-type": "application/json"}, b"{'foo':'bar'}")),
    (
        ALL_TYPES,
        Message(
            {
                "0": True,
                "1": False,
                "2": 2,
                "3": 3,
                "4": 4,
                "5": 5,
                "6": b"bytes",
                "7": "utf8",
                "8": datetime(1970, 1, 1, 0, 0, 0, 8000, tzinfo=UTC),
                "9": uuid.UUID(bytes=b"0123456789abcdef"),
            },
            b"",
        ),
    ),
    (
        ERROR_EVENT,
        Message(
            {":message-type": "error", ":error-code": "code", ":error-message": "message"}, b""
        ),
    ),
]


@pytest.mark.parametrize(("raw", "expected"), POSITIVE)
def test_decodes_published_vectors(raw: bytes, expected: Message) -> None:
    assert decode_message(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), POSITIVE)
def test_reencodes_published_vectors_byte_for_byte(raw: bytes, expected: Message) -> None:
    # Decoded int headers keep their width (Int8/Int16/...), so re-encoding is exact.
    assert encode_message(decode_message(raw)) == raw


def test_integer_widths_survive_decoding() -> None:
    headers = decode_message(ALL_TYPES).headers
    assert [type(headers[k]) for k in "2345"] == [Int8, Int16, Int32, Int64]


def test_all_vectors_in_one_buffer() -> None:
    decoder = EventStreamDecoder()
    got = decoder.feed(b"".join(raw for raw, _ in POSITIVE))
    assert got == [msg for _, msg in POSITIVE]
    assert decoder.pending == 0
    decoder.close()


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        # botocore's negative vectors: length, payload, header corruption, header length.
        (b"\x01" + PAYLOAD_NO_HEADERS[1:], "prelude CRC"),
        (PAYLOAD_NO_HEADERS[:-5] + b"\x8d" + PAYLOAD_NO_HEADERS[-4:], "message CRC"),
        (ONE_STR_HEADER.replace(b"content-type", b"content+type"), "message CRC"),
        (ONE_STR_HEADER[:4] + b"\xff\x00\x01\x02" + ONE_STR_HEADER[8:], "prelude CRC"),
        (DUPLICATE_HEADER, "duplicate header"),
    ],
)
def test_rejects_corrupted_vectors(raw: bytes, match: str) -> None:
    with pytest.raises(EventStreamError, match=match):
        decode_message(raw)
    with pytest.raises(EventStreamError, match=match):
        EventStreamDecoder().feed(raw)


def test_every_single_byte_corruption_is_detected() -> None:
    raw = encode_message(Message({":event-type": "assistantResponseEvent"}, b'{"content":"hello"}'))
    for i in range(len(raw)):
        for flip in (0x01, 0x80):
            bad = bytearray(raw)
            bad[i] ^= flip
            with pytest.raises(EventStreamError):
                decoder = EventStreamDecoder()
                decoder.feed(bytes(bad))
                decoder.close()


def test_decoder_is_poisoned_after_error() -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError):
        decoder.feed(PAYLOAD_NO_HEADERS[:-1] + b"\x00")
    with pytest.raises(EventStreamError):
        decoder.feed(EMPTY)


def test_split_at_every_offset_yields_same_messages() -> None:
    stream = b"".join(raw for raw, _ in POSITIVE)
    expected = [msg for _, msg in POSITIVE]
    for cut in range(len(stream) + 1):
        decoder = EventStreamDecoder()
        got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        assert got == expected, cut


def test_byte_at_a_time() -> None:
    stream = b"".join(raw for raw, _ in POSITIVE)
    decoder = EventStreamDecoder()
    got: list[Message] = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert got == [msg for _, msg in POSITIVE]


def test_truncated_stream_reported_on_close() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(ONE_STR_HEADER[:-3]) == []
    with pytest.raises(EventStreamError, match="inside a message"):
        decoder.close()


def test_absurd_length_rejected_without_waiting() -> None:
    head = struct.pack(">II", 1 << 30, 0)
    with pytest.raises(EventStreamError, match="out of range"):
        EventStreamDecoder().feed(head + struct.pack(">I", crc32(head)))


def test_encode_rejects_bad_values() -> None:
    with pytest.raises(EventStreamError, match="does not fit"):
        encode_message(Message({"x": Int8(300)}))
    with pytest.raises(EventStreamError, match="timezone"):
        encode_message(Message({"t": datetime(2024, 1, 1)}))
    with pytest.raises(EventStreamError, match="unsupported"):
        encode_message(Message({"f": 1.5}))  # type: ignore[dict-item]


_header_values = st.one_of(
    st.booleans(),
    st.integers(-(2**7), 2**7 - 1).map(Int8),
    st.integers(-(2**15), 2**15 - 1).map(Int16),
    st.integers(-(2**31), 2**31 - 1).map(Int32),
    st.integers(-(2**63), 2**63 - 1).map(Int64),
    st.binary(max_size=64),
    st.text(max_size=64),
    st.integers(-(2**40), 2**40).map(
        lambda ms: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    ),
    st.uuids(),
)
_messages = st.builds(
    Message,
    headers=st.dictionaries(
        st.text(min_size=1, max_size=20).filter(lambda s: len(s.encode()) <= 255),
        _header_values,
        max_size=6,
    ),
    payload=st.binary(max_size=200),
)


@given(st.lists(_messages, max_size=5), st.lists(st.integers(0, 2000), max_size=6))
def test_round_trip_any_messages_any_split(msgs: list[Message], cuts: list[int]) -> None:
    stream = b"".join(encode_message(m) for m in msgs)
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    decoder = EventStreamDecoder()
    got: list[Message] = []
    for a, b in itertools.pairwise(bounds):
        got += decoder.feed(stream[a:b])
    decoder.close()
    assert got == msgs
    assert b"".join(encode_message(m) for m in got) == stream
