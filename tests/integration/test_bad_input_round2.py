"""Bad input that used to be a 500 (issue #15, items 4, 5 and 11c), and its siblings.

Each is a clear 4xx in the caller's own format, and the keep-alive connection it came on
serves the next request (`same_connection`). One real `omniroute run`, real httpx clients.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from omniroute.engine.body import MAX_JSON_DEPTH
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

MSG = [{"role": "user", "content": "hello"}]
BIG = 10**30


@pytest.fixture(scope="module")
def env(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, httpx.Client]]:
    with OmniRouteProcess(proxy=False, bridge=False) as proc:
        proc.add_provider("openai", "mk", f"{mock_provider.url}/v1", api_key="sk-mk-round2-0001")
        with proc.api() as api:
            yield proc, api


def local_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def same_connection(api: httpx.Client, response: httpx.Response) -> None:
    """The connection that carried ``response`` serves the next request: not reset."""
    assert response.headers.get("connection", "").lower() != "close", response.headers
    follow_up = api.get("/api/combos")
    assert follow_up.status_code == 200
    assert local_port(follow_up) == local_port(response), "the keep-alive connection was dropped"


def fmt_of(path: str) -> str:
    if "/messages" in path:
        return "anthropic"
    if "generateContent" in path:
        return "gemini"
    return "ollama" if path.endswith("/api/chat") else "openai"


def error_of(fmt: str, response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if fmt == "ollama":
        assert isinstance(body["error"], str)
        return {"message": body["error"]}
    if fmt == "anthropic":
        assert body["type"] == "error" and body["error"]["type"]
    elif fmt == "gemini":
        assert isinstance(body["error"]["code"], int) and body["error"]["status"].isupper()
    elif fmt == "openai":
        assert body["error"]["type"] and "param" in body["error"]
    else:
        assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]


# Every /v1 route (and its /api/v1 twin) with a body it accepts.
V1_ROUTES = [
    ("POST", "/v1/chat/completions", {"model": "mk/m", "messages": MSG}),
    ("POST", "/v1/messages", {"model": "mk/m", "max_tokens": 8, "messages": MSG}),
    ("POST", "/v1/messages/count_tokens", {"model": "mk/m", "messages": MSG}),
    ("POST", "/v1/responses", {"model": "mk/m", "input": "hello"}),
    ("POST", "/v1/embeddings", {"model": "mk/text-embedding-3-small", "input": "hello"}),
    ("POST", "/v1/api/chat", {"model": "mk/m", "messages": MSG, "stream": False}),
    ("POST", "/v1/providers/mk/chat/completions", {"model": "m", "messages": MSG}),
    ("POST", "/v1/providers/mk/embeddings", {"model": "text-embedding-3-small", "input": "a"}),
    ("POST", "/v1/models/mk/m:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    ("POST", "/v1beta/models/mk/m:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    ("POST", "/v1/bridge/openai-chat", {"model": "mk/m", "messages": MSG}),
    ("GET", "/v1/models", None),
    ("GET", "/v1/providers/mk/models", None),
    ("POST", "/api/v1/chat/completions", {"model": "mk/m", "messages": MSG}),
]


@pytest.mark.parametrize(("method", "path", "body"), V1_ROUTES, ids=[r[1] for r in V1_ROUTES])
@pytest.mark.parametrize("header", ["x-omniroute-internal", "anthropic-beta", "anthropic-version", "openai-beta"])
def test_a_non_ascii_byte_in_a_header_we_read_is_never_a_500(
    env: Any, method: str, path: str, body: Any, header: str
) -> None:
    _, api = env
    response = api.request(method, path, json=body, headers={header: b"tok\xffen\xe9"})
    assert response.status_code < 500, response.text
    if header == "x-omniroute-internal":
        # Not our AgentBridge's token: the call is served like any other, or the bridge-only
        # route refuses it.
        assert response.status_code == (403 if "/bridge/" in path else 200), response.text
    elif "/bridge/" in path:
        assert response.status_code == 403, response.text
    elif response.status_code != 200:  # a forwarded header the upstream could never take
        assert response.status_code == 400, response.text
        assert header in error_of(fmt_of(path), response)["message"]
    same_connection(api, response)


@pytest.mark.parametrize(("path", "body", "fmt", "param"), [
    ("/v1/messages/count_tokens", {"model": "mk/m", "messages": "hi"}, "anthropic", "messages"),
    ("/v1/messages/count_tokens", {"model": "mk/m", "messages": [1, None, "x"]}, "anthropic", None),
    ("/v1/embeddings", {"model": "mk/e", "input": "a", "stream": "yes"}, "openai", "stream"),
    ("/v1/embeddings", {"model": "mk/e", "input": "a", "stream": True}, "openai", "stream"),
    ("/v1/providers/mk/embeddings", {"model": "e", "input": "a", "stream": "yes"}, "openai", "stream"),
    ("/v1/chat/completions", {"model": "mk/m", "messages": MSG, "stream": "yes"}, "openai", "stream"),
    ("/v1/chat/completions", {"model": "mk/m", "messages": MSG, "stream": "false"}, "openai", "stream"),
    ("/v1/messages", {"model": "mk/m", "max_tokens": 8, "messages": MSG, "stream": 1}, "anthropic", None),
    ("/v1/responses", {"model": "mk/m", "input": "hi", "stream": {}}, "openai", "stream"),
    ("/v1/providers/mk/chat/completions", {"model": "m", "messages": MSG, "stream": []}, "openai", "stream"),
])
def test_wrong_typed_fields_are_a_clear_400(env: Any, path: str, body: dict[str, Any], fmt: str, param: str | None) -> None:
    _, api = env
    response = api.post(path, json=body)
    if param is None and response.status_code == 200:  # counted structurally: also fine
        assert "input_tokens" in response.json()
    else:
        assert response.status_code == 400, response.text
        error = error_of(fmt, response)
        if param and fmt == "openai":
            assert error["param"] == param
        if param:
            assert repr(param) in error["message"]
    same_connection(api, response)


INT_FIELDS = [
    ("POST", "/api/providers", {"provider": "openai", "name": "big", "url": "http://127.0.0.1:9/v1", "priority": BIG}),
    ("POST", "/api/providers", {"provider": "openai", "name": "big", "url": "http://127.0.0.1:9/v1", "maxConcurrent": BIG}),
    ("POST", "/api/providers", {"provider": "openai", "name": "big", "url": "http://127.0.0.1:9/v1", "priority": -BIG}),
    ("POST", "/api/combos", {"name": "big", "model": "m", "nodes": [{"connectionId": "mk", "weight": BIG}]}),
    ("POST", "/api/combos", {"name": "big", "model": "m", "nodes": [{"connectionId": "mk", "priority": BIG}]}),
    ("POST", "/api/fallback/chains", {"model": "big", "chain": [{"provider": "mk", "priority": BIG}]}),
]


@pytest.mark.parametrize(("method", "path", "body"), INT_FIELDS)
def test_integers_past_the_database_columns_are_a_clear_422(env: Any, method: str, path: str, body: Any) -> None:
    _, api = env
    response = api.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert "less than or equal" in response.text or "greater than or equal" in response.text
    same_connection(api, response)


def test_patching_a_provider_with_a_huge_priority_is_a_clear_422(env: Any) -> None:
    _, api = env
    connection = api.get("/api/providers").json()["connections"][0]
    for field in ("priority", "maxConcurrent"):
        response = api.patch(f"/api/providers/{connection['id']}", json={field: BIG})
        assert response.status_code == 422, response.text
        same_connection(api, response)
    assert api.get("/api/providers").json()["connections"][0]["priority"] == connection["priority"]


BAD_NAMES = ["nul\x00name", "line\nbreak", "tab\tname", "esc\x1bname", "del\x7fname", "c1\x85name", "lone\ud800"]
NAME_FIELDS = [
    ("POST", "/api/models/alias", lambda n: {"alias": n, "target": "mk/m"}),
    ("POST", "/api/models/alias", lambda n: {"alias": "ok-alias", "target": n}),
    ("POST", "/api/combos", lambda n: {"name": n, "model": "m", "nodes": [{"connectionId": "mk"}]}),
    ("POST", "/api/combos", lambda n: {"name": "ok-combo", "model": n, "nodes": [{"connectionId": "mk"}]}),
    ("POST", "/api/keys", lambda n: {"label": n}),
    ("POST", "/api/providers", lambda n: {"provider": "openai", "name": n, "url": "http://127.0.0.1:9/v1"}),
    ("POST", "/api/fallback/chains", lambda n: {"model": n, "chain": [{"provider": "mk"}]}),
    ("PUT", "/api/tools/agent-bridge/agents/claude-code/mappings", lambda n: {"mappings": [{"source": n, "target": "mk/m"}]}),
    ("POST", "/api/tools/traffic-inspector/sessions", lambda n: {"name": n}),
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=["nul", "lf", "tab", "esc", "del", "c1", "surrogate"])
@pytest.mark.parametrize(("method", "path", "body"), NAME_FIELDS, ids=[f"{m} {p}" for m, p, _ in NAME_FIELDS])
def test_control_characters_in_names_are_refused_and_nothing_is_stored(
    env: Any, method: str, path: str, body: Any, name: str
) -> None:
    _, api = env
    before = {p: api.get(p).text for p in (
        "/api/models/alias", "/api/combos", "/api/keys", "/api/providers", "/api/fallback/chains")}
    # The JSON text carries the escape (httpx could not encode a lone surrogate as UTF-8).
    response = api.request(method, path, content=json.dumps(body(name)), headers={"content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    message = error_of("management", response)["message"]
    assert any(why in message for why in ("control characters", "letters, digits", "unicode string")), message
    after = {p: api.get(p).text for p in before}
    assert after == before, "a refused name was stored"
    same_connection(api, response)


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


NESTED_ROUTES = [
    ("/v1/chat/completions", b'{"model": "mk/m", "messages": %s}', "openai"),
    ("/v1/messages", b'{"model": "mk/m", "max_tokens": 8, "messages": [{"role": "user", "content": %s}]}', "anthropic"),
    ("/v1/messages/count_tokens", b'{"model": "mk/m", "messages": %s}', "anthropic"),
    ("/v1/responses", b'{"model": "mk/m", "input": %s}', "openai"),
    ("/v1/embeddings", b'{"model": "mk/e", "input": %s}', "openai"),
    ("/v1/api/chat", b'{"model": "mk/m", "stream": false, "messages": %s}', "ollama"),
    ("/v1beta/models/mk/m:generateContent", b'{"contents": %s}', "gemini"),
    ("/v1/chat/completions", b'{"model": "mk/m", "messages": [], "tools": [{"x": %s}]}', "openai"),
    ("/api/combos", b'{"name": "deep", "model": "m", "nodes": %s}', "management"),
    ("/api/pricing", b'{"m": %s}', "management"),
    ("/api/tools/traffic-inspector/sessions", b'{"name": "x", "extra": %s}', "management"),
]


@pytest.mark.parametrize(("path", "template", "fmt"), NESTED_ROUTES, ids=[r[0] for r in NESTED_ROUTES])
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 10, 5_000])
def test_bodies_nested_past_the_limit_are_400_and_never_forwarded(
    env: Any, mock: MockProvider, path: str, template: bytes, fmt: str, levels: int
) -> None:
    _, api = env
    response = api.request("POST", path, content=template % deep(levels), headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    assert f"more than {MAX_JSON_DEPTH} levels" in error_of(fmt, response)["message"]
    assert not [r for r in mock.requests if r["method"] == "POST"], "the body was forwarded upstream"
    same_connection(api, response)


def test_a_body_within_the_nesting_limit_is_served(env: Any, mock: MockProvider) -> None:
    _, api = env
    inner = b"[" * (MAX_JSON_DEPTH - 5) + b"]" * (MAX_JSON_DEPTH - 5)
    body = b'{"model": "mk/m", "messages": [{"role": "user", "content": "hi"}], "metadata_x": %s}' % inner
    response = api.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text[:300]


def test_a_responses_websocket_frame_nested_past_the_limit_is_an_error_frame(env: Any, mock: MockProvider) -> None:
    proc, _ = env
    frame = b'{"type": "response.create", "model": "mk/m", "input": %s}' % deep(5_000)
    with connect(f"ws://127.0.0.1:{proc.api_port}/v1/responses", open_timeout=15) as ws:
        ws.send(frame.decode())
        error = json.loads(ws.recv(timeout=15))
        assert error["type"] == "error", error
        assert f"more than {MAX_JSON_DEPTH} levels" in json.dumps(error)
        ws.send(json.dumps({"type": "response.create", "model": "mk/m", "input": "still here"}))
        assert json.loads(ws.recv(timeout=15))["type"] != "error"  # the socket serves the next frame
    assert not [r for r in mock.requests if r["method"] == "POST" and "still here" not in json.dumps(r["body"])]


@pytest.mark.parametrize("log_id", [str(10**30), "²", "9" * 19])
def test_a_call_log_id_past_the_database_integers_is_404(env: Any, log_id: str) -> None:
    """Was a 500 (OverflowError from the driver) that also reset the connection."""
    _, api = env
    response = api.get(f"/api/usage/call-logs/{log_id}")
    assert response.status_code == 404, response.text
    assert "not found" in error_of("management", response)["message"]
    same_connection(api, response)
