"""A user's own agent, created by `omniroute agents add` on a running server and routed by curl.

The agent is unknown to OmniRoute until the CLI adds it; then curl, sent through the HTTP_PROXY
listener with OmniRoute's CA, calls the agent's host, the call is mapped to the mock provider,
and the inspector's row names the agent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import OmniRouteProcess, free_port
from tests.support.mock_provider import MockProvider

CLI = str(Path(sys.executable).parent / "omniroute")
HOST = "llm.my-own-agent.test"


def omniroute(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The CLI's settings name another API port: it must find the server by the home's run file.
    env = {**os.environ, "OMNIROUTE_HOME": str(home), "OMNIROUTE_HOSTS_FILE": str(home / "hosts"),
           "OMNIROUTE_API_PORT": str(free_port())}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


def curl(omni: OmniRouteProcess, user_agent: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env |= {"HTTPS_PROXY": omni.proxy_url, "CURL_CA_BUNDLE": str(omni.ca_cert)}
    body = json.dumps({"model": "my-model", "messages": [{"role": "user", "content": "hello"}]})
    return subprocess.run(
        ["curl", "-sS", "--max-time", "30", "-H", "content-type: application/json", "-A", user_agent,
         "--data", body, f"https://{HOST}/v1/chat/completions"],
        capture_output=True, text=True, timeout=60, env=env, check=False)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_agents_add_then_curl_through_the_proxy(tmp_path: Path, mock_provider: MockProvider) -> None:
    offline = omniroute(tmp_path, "agents", "add", "mine", "--host", HOST, "--wire-format", "openai-chat")
    assert offline.returncode == 1 and "no OmniRoute server is running" in offline.stderr
    with OmniRouteProcess(tmp_path, bridge=False) as omni:
        omni.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
        added = omniroute(tmp_path, "agents", "add", "mine", "--name", "My agent", "--host", HOST,
                          "--user-agent", "my-agent/", "--wire-format", "openai-chat")
        assert added.returncode == 0, added.stderr
        assert "mine: added to the OmniRoute server running on this home" in added.stdout
        builtin = omniroute(tmp_path, "agents", "remove", "codex")
        assert builtin.returncode == 2 and "built-in" in builtin.stderr
        bad = omniroute(tmp_path, "map", "mine", "*=nosuch/model")
        assert bad.returncode == 2 and "does not resolve" in bad.stderr and "mock/model" in bad.stderr
        mapped = omniroute(tmp_path, "map", "mine", "*=mock/gpt-mine")
        assert mapped.returncode == 0, mapped.stderr
        table = omniroute(tmp_path, "agents")
        assert any(line.split()[:2] == ["mine", "yes"] for line in table.stdout.splitlines()), table.stdout
        env = omniroute(tmp_path, "env", "mine")
        assert f"export HTTPS_PROXY=http://127.0.0.1:{omni.proxy_port}" in env.stdout.splitlines()

        result = curl(omni, "my-agent/1.0")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["choices"][0]["message"]["content"] == "mock reply from gpt-mine: hello"
        assert mock_provider.requests[-1]["body"]["model"] == "gpt-mine"
        with omni.api() as api:
            rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": "mine"}).json()["requests"]
        assert rows and rows[0]["host"] == HOST and rows[0]["agent"] == "mine"
        assert (rows[0]["sourceModel"], rows[0]["mappedModel"]) == ("my-model", "mock/gpt-mine")

        edited = omniroute(tmp_path, "agents", "edit", "mine", "--name", "Renamed")
        assert edited.returncode == 0 and "name: Renamed" in edited.stdout and HOST in edited.stdout
        removed = omniroute(tmp_path, "agents", "remove", "mine")
        assert removed.returncode == 0, removed.stderr
        assert not any(line.startswith("mine ") for line in omniroute(tmp_path, "agents").stdout.splitlines())
