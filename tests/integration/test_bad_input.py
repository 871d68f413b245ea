"""Bad input gets a clear 4xx in the caller's own API format, never a 500 or a stack trace.

OpenAI shape on ``/v1/chat/completions``, Anthropic on ``/v1/messages``, Gemini on ``/v1beta``,
``{"error": {"message"}}`` on ``/api``. One real process, one mock provider behind two
connections (an OpenAI-compatible one and an Anthropic one), so translated routes are covered.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from omniroute.api.body import MAX_BODY_BYTES
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

BRIDGE = "/api/tools/agent-bridge"
MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[OmniRouteProcess, MockProvider, httpx.Client]]:
    with MockProvider() as mock, OmniRouteProcess(proxy=False, bridge=False) as proc:
        proc.add_provider("openai", "mk", f"{mock.url}/v1", api_key="sk-mk-test-0001")
        proc.add_provider("anthropic", "an", mock.url, api_key="sk-an-test-0001")
        with proc.api() as api:
            yield proc, mock, api


def openai_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type"} and isinstance(error["message"], str)
    assert "Traceback" not in response.text
    return str(error["message"])


def anthropic_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and isinstance(body["error"]["type"], str)
    return str(body["error"]["message"])


def gemini_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["status"].isupper()
    return str(error["message"])


def management_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    return str(body["error"]["message"])


SHAPES = {
    "/v1/chat/completions": openai_error,
    "/api/v1/chat/completions": openai_error,
    "/v1/messages": anthropic_error,
    "/v1beta/models/mk/m:generateContent": gemini_error,
}


# --------------------------------------------------------------------------- malformed JSON, types


@pytest.mark.parametrize("path", list(SHAPES))
@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\xff\xfe", b'"just a string"'])
def test_malformed_json_is_400_in_the_callers_format(env: Any, path: str, raw: bytes) -> None:
    _, _, api = env
    response = api.post(path, content=raw, headers={"content-type": "application/json"})
    message = SHAPES[path](response, 400)
    assert "JSON" in message or "empty" in message


def test_malformed_json_on_management_is_422_in_management_format(env: Any) -> None:
    _, _, api = env
    response = api.post("/api/combos", content=b"{bad", headers={"content-type": "application/json"})
    assert "JSON" in management_error(response, 422) or "decode" in response.text


@pytest.mark.parametrize("model", [5, None, "", ["mk/a"], {"x": 1}])
def test_model_of_the_wrong_type_is_named(env: Any, model: Any) -> None:
    _, _, api = env
    response = api.post("/v1/chat/completions", json={"model": model, "messages": MSG})
    assert "model" in openai_error(response, 400)
    assert response.json()["error"]["param"] == "model"
    response = api.post("/v1/messages", json={"model": model, "max_tokens": 5, "messages": MSG})
    assert "model" in anthropic_error(response, 400)


@pytest.mark.parametrize("messages", ["hi", 5, {"role": "user"}, [5], [{"role": "user", "content": {"x": 1}}]])
def test_wrong_message_types_on_a_translated_route_are_400(env: Any, messages: Any) -> None:
    _, mock, api = env
    mock.clear()
    # Anthropic client → OpenAI-compatible connection: our translator reads the body.
    response = api.post("/v1/messages", json={"model": "mk/a", "max_tokens": 5, "messages": messages})
    anthropic_error(response, 400)
    # OpenAI client → Anthropic connection.
    response = api.post("/v1/chat/completions", json={"model": "an/a", "messages": messages})
    openai_error(response, 400)
    assert not mock.requests, "garbage must not reach the upstream"


def test_gemini_contents_of_the_wrong_type(env: Any) -> None:
    _, _, api = env
    response = api.post("/v1beta/models/mk/m:generateContent", json={"contents": "hi"})
    gemini_error(response, 400)


# --------------------------------------------------------------------------- size


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages"])
def test_oversize_body_is_413_with_the_limit(env: Any, path: str) -> None:
    _, _, api = env
    body = b'{"model": "mk/a", "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = api.post(path, content=body, headers={"content-type": "application/json"})
    check = openai_error if "chat" in path else anthropic_error
    assert str(MAX_BODY_BYTES) in check(response, 413)


def test_oversize_chunked_body_without_length_is_413(env: Any) -> None:
    _, _, api = env

    def chunks() -> Iterator[bytes]:
        yield b'{"model": "mk/a", "pad": "'
        for _ in range(MAX_BODY_BYTES // (1 << 20) + 2):  # bounded: just past the limit
            yield b"x" * (1 << 20)
        yield b'"}'

    response = api.post("/v1/chat/completions", content=chunks())
    assert str(MAX_BODY_BYTES) in openai_error(response, 413)


# --------------------------------------------------------------------------- models, combos, mappings


def test_unknown_model_is_404_listing_close_matches(env: Any) -> None:
    _, _, api = env
    message = openai_error(api.post("/v1/chat/completions", json={"model": "mkk/x", "messages": MSG}), 404)
    assert "mkk/x" in message and "mk" in message.split("Did you mean", 1)[1]
    message = anthropic_error(api.post("/v1/messages", json={"model": "ann/x", "max_tokens": 5, "messages": MSG}), 404)
    assert "Did you mean" in message and "an" in message
    gemini_error(api.post("/v1beta/models/nothing-like-it:generateContent", json={"contents": []}), 404)


def test_invalid_combo_strategy_is_422_listing_the_supported(env: Any) -> None:
    _, _, api = env
    response = api.post("/api/combos", json={"name": "c1", "model": "c1", "strategy": "fastest", "nodes": []})
    message = management_error(response, 422)
    assert "fastest" in message
    for strategy in ("priority", "weighted", "round-robin", "p2c", "lkgp", "auto"):
        assert strategy in message


@pytest.mark.parametrize("source", ["[", "a\nb", "", "claude-[sonnet"])
def test_invalid_mapping_pattern_is_400(env: Any, source: str) -> None:
    _, _, api = env
    response = api.put(f"{BRIDGE}/agents/claude-code/mappings", json={"mappings": [{"source": source, "target": "mk/a"}]})
    assert response.status_code in (400, 422), response.text
    management_error(response, response.status_code)


# --------------------------------------------------------------------------- header injection


INJECT = "x\r\nX-Evil: injected"


@pytest.mark.parametrize("field", ["name", "url", "apiKey"])
def test_crlf_in_a_provider_field_is_refused(env: Any, mock_provider: MockProvider, field: str) -> None:
    _, mock, api = env
    body = {"provider": "openai", "name": "crlf", "url": f"{mock.url}/v1", "apiKey": "sk-ok-000001"}
    body[field] = body[field] + INJECT
    response = api.post("/api/providers", json=body)
    message = management_error(response, 422)
    assert field in message
    assert "X-Evil" not in message or field != "apiKey"  # a key is never echoed back


def test_crlf_in_a_mapping_target_is_refused(env: Any) -> None:
    _, _, api = env
    response = api.put(f"{BRIDGE}/agents/claude-code/mappings",
                       json={"mappings": [{"source": "claude-*", "target": "mk/a" + INJECT}]})
    assert response.status_code in (400, 422)
    management_error(response, response.status_code)


def _raw_request(port: int, head: bytes, body: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body)
        chunks = []
        for _ in range(1000):  # bounded read until the server closes
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


@pytest.mark.parametrize("trick", [
    b"anthropic-beta: tools-1\r\n x-evil: folded\r\n",  # obsolete line folding
    b"anthropic-beta: tools-1\rx-evil: bare-cr\r\n",  # a bare CR inside a value
    b"anthropic-beta: tools-1\nx-evil: bare-lf\r\n",  # a bare LF ends the value early
])
def test_a_forwarded_header_value_never_splits_upstream(env: Any, trick: bytes) -> None:
    proc, mock, _ = env
    mock.clear()
    body = json.dumps({"model": "an/a", "max_tokens": 5, "messages": MSG}).encode()
    head = (b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1:" + str(proc.api_port).encode()
            + b"\r\ncontent-type: application/json\r\n" + trick)
    reply = _raw_request(proc.api_port, head, body)
    status = int(reply.split(b" ", 2)[1])
    assert status in (200, 400), reply[:300]
    for seen in mock.requests:
        headers = {k.lower(): v for k, v in seen["headers"].items()}
        assert "x-evil" not in headers, headers
        assert all("\r" not in v and "\n" not in v for v in headers.values())


# --------------------------------------------------------------------------- file-path settings


def test_upstream_ca_path_traversal_and_non_pem_files(env: Any, tmp_path: Path) -> None:
    _, _, api = env
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    key_only = tmp_path / "key.pem"
    key_only.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    cases = {
        "../../etc/shadow": "absolute",
        "/etc/../etc/shadow": "..",
        "/etc": "not a regular file",
        str(not_pem): "no PEM certificates",
        str(key_only): "private key",
        str(tmp_path / "missing.pem"): "does not exist",
        "/etc/passwd\x00.pem": "NUL",
        "   ": "empty",
    }
    for path, expected in cases.items():
        response = api.post(f"{BRIDGE}/upstream-ca", json={"path": path})
        assert response.status_code in (400, 422), (path, response.text)
        message = management_error(response, response.status_code)
        assert expected in message, (path, message)
        assert "root:" not in response.text  # never the content of what was pointed at
    assert api.get(f"{BRIDGE}/upstream-ca").json()["path"] is None


def test_inspector_inputs(env: Any) -> None:
    _, _, api = env
    base = "/api/tools/traffic-inspector"
    assert "filter" in management_error(api.get(f"{base}/requests", params={"filter": "~d ("}), 400).lower()
    response = api.put(f"{base}/requests/none/annotation", json={"annotation": "a" * 10001})
    assert response.status_code in (400, 404)
    management_error(response, response.status_code)
    assert "limit" in management_error(api.get("/api/usage/call-logs", params={"limit": "abc"}), 422)
