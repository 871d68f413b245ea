"""Hypothesis fuzzing of the code that reads untrusted input: translators, masking, flow filters.

* Translators get garbage bodies shaped like requests/responses (the right keys, any values):
  they may answer or raise ``TranslationError``/``ValueError`` (a clear 400/502), never
  ``KeyError``/``TypeError``/``AttributeError`` (a 500).
* Masking never lets a canary secret through, wherever it sits in text, headers or URLs.
* ``flowfilter.compile_filter`` raises only ``FlowFilterError`` on any expression.
"""

from __future__ import annotations

import itertools
import json
import string
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from omniroute.inspector.flowfilter import FlowFilterError, compile_filter
from omniroute.inspector.masking import Masker
from omniroute.translate import (
    StreamTranslator,
    TranslationError,
    available_formats,
    translate_request,
    translate_response,
)

FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = [str(f) for f in available_formats()]
PAIRS = [(a, b) for a, b in itertools.product(FORMATS, FORMATS)]
ALLOWED = (TranslationError, ValueError, NotImplementedError)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
# Keys the converters look for, so the fuzzing reaches past the first `.get`.
KEYS = ["model", "messages", "role", "content", "type", "text", "system", "tools", "tool_choice",
        "max_tokens", "contents", "parts", "input", "instructions", "choices", "message", "delta",
        "usage", "candidates", "output", "stop_reason", "finish_reason", "tool_calls", "function",
        "name", "arguments", "id", "request", "response", "conversationState", "stream", "image_url",
        "source", "functionCall", "tool_use_id", "generationConfig", "systemInstruction"]
keyed = st.deferred(lambda: st.dictionaries(st.sampled_from(KEYS), st.one_of(json_values, nested), max_size=6))
nested = st.one_of(keyed, st.lists(keyed, max_size=3))
bodies = st.one_of(keyed, st.dictionaries(st.text(max_size=6), json_values, max_size=4))


# One test per function, the format pair drawn too: every pair is covered within the budget.
@FAST
@given(pair=st.sampled_from(PAIRS), body=bodies)
def test_translate_request_raises_only_translation_errors(pair: tuple[str, str], body: dict[str, Any]) -> None:
    src, dst = pair
    try:
        out = translate_request(src, dst, body)
    except ALLOWED:
        return
    assert isinstance(out, dict)
    json.dumps(out)  # what we send upstream must serialise


@FAST
@given(pair=st.sampled_from(PAIRS), body=bodies)
def test_translate_response_raises_only_translation_errors(pair: tuple[str, str], body: dict[str, Any]) -> None:
    src, dst = pair
    try:
        out = translate_response(src, dst, body)
    except ALLOWED:
        return
    assert isinstance(out, dict)


SSE_PAIRS = [(a, b) for a, b in PAIRS if a != "kiro" and b != "kiro"]  # kiro streams are AWS event-stream


@FAST
@given(pair=st.sampled_from(SSE_PAIRS), events=st.lists(keyed, max_size=5), junk=st.binary(max_size=40))
def test_stream_translator_survives_garbage_events(pair: tuple[str, str], events: list[Any], junk: bytes) -> None:
    src, dst = pair
    translator = StreamTranslator(src, dst, "fuzz-model")
    wire = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + junk
    # Never raises: a malformed upstream event becomes an error event in the client's format.
    out = translator.feed(wire) + translator.finish()
    assert isinstance(out, bytes)


# --------------------------------------------------------------------------- masking

SECRET_CHARS = string.ascii_letters + string.digits
secrets_ = st.one_of(
    st.text(SECRET_CHARS, min_size=20, max_size=60).map(lambda s: "sk-" + s),
    st.text(SECRET_CHARS, min_size=20, max_size=60).map(lambda s: "sk-proj-" + s),
    st.text(SECRET_CHARS, min_size=20, max_size=40).map(lambda s: "ghp_" + s),
    st.text(SECRET_CHARS + "_-", min_size=35, max_size=39).map(lambda s: "AIza" + s),
)
# Surroundings that are not part of a token (a secret glued into a word is no token).
seps = st.sampled_from([" ", "\n", '"', "'", ",", ":", "=", "(", "[", "{", "\t", "; "])
filler = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
MASKER = Masker()


def _hidden(secret: str) -> str:
    return secret[5:]


@settings(max_examples=200, deadline=None)
@given(secret=secrets_, before=filler, after=filler, left=seps, right=seps)
def test_masking_never_leaves_a_canary_in_text(secret: str, before: str, after: str, left: str, right: str) -> None:
    text = f"{before}{left}{secret}{right}{after}"
    assume(_hidden(secret) not in before + left + right + after)  # only the secret may hold it
    assert _hidden(secret) not in MASKER.mask_text(text)
    assert _hidden(secret).encode() not in MASKER.mask_bytes(text.encode())


@settings(max_examples=150, deadline=None)
@given(secret=st.text(SECRET_CHARS + "-_.", min_size=12, max_size=60), field=st.sampled_from(
    ["api_key", "apiKey", "access_token", "token", "secret", "password", "authorization"]))
def test_masking_json_secret_fields_of_any_shape(secret: str, field: str) -> None:
    assume(secret[5:] not in json.dumps({field: "", "other": "value"}))
    text = json.dumps({field: secret, "other": "value"})
    assert secret[5:] not in MASKER.mask_text(text)


@settings(max_examples=150, deadline=None)
@given(secret=st.text(SECRET_CHARS + "-_.~", min_size=12, max_size=60), name=st.sampled_from(
    ["authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "proxy-authorization",
     "x-auth-token", "openai-api-key"]))
def test_masking_secret_headers(secret: str, name: str) -> None:
    value = {"authorization": f"Bearer {secret}", "proxy-authorization": f"Basic {secret}",
             "cookie": f"session={secret}; theme=dark"}.get(name, secret)
    assume(secret[5:] not in value.replace(secret, ""))
    masked = MASKER.mask_headers({name: value})
    assert secret[5:] not in json.dumps(masked)


@settings(max_examples=150, deadline=None)
@given(secret=st.text(SECRET_CHARS + "-_.", min_size=12, max_size=60),
       key=st.sampled_from(["key", "api_key", "apikey", "access_token", "token", "signature"]),
       path=st.text(string.ascii_lowercase + "/", max_size=20))
def test_masking_urls(secret: str, key: str, path: str) -> None:
    assume(secret[5:] not in path and secret[5:] not in "https://api.example.com/?alt=sse&x=1")
    url = f"https://api.example.com/{path}?alt=sse&{key}={secret}&x=1"
    assert secret[5:] not in MASKER.mask_url(url)
    assert secret[5:] not in MASKER.mask_url(f"https://user:{secret}@host.example/{path}")


# --------------------------------------------------------------------------- flow filters

filter_tokens = st.sampled_from(["~d", "~c", "~m", "~u", "~h", "~b", "~q", "~s", "~a", "~e", "~t",
                                 "~hq", "~hs", "~bq", "~bs", "&", "|", "!", "(", ")", "api.openai.com",
                                 "429", "'x'", '"y"', "~", "~~", "\\", "*", "[", "]"])


@settings(max_examples=300, deadline=None)
@given(expr=st.one_of(st.text(max_size=30), st.lists(filter_tokens, max_size=8).map(" ".join)))
def test_flow_filter_parsing_raises_only_flowfiltererror(expr: str) -> None:
    try:
        predicate = compile_filter(expr)
    except FlowFilterError:
        return
    assert callable(predicate)
