"""Take a known secret out of bytes an upstream sent back before anyone else sees them.

Why: providers echo the key they were sent — in the error for a refused key ("Incorrect API
key provided: sk-…"), and a misbehaving or hostile upstream in a successful reply too. That
text becomes the client's answer, the usage row's `error` and log lines. The provider key is
known exactly, so it is replaced exactly — whatever its shape (Azure and others use keys no
pattern recognises). The same short-prefix form as the inspector's masking is kept, so two
keys can still be told apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

MARKER = "…***"
MIN_SECRET = 8  # shorter "keys" (tests, placeholders) would redact ordinary words


def _masked(secret: str) -> bytes:
    return (secret[: min(5, len(secret) // 4)] + MARKER).encode()


def redact(data: bytes, secret: str | None) -> bytes:
    if not secret or len(secret) < MIN_SECRET:
        return data
    token = secret.encode()
    if token not in data:
        return data
    return data.replace(token, _masked(secret))


class StreamRedactor:
    """`redact` over a stream whose chunks may cut the secret in two: the tail of a chunk that
    could be the start of the secret is held back until the next chunk says whether it is.
    Streams end their events with a newline, which no key starts with, so in practice nothing
    is held back and each chunk costs one substring search."""

    __slots__ = ("_held", "_masked", "_token")

    def __init__(self, secret: str) -> None:
        self._token = secret.encode()
        self._masked = _masked(secret)
        self._held = b""

    @classmethod
    def for_secret(cls, secret: str | None) -> StreamRedactor | None:
        return cls(secret) if secret and len(secret) >= MIN_SECRET else None

    def feed(self, chunk: bytes) -> bytes:
        data = self._held + chunk if self._held else chunk
        token = self._token
        if token in data:
            data = data.replace(token, self._masked)
        keep = _partial_tail(data, token)
        self._held = data[len(data) - keep:] if keep else b""
        return data[: len(data) - keep] if keep else data

    def finish(self) -> bytes:
        held, self._held = self._held, b""
        return held

    async def wrap(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            if out := self.feed(chunk):
                yield out
        if tail := self.finish():
            yield tail


def _partial_tail(data: bytes, token: bytes) -> int:
    """Length of the longest end of ``data`` that is a proper start of ``token``."""
    first = token[:1]
    start = max(0, len(data) - len(token) + 1)
    while (at := data.find(first, start)) != -1:
        if token.startswith(data[at:]):
            return len(data) - at
        start = at + 1
    return 0
