"""Take a known secret out of bytes an upstream sent back before anyone else sees them.

Why: providers echo the key they refused ("Incorrect API key provided: sk-…"). That text
becomes the client's error message, the usage row's `error` and log lines. The provider key
is known exactly, so it is replaced exactly — whatever its shape (Azure and others use keys no
pattern recognises). The same short-prefix form as the inspector's masking is kept, so two
keys can still be told apart.
"""

from __future__ import annotations

MARKER = "…***"
MIN_SECRET = 8  # shorter "keys" (tests, placeholders) would redact ordinary words


def redact(data: bytes, secret: str | None) -> bytes:
    if not secret or len(secret) < MIN_SECRET:
        return data
    token = secret.encode()
    if token not in data:
        return data
    keep = min(5, len(secret) // 4)
    return data.replace(token, (secret[:keep] + MARKER).encode())
