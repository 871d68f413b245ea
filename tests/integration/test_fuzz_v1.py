"""Hypothesis against the model APIs of a real `omniroute run`, through real sockets: any JSON
body (shaped like each route's, with any values, nested or not), any bytes as a body, and any
byte values in the headers we read. Never a 5xx, every error a JSON body, and the keep-alive
connection survives every answer. Bounded: a fixed number of examples per test
(``EXAMPLES``), each one request to a local process whose only provider is the mock.

Our own OpenAPI document is fuzzed by schemathesis (``test_schemathesis.py``); it leaves the
model-calling ``/v1`` routes to this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

EXAMPLES = 200
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ROUTES = [
    "/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses",
    "/v1/embeddings", "/v1/api/chat", "/v1/providers/mk/chat/completions",
    "/v1/providers/mk/embeddings", "/v1/models/mk/m:generateContent",
    "/v1beta/models/mk/m:streamGenerateContent", "/api/v1/chat/completions", "/v1/bridge/openai-chat",
]
# Headers the API reads on these routes (auth, attribution, forwarding, DNS-rebinding guard).
HEADERS = ["x-omniroute-internal", "x-omniroute-source", "x-omniroute-agent", "x-omniroute-model",
           "x-omniroute-stream", "anthropic-beta", "anthropic-version", "openai-beta", "authorization",
           "x-api-key", "x-goog-api-key", "origin", "content-type", "accept-encoding"]
KEYS = ["model", "messages", "role", "content", "type", "text", "stream", "input", "max_tokens",
        "contents", "parts", "system", "tools", "tool_choice", "stream_options", "instructions",
        "encoding_format", "dimensions", "n", "temperature", "image_url", "source", "functionCall"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
                    st.text(max_size=16), st.sampled_from(["mk/m", "m/\ud800", "mk/\x00", "user", "text"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)),
    max_leaves=25)
bodies = st.dictionaries(st.sampled_from(KEYS), values, max_size=6) | values
# Printable and high bytes: h11 refuses to send CR, LF, NUL or surrounding spaces.
header_values = st.binary(max_size=40).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F).strip(b" "))


@pytest.fixture(scope="module")
def api(mock_provider: MockProvider) -> Iterator[httpx.Client]:
    with OmniRouteProcess(proxy=False, bridge=False) as proc:
        proc.add_provider("openai", "mk", f"{mock_provider.url}/v1", api_key="sk-mk-fuzz-v1-0001")
        with proc.api() as client:
            yield client


def check(api: httpx.Client, response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        json.loads(response.content)  # an error object, never a stack trace
    assert response.headers.get("connection", "").lower() != "close", "the connection was dropped"


@BOUNDED
@given(route=st.sampled_from(ROUTES), body=bodies)
def test_any_json_body_is_never_a_server_error(api: httpx.Client, route: str, body: Any) -> None:
    content = json.dumps(body).encode()
    with api.stream("POST", route, content=content, headers={"content-type": "application/json"}) as response:
        response.read()
    check(api, response)


@BOUNDED
@given(route=st.sampled_from(ROUTES), raw=st.binary(max_size=200))
def test_any_bytes_as_a_body_are_never_a_server_error(api: httpx.Client, route: str, raw: bytes) -> None:
    response = api.post(route, content=raw, headers={"content-type": "application/json"})
    check(api, response)


@BOUNDED
@given(route=st.sampled_from(ROUTES), headers=st.dictionaries(st.sampled_from(HEADERS), header_values, max_size=4),
       stream=st.booleans())
def test_any_header_bytes_are_never_a_server_error(api: httpx.Client, route: str, headers: dict[str, bytes],
                                                   stream: bool) -> None:
    body = {"model": "mk/m", "messages": [{"role": "user", "content": "hi"}], "stream": stream,
            "input": "hi", "max_tokens": 8, "contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    headers = {name: value for name, value in headers.items() if name != "content-type"}
    with api.stream("POST", route, json=body, headers=headers) as response:
        response.read()
    check(api, response)
