"""The mock provider as a server: model lists through every SDK, request recording and the
control API, bad requests answered in the endpoint's format, the start-up delay, the CLI."""

from __future__ import annotations

import subprocess
import sys
import time

import anthropic
import httpx
import openai
from google import genai

from tests.support.mock_provider import MockProvider

from .mock_sdk_clients import (
    claude_fixture,  # noqa: F401 (a fixture, used by name)
    gemini_fixture,  # noqa: F401 (a fixture, used by name)
    oai_fixture,  # noqa: F401 (a fixture, used by name)
)

# --------------------------------------------------------------------------- models


def test_model_lists(oai: openai.OpenAI, claude: anthropic.Anthropic,
                     gemini: genai.Client) -> None:
    assert [m.id for m in oai.models.list()] == ["mock-model", "mock-fast", "mock-large"]
    assert oai.models.retrieve("anything").id == "anything"
    assert next(m.id for m in claude.models.list()) == "mock-model"
    assert next(m.name for m in gemini.models.list()) == "models/mock-model"


# --------------------------------------------------------------------------- recording, control


def test_recording_via_api_and_object(mock: MockProvider) -> None:
    httpx.post(f"{mock.url}/v1/chat/completions?trace=1",
               headers={"Authorization": "Bearer sk-x", "X-Custom": "yes"},
               json={"model": "m", "messages": [{"role": "user", "content": "rec"}]})
    httpx.post(f"{mock.url}/v1/messages", content=b"not json",
               headers={"content-type": "application/json"})
    httpx.get(f"{mock.url}/unknown/path")
    listed = httpx.get(f"{mock.url}/_mock/requests").json()
    assert listed == mock.requests  # control calls themselves are not recorded
    first, bad, unknown = listed
    assert (first["method"], first["path"], first["query"]) == \
        ("POST", "/v1/chat/completions", {"trace": "1"})
    assert first["headers"]["x-custom"] == "yes" and first["model"] == "m"
    assert first["body"]["messages"][0]["content"] == "rec"
    assert bad["body"] is None and bad["body_text"] == "not json"
    assert unknown["path"] == "/unknown/path"
    assert httpx.delete(f"{mock.url}/_mock/requests").status_code == 200
    assert mock.requests == [] and httpx.get(f"{mock.url}/_mock/requests").json() == []


def test_bad_requests_answer_in_endpoint_format(mock: MockProvider) -> None:
    r = httpx.post(f"{mock.url}/v1/messages", content=b"{oops")
    assert r.status_code == 400 and r.json()["type"] == "error"
    r = httpx.post(f"{mock.url}/v1/chat/completions", json={"messages": []})
    assert r.status_code == 400 and r.json()["error"]["message"] == "model is required"


def test_default_delay_before_first_byte() -> None:
    with MockProvider(delay_ms=150) as slow:
        start = time.perf_counter()
        r = httpx.post(f"{slow.url}/v1/chat/completions",
                       json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 200 and time.perf_counter() - start >= 0.15
        assert httpx.get(f"{slow.url}/_mock/health").json() == {"ok": True}


def test_cli_prints_url_and_serves() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.mock_provider",
                             "--port", "0", "--delay-ms", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("mock provider listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1]
        r = httpx.post(f"{url}/v1/chat/completions",
                       json={"model": "cli", "messages": [{"role": "user", "content": "up"}]})
        assert r.json()["choices"][0]["message"]["content"] == "mock reply from cli: up"
        port = url.rsplit(":", 1)[-1]
        busy = subprocess.run([sys.executable, "-m", "tests.support.mock_provider",
                               "--port", port], capture_output=True, text=True, timeout=30,
                              check=False)
        assert busy.returncode != 0
        assert busy.stderr.count("\n") == 1 and f":{port}" in busy.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
