"""Foundation: one process, first request end to end, through the API and through the proxy."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.harness import REPO_ROOT, OmniRouteProcess, free_port
from tests.support.mock_provider import MockProvider

MESSAGES = [{"role": "user", "content": "hello from the foundation test"}]


def _provider(omniroute: OmniRouteProcess, mock: MockProvider, name: str) -> None:
    with omniroute.api() as api:
        existing = {c["name"] for c in api.get("/api/providers").json()["connections"]}
    if name not in existing:
        omniroute.add_provider("openai", name, f"{mock.url}/v1", api_key="sk-test-provider-key-0001")


def test_health_reports_version_uptime_and_listeners(omniroute: OmniRouteProcess) -> None:
    with omniroute.api() as api:
        short = api.get("/health").json()
        full = api.get("/api/monitoring/health").json()
    assert short["status"] == "ok" and short["version"] and short["uptime"] >= 0
    states = {item["name"]: (item["port"], item["state"]) for item in short["listeners"]}
    assert states == {
        "api": (omniroute.api_port, "running"),
        "http-proxy": (omniroute.proxy_port, "running"),
        "agent-bridge": (omniroute.bridge_port, "running"),
    }
    assert full["listeners"] == short["listeners"] and "circuitBreakers" in full
    collections = full["memory"]["gcCollections"]  # by generation, since the start
    assert len(collections) == 3 and all(isinstance(count, int) and count >= 0 for count in collections)


def test_demo_provider_answers_without_key_or_network(omniroute: OmniRouteProcess) -> None:
    with omniroute.api() as api:
        response = api.post("/v1/chat/completions", json={"model": "demo/echo", "messages": MESSAGES})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == (
        "demo reply from echo: hello from the foundation test"
    )


def test_created_provider_serves_openai_sdk_unchanged(omniroute: OmniRouteProcess, mock: MockProvider) -> None:
    _provider(omniroute, mock, "mock")
    client = openai.OpenAI(base_url=f"{omniroute.api_url}/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(model="mock/gpt-test", messages=MESSAGES)
    assert completion.choices[0].message.content == "mock reply from gpt-test: hello from the foundation test"
    assert completion.usage is not None and completion.usage.prompt_tokens == 5
    upstream = mock.requests[-1]
    assert upstream["path"] == "/v1/chat/completions"
    assert upstream["body"]["model"] == "gpt-test"
    assert upstream["headers"]["authorization"] == "Bearer sk-test-provider-key-0001"

    # Unchanged: the same call made directly to the provider has exactly the same shape.
    direct = httpx.post(f"{mock.url}/v1/chat/completions", json={"model": "gpt-test", "messages": MESSAGES}).json()
    routed = completion.model_dump(exclude_unset=True)
    assert set(routed) == set(direct)
    assert routed["choices"] == direct["choices"] and routed["usage"] == direct["usage"]


def test_created_provider_streams_through_openai_sdk(omniroute: OmniRouteProcess, mock: MockProvider) -> None:
    _provider(omniroute, mock, "mock")
    client = openai.OpenAI(base_url=f"{omniroute.api_url}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="mock/gpt-test", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "mock reply from gpt-test: hello from the foundation test"
    assert len([c for c in chunks if c.choices]) > 3, "the reply must arrive as several events"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 9


def test_mapped_agent_call_through_http_proxy_is_routed_and_streamed(
    omniroute: OmniRouteProcess, mock: MockProvider
) -> None:
    _provider(omniroute, mock, "mock")
    omniroute.map_models("codex", {"*": "mock/gpt-mapped"})
    http_client = httpx.Client(proxy=omniroute.proxy_url, verify=omniroute.ssl_context(), trust_env=False)
    client = openai.OpenAI(
        base_url="https://api.openai.com/v1", api_key="sk-agent-own-key", http_client=http_client, max_retries=0
    )
    completion = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert completion.headers["x-omniroute-model"] == "gpt-mapped"
    assert completion.parse().choices[0].message.content == (
        "mock reply from gpt-mapped: hello from the foundation test"
    )
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "mock reply from gpt-mapped: hello from the foundation test"
    seen = [r for r in mock.requests if r["path"] == "/v1/chat/completions"]
    assert [r["body"]["model"] for r in seen[-2:]] == ["gpt-mapped", "gpt-mapped"]
    # The agent's own key never reaches the provider; the connection's key does.
    assert all(r["headers"]["authorization"] == "Bearer sk-test-provider-key-0001" for r in seen[-2:])

    # Both calls were captured as the agent made them: original host, source → mapped model.
    with omniroute.api() as api:
        rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": "codex"}).json()["requests"]
    assert len(rows) >= 2
    for row in rows[:2]:
        assert (row["host"], row["path"], row["status"]) == ("api.openai.com", "/v1/chat/completions", 200)
        assert (row["sourceModel"], row["mappedModel"], row["source"]) == ("gpt-4o", "mock/gpt-mapped", "http-proxy")
        assert "sk-agent-own-key" not in str(row)
    with omniroute.api() as api:
        detail = api.get(f"/api/tools/traffic-inspector/requests/{rows[0]['id']}").json()
    assert detail["merged"]["message"]["choices"][0]["message"]["content"].startswith("mock reply from gpt-mapped")


def test_bad_requests_get_errors_in_the_callers_format(omniroute: OmniRouteProcess) -> None:
    with omniroute.api() as api:
        openai_style = api.post("/v1/chat/completions", content=b"{not json")
        anthropic_style = api.post("/v1/messages", json={"model": "nope/x", "max_tokens": 5, "messages": []})
        management = api.post("/api/providers", json={"provider": "openai", "url": "ftp://x"})
    assert openai_style.status_code == 400 and "not valid JSON" in openai_style.json()["error"]["message"]
    assert anthropic_style.status_code == 404
    assert anthropic_style.json()["type"] == "error" and "nope/x" in anthropic_style.json()["error"]["message"]
    assert management.status_code == 422
    assert management.json()["error"]["details"][0]["field"] == "url"


def test_provider_key_is_encrypted_at_rest_and_never_returned(omniroute: OmniRouteProcess, mock: MockProvider) -> None:
    _provider(omniroute, mock, "mock")
    with omniroute.api() as api:
        listing = api.get("/api/providers").text
    assert "sk-test-provider-key-0001" not in listing and "…0001" in listing
    assert b"sk-test-provider-key-0001" not in (omniroute.home / "omniroute.db").read_bytes()
    assert (omniroute.home / "secret.key").stat().st_mode & 0o777 == 0o600


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    omniroute_bin = str(Path(sys.executable).parent / "omniroute")
    return subprocess.run(
        [omniroute_bin, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run_cli("run", "--home", str(tmp_path), "--api-port", "0", "--bridge-port", "0",
                          "--proxy-port", str(port))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port}" in lines[0] and "--proxy-port" in lines[0]


def test_unusable_home_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = _run_cli("run", "--home", str(blocker / "home"), "--api-port", str(free_port()))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "home directory" in lines[0] and "--home" in lines[0], result.stderr


def test_missing_python_312_is_one_clear_line(tmp_path: Path) -> None:
    for name in ("scripts", "pyproject.toml", "uv.lock"):
        source = REPO_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "no-pyenv")}
    result = subprocess.run(["bash", "scripts/setup"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Python >= 3.12 is required" in result.stderr


def test_sigterm_and_sigint_shut_down_cleanly() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        process = OmniRouteProcess().start()
        code = process.stop(sig)
        log = process.log()
        process.close()
        assert code == 0, log
        assert "Traceback" not in log, log


def test_mitmdump_script_brings_up_the_same_process(mock: MockProvider) -> None:
    with OmniRouteProcess(demo=True, via_mitmdump=True) as process:
        with process.api() as api:
            health = api.get("/health").json()
            reply = api.post("/v1/chat/completions", json={"model": "demo/echo", "messages": MESSAGES})
        assert {l["name"]: l["state"] for l in health["listeners"]} == {
            "api": "running", "http-proxy": "running", "agent-bridge": "running"
        }
        assert reply.json()["choices"][0]["message"]["content"].startswith("demo reply from echo")
