"""Masking: canary secrets never survive in headers, cookies, query strings or bodies."""

from __future__ import annotations

import json
import statistics
import string
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.inspector.masking import (
    MaskConfig,
    Masker,
    mask_bytes,
    mask_headers,
    mask_text,
    mask_url,
)

CANARY = "sk-ant-api03-CANARYcanary0123456789abcdefXYZ"


def test_authorization_keeps_scheme_and_short_prefix() -> None:
    out = mask_headers([("Authorization", f"Bearer {CANARY}"),
                        ("Proxy-Authorization", "Basic dXNlcjpwYXNzd29yZDEyMw==")])
    assert out["Authorization"] == "Bearer sk-an…***"
    assert out["Proxy-Authorization"].startswith("Basic ") and "cGFzc3" not in str(out)


def test_api_key_headers_cookies_and_set_cookie() -> None:
    headers = [("x-api-key", CANARY), ("api-key", "azurekey0123456789abcdef"),
               ("x-goog-api-key", "AIzaSyCANARY0123456789abcdefghijklmnop"),
               ("Cookie", f"session={CANARY}; theme=dark"),
               ("Set-Cookie", f"sid={CANARY}; Path=/; HttpOnly"),
               ("Set-Cookie", "csrf=abcdefabcdef0123; Secure"),
               ("x-custom-auth-token", "opaque-value-0123456789"),
               ("anthropic-ratelimit-tokens-remaining", "39000"),
               ("content-type", "application/json")]
    out = mask_headers(headers)
    blob = json.dumps(out)
    assert "CANARY" not in blob and "0123456789" not in blob
    assert out["Cookie"].startswith("session=sk-an…***; theme=")
    assert out["Set-Cookie"].split("\n")[0] == "sid=sk-an…***; Path=/; HttpOnly"
    assert out["anthropic-ratelimit-tokens-remaining"] == "39000"  # not a secret
    assert out["content-type"] == "application/json"


def test_query_and_userinfo() -> None:
    url = (f"https://user:hunter2secret@generativelanguage.googleapis.com/v1beta/models/"
           f"g:streamGenerateContent?alt=sse&key=AIzaSyCANARY0123456789abcdefghijklmnop"
           f"&access_token=ya29.CANARY&api_key={CANARY}")
    out = mask_url(url)
    assert "CANARY" not in out and "hunter2secret" not in out
    assert "alt=sse" in out and out.isascii()  # mitmproxy's HAR reader needs ASCII URLs
    assert mask_url("a=1&token=abcdefgh") == "a=1&token=ab***"


def test_body_secret_shapes() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDQU5BUlkifQ.c2lnbmF0dXJlQ0FOQVJZ"
    body = json.dumps({
        "messages": [{"role": "user", "content": f"my key is {CANARY}, jwt {jwt}"}],
        "api_key": "plain-opaque-CANARY-value", "github": "ghp_CANARY0123456789abcdefghijABCD",
        "oauth": "gho_CANARY0123456789abcdefghijABCD", "google": "ya29.a0CANARY0123456789abcdef",
        "aws": "AKIAIOSFODNN7EXAMPLE", "h": "Authorization: Bearer abc.CANARY.123456",
    })
    out = mask_text(body)
    assert "CANARY" not in out and "EXAMPLE" not in out
    assert "sk-an…***" in out and "ghp_C…***" in out
    json.loads(out)  # still valid JSON


def test_prose_is_left_alone() -> None:
    text = ("Basic understanding of task-management-system-design and the bearer of news; "
            "call tool_use_id toolu_01ABCDEFGHIJKLMNOPQRSTUV with max_tokens=100.")
    assert mask_text(text) == text


def test_idempotent_and_configurable() -> None:
    once = mask_text(f"key {CANARY}")
    assert mask_text(once) == once
    m = Masker(MaskConfig(prefix_len=2, extra_headers=("x-tenant",),
                          extra_patterns=(r"corp_[a-z0-9]{10,}",), extra_query_keys=("sessid",)))
    assert m.mask_header("X-Tenant", "tenant-secret-value") == "te…***"
    assert m.mask_text("id corp_abcdef012345 end") == "id co…*** end"
    assert m.mask_url("/x?sessid=abcdef123") == "/x?sessid=ab***"
    assert m.mask_text(CANARY) == "sk…***"


def test_binary_bodies() -> None:
    raw = b"\x00\xff\x10" + CANARY.encode() + b"\x00tail"
    out = mask_bytes(raw)
    assert CANARY.encode() not in out and out.endswith(b"\x00tail")


_TOKEN_TAIL = st.text(string.ascii_letters + string.digits, min_size=24, max_size=60)
_SECRETS = st.one_of(
    _TOKEN_TAIL.map(lambda t: "sk-" + t), _TOKEN_TAIL.map(lambda t: "sk-ant-api03-" + t),
    _TOKEN_TAIL.map(lambda t: "sk-proj-" + t),
    _TOKEN_TAIL.map(lambda t: "AIza" + t[:35].ljust(35, "x")),
    _TOKEN_TAIL.map(lambda t: "hf_" + t), _TOKEN_TAIL.map(lambda t: "xai-" + t),
    _TOKEN_TAIL.map(lambda t: "github_pat_11" + t), _TOKEN_TAIL.map(lambda t: "ya29." + t),
    _TOKEN_TAIL.map(lambda t: "ghp_" + t), _TOKEN_TAIL.map(lambda t: "gho_" + t),
    st.tuples(_TOKEN_TAIL, _TOKEN_TAIL, _TOKEN_TAIL).map(
        lambda p: f"eyJ{p[0]}.eyJ{p[1]}.{p[2]}"),
)
_FILLER = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
_SEPARATORS = st.sampled_from([" ", "\n", '"', "'", ":", "=", ",", "(", "[", "{", "/", "\t"])


@settings(max_examples=300, deadline=None)
@given(secret=_SECRETS, before=_FILLER, after=_FILLER, sep1=_SEPARATORS, sep2=_SEPARATORS)
def test_property_secret_never_survives_in_text(secret: str, before: str, after: str,
                                                sep1: str, sep2: str) -> None:
    text = f"{before}{sep1}{secret}{sep2}{after}"
    assert secret not in mask_text(text)
    assert secret not in mask_text(json.dumps({"content": text, "nested": [text]}))
    assert secret.encode() not in mask_bytes(text.encode())


@settings(max_examples=200, deadline=None)
@given(secret=st.text(string.ascii_letters + string.digits + "-._~+/", min_size=12,
                      max_size=64),
       name=st.sampled_from(["Authorization", "x-api-key", "api-key", "x-goog-api-key",
                             "Cookie", "Set-Cookie", "Proxy-Authorization"]))
def test_property_any_secret_in_secret_headers(secret: str, name: str) -> None:
    value = {"Authorization": f"Bearer {secret}", "Proxy-Authorization": f"Basic {secret}",
             "Cookie": f"a=1; sid={secret}", "Set-Cookie": f"sid={secret}; Path=/"}.get(name,
                                                                                      secret)
    # The values only: a generated "secret" may be part of the header's own name.
    assert secret not in json.dumps(list(mask_headers([(name, value)]).values()), ensure_ascii=False)
    assert secret not in mask_url(f"https://h/p?x=1&api_key={secret}")


def _body_100k() -> str:
    words = ["the", "function", "returns", "a", "list", "of", "tool_use", "task-manager.py",
             "and", "then", "123e4567-e89b-12d3-a456-426614174000", "max_tokens", "Basic"]
    msgs = [{"role": "user", "content": " ".join(words[(i * 7 + j) % len(words)]
                                                  for j in range(330))} for i in range(50)]
    return json.dumps({"model": "claude-sonnet-4-5", "messages": msgs})


def test_benchmark_masking_prints() -> None:
    """Not a timed assertion: prints p50 costs for the report (run with -s)."""
    body = _body_100k()
    headers = [("authorization", f"Bearer {CANARY}"), ("content-type", "application/json"),
               ("user-agent", "claude-cli/2.0"), ("anthropic-version", "2023-06-01"),
               ("x-stainless-os", "Linux"), ("accept", "text/event-stream"),
               ("cookie", "a=b; c=d"), ("x-api-key", CANARY)] * 2

    def p50(fn) -> float:
        samples = []
        for _ in range(200):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1e6

    h = p50(lambda: mask_headers(headers))
    b = p50(lambda: mask_text(body))
    print(f"\nBENCH mask_headers(16 headers) p50={h:.1f}us; "
          f"mask_text({len(body) // 1024} KB body) p50={b:.1f}us")
    assert mask_text(body) == body
