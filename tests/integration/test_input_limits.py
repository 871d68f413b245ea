"""Bad input beyond ``test_bad_input.py``: the body limit on every route (management, inspector,
Gemini, Responses, embeddings), errors on ``/v1/embeddings`` in OpenAI's format, control
characters in a model name, and path traversal through the UI's static route.

One real process on loopback; raw sockets where the bytes on the wire are the point.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from omniroute.api.body import MAX_BODY_BYTES
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

MSG = [{"role": "user", "content": "hello"}]
LIMIT = f"limit of {MAX_BODY_BYTES} bytes"


@pytest.fixture(scope="module")
def env(mock_provider: MockProvider) -> Iterator[tuple[OmniRouteProcess, httpx.Client]]:
    with OmniRouteProcess(proxy=False, bridge=False) as proc:
        proc.add_provider("openai", "mk", f"{mock_provider.url}/v1", api_key="sk-mk-limits-0001")
        with proc.api() as api:
            yield proc, api


def raw_exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` as is; the status and body of the answer (the server closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(request)
        chunks = []
        for _ in range(1000):  # bounded read until the server closes
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def declared_oversize(port: int, method: str, path: str) -> tuple[int, bytes]:
    """A request announcing a body past the limit and sending only its first bytes."""
    head = (f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {MAX_BODY_BYTES + 1}\r\nconnection: close\r\n\r\n").encode()
    return raw_exchange(port, head + b'{"pad": "')


def error_message(fmt: str, body: dict[str, Any]) -> str:
    if fmt == "anthropic":
        assert body["type"] == "error"
    if fmt == "gemini":
        assert isinstance(body["error"]["code"], int) and body["error"]["status"].isupper()
    if fmt == "openai":
        assert body["error"]["type"] and "param" in body["error"]
    if fmt == "management":
        assert set(body) == {"error"}
    return str(body["error"]["message"])


ROUTES = [
    ("POST", "/api/combos", "management"),
    ("POST", "/api/providers", "management"),
    ("PUT", "/api/tools/agent-bridge/agents/claude-code/mappings", "management"),
    ("POST", "/api/tools/traffic-inspector/sessions", "management"),
    ("PATCH", "/api/resilience", "management"),
    ("POST", "/v1/embeddings", "openai"),
    ("POST", "/v1/responses", "openai"),
    ("POST", "/v1/messages/count_tokens", "anthropic"),
    ("POST", "/v1beta/models/mk/m:generateContent", "gemini"),
]


@pytest.mark.parametrize(("method", "path", "fmt"), ROUTES)
def test_a_declared_oversize_body_is_413_on_every_route(env: Any, method: str, path: str, fmt: str) -> None:
    proc, _ = env
    status, body = declared_oversize(proc.api_port, method, path)
    assert status == 413, body[:300]
    assert LIMIT in error_message(fmt, json.loads(body))


@pytest.mark.parametrize("path", ["/api/combos", "/api/tools/traffic-inspector/sessions"])
def test_a_chunked_oversize_body_is_cut_off_at_the_limit_on_management_routes(env: Any, path: str) -> None:
    _, api = env

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 2):  # bounded: just past the limit
            yield b"x" * (1 << 20)
        yield b'"}'

    response = api.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text[:300]
    assert LIMIT in error_message("management", response.json())
    assert api.get("/api/combos").status_code == 200  # and the process is fine


@pytest.mark.parametrize(("path", "fmt"), [
    ("/v1/chat/completions", "openai"), ("/v1/messages", "anthropic"), ("/v1/embeddings", "openai"),
    ("/v1beta/models/mk/m:generateContent", "gemini"), ("/api/combos", "management"),
])
def test_a_body_nested_past_the_json_decoders_depth_is_a_clear_400(env: Any, path: str, fmt: str) -> None:
    _, api = env
    deep = b'{"model": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = api.post(path, content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    message = error_message(fmt, response.json())
    assert "levels deep" in message  # management too: refused as the body arrives
    assert api.get("/api/combos").status_code == 200  # the keep-alive connection was not dropped


# --------------------------------------------------------------------------- /v1/embeddings


@pytest.mark.parametrize(("raw", "status", "says"), [
    (b"{not json", 400, "not valid JSON"),
    (b'{"input": "a"}', 400, "'model' is required"),
    (b'{"model": 5, "input": "a"}', 400, "'model' is required"),
    (b'{"model": "nowhere/x", "input": "a"}', 404, "nowhere/x"),
])
def test_embeddings_errors_come_in_openai_format(env: Any, raw: bytes, status: int, says: str) -> None:
    _, api = env
    response = api.post("/v1/embeddings", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert says in error_message("openai", response.json())


def test_embeddings_upstream_failure_comes_in_openai_format(env: Any, mock: MockProvider) -> None:
    _, api = env
    mock.add_fault(500, model="broken-embedder")
    api.post("/api/resilience/reset", json={})
    response = api.post("/v1/embeddings", json={"model": "mk/broken-embedder", "input": "a"})
    assert response.status_code == 500 and "internal error" not in response.text
    assert "mk answered 500" in error_message("openai", response.json())
    api.post("/api/resilience/reset", json={})  # the failure cooled the connection down
    ok = api.post("/v1/embeddings", json={"model": "mk/text-embedding-3-small", "input": "a"})
    assert ok.status_code == 200 and ok.json()["data"][0]["embedding"]


# --------------------------------------------------------------------------- control characters


@pytest.mark.parametrize("model", ["mk/a\nx-evil: 1", "mk/a\x00b", "mk/a\u2028b"])
def test_control_characters_in_a_model_name_are_a_clear_400(env: Any, mock: MockProvider, model: str) -> None:
    proc, _ = env
    with httpx.Client(base_url=proc.api_url, timeout=30, trust_env=False) as client:
        response = client.post("/v1/chat/completions", json={"model": model, "messages": MSG})
    assert response.status_code == 400, response.text
    assert "model" in error_message("openai", response.json())
    assert not mock.requests, "a model name no upstream can take was sent upstream"


# --------------------------------------------------------------------------- path traversal


@pytest.mark.parametrize("path", [
    "/static/../../pyproject.toml",
    "/static/%2e%2e/%2e%2e/pyproject.toml",
    "/static/..%2f..%2fpyproject.toml",
    "/static/%2e%2e%2f%2e%2e%2fomniroute%2fconfig.py",
    "/static//etc/passwd",
    "/static/..\\..\\pyproject.toml",
])
def test_the_static_route_never_serves_a_file_outside_its_directory(env: Any, path: str) -> None:
    proc, _ = env
    request = f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{proc.api_port}\r\nconnection: close\r\n\r\n"
    status, body = raw_exchange(proc.api_port, request.encode())
    assert status == 404, body[:300]
    assert b"[project]" not in body and b"root:" not in body and b"class Settings" not in body
