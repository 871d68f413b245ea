"""Mask secrets before a captured request is stored, logged or sent anywhere.

Three inputs, one rule: a secret keeps a short prefix (so two keys can still be told apart) and
the rest becomes ``…***``. Headers are masked by name (Authorization keeps its scheme, cookies
keep their names), text and bytes bodies by shape (``sk-…``, ``AIza…``, ``ghp_…``, JWTs, Google
OAuth ``ya29.``, AWS key ids, ``Bearer …``, ``"api_key": "…"``), URLs by query key and userinfo.

Speed: a few precompiled regexes, each starting with a literal that ``re`` scans for at C
speed; callbacks run only on hits. One combined alternation is much slower, because ``re``
then tries every position whose first character could start any alternative (BENCHMARKS.md
has the figures).
URLs use an ASCII marker (``***``): HAR readers reject non-ASCII URLs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

MARKER = "…***"
# Secrets introduced by a word and a separator (``sk-…``, ``xai-…``, ``ghp_…``, ``github_pat_…``)
# are scanned from the separator, a literal ``re`` finds fast, with the word checked by a
# lookbehind: a regex starting with an alternation of words is ~100x slower on 100 KB.
_WORDED = (
    # The one-character lookbehind first rejects most separators before the word checks.
    re.compile(r"-(?<=[kix]-)(?:(?<=sk-)|(?<=xai-)|(?<=pplx-)|(?<=nvapi-))[A-Za-z0-9_\-]{16,}"),
    re.compile(r"_(?<=[pousrkwft]_)(?:(?<=gh[pousr]_)|(?<=gsk_)|(?<=hf_)|(?<=fw_)"
               r"|(?<=github_pat_))[A-Za-z0-9_\-]{16,}"),
)
_WORD_START = re.compile(r"(?:sk|xai|pplx|nvapi|gh[pousr]|gsk|hf|fw|github_pat)[-_]$")
# Shapes with a literal first character (one fast scan each).
_SHAPES = (
    r"A(?:Iza[0-9A-Za-z_\-]{30,}|[KS]IA[0-9A-Z]{16})",  # Google API keys, AWS key ids
    r"eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*",  # JWT
    r"ya29\.[A-Za-z0-9_\-]{20,}",  # Google OAuth access tokens (Antigravity / Cloud Code)
)
# "api_key": "…" in JSON, and a scheme + credential ("Bearer …") anywhere; the credential
# must contain a digit or symbol so prose ("Basic understanding") is left alone.
_KV = re.compile(
    r'(?P<k>"(?:api_?key|apiKey|x-api-key|x-goog-api-key|access_?token|accessToken'
    r'|refresh_?token|refreshToken|id_token|auth_?token|client_secret|clientSecret|secret'
    r'|password|token|authorization|Authorization)"\s*:\s*")(?P<v>[^"\\]{4,})')
_AUTH = re.compile(r"(?P<k>B(?:earer|asic)\s+)"
                   r"(?P<v>(?=[A-Za-z0-9._~+/=\-]*[0-9._~+/=\-])[A-Za-z0-9._~+/=\-]{8,})")
_QUERY_KEYS = (
    r"key|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|token|auth"
    r"|client[_-]?secret|secret|password|sig|signature|code|x-goog-api-key|x-amz-security-token"
    r"|x-amz-signature|x-amz-credential"
)
# Header names that are secret as a whole, and a heuristic for custom ones (x-auth-token,
# x-amz-security-token, …). ``token(?!s)`` keeps rate-limit headers like *-tokens-remaining.
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_SECRET_HEADERS = frozenset({"x-api-key", "api-key", "x-goog-api-key", "x-ms-token",
                             "openai-api-key", "anthropic-api-key"})
# Headers whose values are protocol metadata, never credentials: skip the text scan.
_PLAIN_HEADERS = frozenset({
    "content-type", "content-length", "accept", "accept-encoding", "accept-language", "host",
    "connection", "date", "cache-control", "content-encoding", "transfer-encoding", "vary",
    "server", "user-agent", "anthropic-version", "anthropic-beta", "openai-version",
    "x-stainless-lang", "x-stainless-os", "x-stainless-arch", "x-stainless-runtime",
    "x-stainless-runtime-version", "x-stainless-package-version", "x-stainless-retry-count",
    "x-request-id", "request-id", "openai-processing-ms", "keep-alive", "te", "etag",
})
_SECRET_HEADER_NAME = re.compile(
    r"api[-_]?key|apikey|token(?!s)|secret|passw|credential|session[-_]?id|signature")


def _is_word(char: str) -> bool:
    return char.isascii() and char.isalnum()


_ESCAPE_BEFORE = re.compile(r"\\(?:[nrtbf]|u[0-9a-fA-F]{4})$")


def _at_boundary(text: str, start: int) -> bool:
    """A token starts here: not glued to a preceding word, a JSON escape (``\\n``) aside."""
    if start == 0 or not _is_word(text[start - 1]):
        return True
    return _ESCAPE_BEFORE.search(text, max(0, start - 6), start) is not None


@dataclass(frozen=True, slots=True)
class MaskConfig:
    prefix_len: int = 5  # characters of a secret kept visible (fewer for short secrets)
    marker: str = MARKER
    # URLs must stay ASCII: mitmproxy's HAR reader (and many others) reject "…" in a URL.
    url_marker: str = "***"
    extra_headers: tuple[str, ...] = ()  # header names masked as a whole
    extra_patterns: tuple[str, ...] = ()  # regexes whose whole match is a secret
    extra_query_keys: tuple[str, ...] = ()


class Masker:
    """Compiled masking rules for one configuration; every method is pure."""

    def __init__(self, config: MaskConfig | None = None) -> None:
        self.config = cfg = config or MaskConfig()
        self._secret_headers = _SECRET_HEADERS | {h.lower() for h in cfg.extra_headers}
        self._shapes = [re.compile(p) for p in _SHAPES + cfg.extra_patterns]
        qkeys = _QUERY_KEYS + "".join("|" + re.escape(k) for k in cfg.extra_query_keys)
        url = (rf"(?P<qk>(?:^|[?&;])(?i:{qkeys})=)(?P<qv>[^&#\s]+)"
               r"|(?P<ui>^[A-Za-z][A-Za-z0-9+.\-]*://[^/@:\s]*:)(?P<pw>[^/@\s]+)(?=@)")
        self._url = re.compile(url)
        self._for_url = (self if cfg.url_marker == cfg.marker
                         else Masker(replace(cfg, marker=cfg.url_marker)))

    # ---- values ----
    def mask_value(self, value: str) -> str:
        """``sk-ab…***``: a short prefix (at most a quarter of the value) plus the marker."""
        if not value or value.endswith(self.config.marker):
            return value  # already masked: masking twice must not shorten the prefix again
        keep = min(self.config.prefix_len, len(value) // 4)
        return value[:keep] + self.config.marker

    # ---- text / bytes ----
    def _worded(self, m: re.Match[str]) -> str:
        text, sep = m.string, m.start()
        word = _WORD_START.search(text, max(0, sep - 10), sep + 1)
        start = word.start() if word else sep
        if word is None or not _at_boundary(text, start):
            # "xsk-…" is no token boundary; mask what follows in case a secret hides there.
            return text[sep] + self.mask_text(m.group(0)[1:])
        # re.sub already emitted the word before the separator; mask word + rest together.
        masked = self.mask_value(text[start:m.end()])
        return masked[sep - start:] if len(masked) > sep - start else self.config.marker

    def mask_text(self, text: str) -> str:
        """Mask token-shaped secrets, ``Bearer …`` credentials and JSON secret fields."""
        for rx in _WORDED:
            text = rx.sub(self._worded, text)
        for rx in self._shapes:
            text = rx.sub(self._whole, text)
        text = _KV.sub(self._keyed, text)
        return _AUTH.sub(self._keyed, text)

    def _whole(self, m: re.Match[str]) -> str:
        start = m.start()
        if not _at_boundary(m.string, start):
            return m.group(0)  # inside a longer word: not a token boundary
        return self.mask_value(m.group(0))

    def _keyed(self, m: re.Match[str]) -> str:
        return m.group("k") + self.mask_value(m.group("v"))

    def mask_bytes(self, data: bytes) -> bytes:
        """Same rules on raw bytes. Binary bodies go through latin-1 (one char per byte), so
        offsets and non-secret bytes survive unchanged; the marker's ellipsis becomes ``?``."""
        try:
            return self.mask_text(data.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return self.mask_text(data.decode("latin-1")).encode("latin-1", "replace")

    # ---- URLs ----
    def mask_url(self, url: str) -> str:
        """Mask secret query values, URL passwords and token-shaped secrets in a URL.

        Accepts a full URL, a path with query, or a bare query string (``a=1&key=…``).
        """
        def sub(m: re.Match[str]) -> str:
            mask = self._for_url.mask_value
            if m.group("qk") is not None:
                return m.group("qk") + mask(m.group("qv"))
            return m.group("ui") + mask(m.group("pw"))
        return self._for_url.mask_text(self._url.sub(sub, url))

    # ---- headers ----
    def mask_header(self, name: str, value: str) -> str:
        lname = name.lower()
        if lname in _AUTH_HEADERS:
            scheme, sep, cred = value.strip().partition(" ")
            if sep and scheme.replace("-", "").isalnum() and cred.strip():
                return f"{scheme} {self.mask_value(cred.strip())}"
            return self.mask_value(value)
        if lname in self._secret_headers or _SECRET_HEADER_NAME.search(lname):
            return self.mask_value(value)
        if lname in _PLAIN_HEADERS:
            return value
        if lname == "cookie":
            return "; ".join(self._mask_cookie(c) for c in value.split(";"))
        if lname == "set-cookie":
            first, sep, attrs = value.partition(";")
            return self._mask_cookie(first) + sep + attrs
        return self.mask_text(value)

    def _mask_cookie(self, pair: str) -> str:
        name, sep, val = pair.strip().partition("=")
        return f"{name}={self.mask_value(val)}" if sep else self.mask_value(name)

    def mask_headers(self, headers: Iterable[tuple[str, str]] | Mapping[str, str]
                     ) -> dict[str, str]:
        """Masked headers as one dict; repeated names are joined (Set-Cookie with newlines,
        Cookie with ``; ``, others with ``, ``). The first spelling of a name is kept."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, str] = {}
        spelled: dict[str, str] = {}
        for name, value in items:
            masked = self.mask_header(name, value)
            lname = name.lower()
            key = spelled.setdefault(lname, name)
            if key in out:
                sep = "\n" if lname == "set-cookie" else "; " if lname == "cookie" else ", "
                out[key] = f"{out[key]}{sep}{masked}"
            else:
                out[key] = masked
        return out


DEFAULT_MASKER = Masker()


def mask_headers(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, str]:
    return DEFAULT_MASKER.mask_headers(headers)


def mask_text(text: str) -> str:
    return DEFAULT_MASKER.mask_text(text)


def mask_bytes(data: bytes) -> bytes:
    return DEFAULT_MASKER.mask_bytes(data)


def mask_url(url: str) -> str:
    return DEFAULT_MASKER.mask_url(url)
