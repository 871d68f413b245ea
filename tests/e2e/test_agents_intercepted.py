"""The real Gemini CLI and Qwen Code (from npm) through the HTTP_PROXY listener, each mapped to
an Anthropic-format provider served by the mock.

Each agent gets what `omniroute env AGENT` prints (HTTPS_PROXY, NO_PROXY, its CA variable), a
fake key and a throwaway HOME, and calls its own provider host: Gemini CLI the Gemini API
(API-key mode), Qwen Code api.openai.com, a host it shares with Codex. Each prints the mock's
reply for the model its own mapping names, and its calls show under its own agent in the
inspector.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omniroute.translate.anthropic_json import JSON_TOOL
from tests.e2e.agents_support import (
    GEMINI_CLI,
    QWEN_CODE,
    agent_env,
    inspector_rows,
    install_agents,
)
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

pytestmark = pytest.mark.e2e

PROMPT = "say hello"


@pytest.fixture(scope="module")
def agent_bin() -> Path:
    return install_agents(GEMINI_CLI, QWEN_CODE)


@pytest.fixture(scope="module")
def omni(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(bridge=False) as process:
        process.add_provider("anthropic", "mockant", mock_provider.url, api_key="sk-ant-test-provider-0001")
        process.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
        yield process


def run_agent(env: dict[str, str], settings: Path, content: dict[str, Any], command: list[str]) -> str:
    assert Path(env["NODE_EXTRA_CA_CERTS"]).is_file()  # `omniroute env` names our CA for Node agents
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps(content))
    work = Path(env["HOME"]) / "work"
    work.mkdir()
    result = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    return result.stdout


def test_gemini_cli_mapped_to_an_anthropic_provider(omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider) -> None:
    omni.map_models("gemini-cli", {"*": "mockant/gemini-mapped"})
    env = agent_env(omni, "gemini-cli", GEMINI_API_KEY="AIza-fake-key-for-tests", GEMINI_CLI_TRUST_WORKSPACE="true")
    settings = {"security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False}}
    try:
        # No --model: Gemini CLI's router first asks the model which model to use, in JSON mode.
        output = run_agent(env, Path(env["HOME"]) / ".gemini" / "settings.json", settings,
                           [str(agent_bin / "gemini"), "-p", PROMPT])
    finally:
        omni.map_models("gemini-cli", {})
    # The mock echoes the last user text, which Gemini CLI fills with its session context.
    assert output.startswith("mock reply from gemini-mapped: "), output
    sent = mock.requests_to("/v1/messages")
    assert sent and {r["body"]["model"] for r in sent} == {"gemini-mapped"}
    # The router's JSON-mode call went out as a forced tool, once: answered at once, no retry.
    router = [r for r in sent if [t["name"] for t in r["body"].get("tools", [])] == [JSON_TOOL]]
    assert len(router) == 1 and router[0]["body"]["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    calls = [r for r in inspector_rows(omni, "gemini-cli") if r["mappedModel"]]
    assert calls and all(r["host"] == "generativelanguage.googleapis.com" and r["source"] == "http-proxy"
                         and r["mappedModel"] == "mockant/gemini-mapped" and r["status"] == 200 for r in calls), calls
    assert all(r["path"].startswith("/v1beta/models/") for r in calls)


# Qwen Code's default model goes to DashScope; another model with OPENAI_BASE_URL to
# api.openai.com, a host it shares with Codex, or to openrouter.ai, which it shares with OpenCode.
QWEN_HOSTS = [
    ("qwen3-coder-plus", {}, "dashscope.aliyuncs.com", "/compatible-mode/v1/chat/completions"),
    ("gpt-4.1", {"OPENAI_BASE_URL": "https://api.openai.com/v1"}, "api.openai.com", "/v1/chat/completions"),
    ("qwen/qwen3-coder", {"OPENAI_BASE_URL": "https://openrouter.ai/api/v1"}, "openrouter.ai",
     "/api/v1/chat/completions"),
]
# The agents whose hosts Qwen Code shares: their mappings must not catch its calls.
HOST_SHARERS = ("codex", "open-code")


@pytest.mark.parametrize(("model", "extra", "host", "path"), QWEN_HOSTS, ids=[h[2] for h in QWEN_HOSTS])
def test_qwen_code_mapped_to_an_anthropic_provider(
    omni: OmniRouteProcess, agent_bin: Path, mock: MockProvider, model: str, extra: dict[str, str], host: str, path: str
) -> None:
    for sharer in HOST_SHARERS:
        omni.map_models(sharer, {"*": "mock/sharer-mapped"})
    omni.map_models("qwen-code", {"*": "mockant/qwen-mapped"})
    env = agent_env(omni, "qwen-code", OPENAI_API_KEY="sk-fake-openai-key-for-tests", **extra)
    settings = {"security": {"auth": {"selectedType": "openai"}}, "model": {"name": model},
                "privacy": {"usageStatisticsEnabled": False}}
    try:
        output = run_agent(env, Path(env["HOME"]) / ".qwen" / "settings.json", settings,
                           [str(agent_bin / "qwen"), "-p", PROMPT])
    finally:
        for agent in (*HOST_SHARERS, "qwen-code"):
            omni.map_models(agent, {})
    # The mock echoes the last user text, which Qwen Code fills with its own reminders.
    assert output.startswith("mock reply from qwen-mapped: "), output
    assert {r["body"]["model"] for r in mock.requests_to("/v1/messages")} == {"qwen-mapped"}
    assert mock.requests_to("/v1/responses") == [] and mock.requests_to("/v1/chat/completions") == []
    calls = [r for r in inspector_rows(omni, "qwen-code") if r["mappedModel"] and r["host"] == host]
    assert calls and all(r["path"] == path and r["sourceModel"] == model and r["mappedModel"] == "mockant/qwen-mapped"
                         and r["status"] == 200 for r in calls), calls
    for sharer in HOST_SHARERS:
        assert not [r for r in inspector_rows(omni, sharer) if r["host"] == host]
