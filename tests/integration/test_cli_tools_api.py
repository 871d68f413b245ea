"""`/api/cli-tools` on a real server whose HOME is a temporary directory: settings applied, read
back, reset and restored through the API; direct calls made with what the writer stored are
attributed to the agent (its mappings, usage rows, inspector rows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx

from tests.integration.agents_home_support import home_fixture, omni_fixture  # noqa: F401 - fixtures
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

CLAUDE_SETTINGS = """{
  "permissions": {
    "allow": [
      "Bash(npm test)"
    ]
  },
  "env": {
    "DISABLE_TELEMETRY": "1"
  },
  "includeCoAuthoredBy": false
}
"""


def _claude_file(home: Path) -> Path:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _inspector(omni: OmniRouteProcess, agent: str) -> list[dict[str, Any]]:
    with omni.api() as api:
        return api.get("/api/tools/traffic-inspector/requests", params={"agent": agent}).json()["requests"]


def _usage(omni: OmniRouteProcess, agent: str) -> list[dict[str, Any]]:
    with omni.api() as api:
        return api.get("/api/usage/call-logs", params={"agent": agent}).json()["items"]


def test_claude_code_settings_round_trip_and_a_direct_call(omni: OmniRouteProcess, home: Path, mock: MockProvider) -> None:
    path = _claude_file(home)
    path.write_text(CLAUDE_SETTINGS)
    omni.map_models("claude-code", {"*": "mock/claude-direct"})
    with omni.api() as api:
        applied = api.post("/api/cli-tools/claude-settings", json={"model": "claude-opus-4-1"})
        assert applied.status_code == 200, applied.text
        assert applied.json()["configured"] is True and applied.json()["baseUrl"] == omni.api_url
        env = json.loads(path.read_text())["env"]
        assert env["ANTHROPIC_BASE_URL"] == omni.api_url and env["ANTHROPIC_MODEL"] == "claude-opus-4-1"
        assert env["DISABLE_TELEMETRY"] == "1"
        assert api.get("/api/cli-tools/claude-code-settings").json()["configured"] is True
        runtime = api.get("/api/cli-tools/runtime/claude-code").json()
        assert (runtime["mode"], runtime["configured"], runtime["agent"]) == ("direct", True, "claude-code")
        keys = api.get("/api/keys").json()["keys"]
        assert [k["label"] for k in keys if k["isActive"]] == ["cli-tool:claude-code"]

    # What Claude Code does with these settings: the official SDK, base URL and token from the file.
    client = anthropic.Anthropic(base_url=env["ANTHROPIC_BASE_URL"], auth_token=env["ANTHROPIC_AUTH_TOKEN"], api_key=None)
    reply = client.messages.create(model=env["ANTHROPIC_MODEL"], max_tokens=64,
                                   messages=[{"role": "user", "content": "hello direct"}])
    assert reply.content[0].text.startswith("mock reply from claude-direct: ")  # type: ignore[union-attr]
    assert {r["body"]["model"] for r in mock.requests_to("/v1/chat/completions")} == {"claude-direct"}
    rows = [r for r in _inspector(omni, "claude-code") if r["path"] == "/v1/messages"]
    assert rows and rows[0]["source"] == "direct" and rows[0]["status"] == 200
    assert (rows[0]["sourceModel"], rows[0]["mappedModel"]) == ("claude-opus-4-1", "mock/claude-direct")
    assert env["ANTHROPIC_AUTH_TOKEN"] not in json.dumps(rows[0])  # masked like a captured row
    usage = _usage(omni, "claude-code")
    assert usage and usage[0]["source"] == "direct" and usage[0]["modelUsed"] == "claude-direct"

    with omni.api() as api:
        reset = api.delete("/api/cli-tools/claude-settings")
        assert reset.status_code == 200 and reset.json()["configured"] is False
        assert path.read_text() == CLAUDE_SETTINGS
        assert not [k for k in api.get("/api/keys").json()["keys"] if k["isActive"]]
        assert api.get("/api/cli-tools/runtime/claude").json()["mode"] == "off"

        # Restore the backup taken before the first apply: the original again, byte for byte.
        backups = api.get("/api/cli-tools/backups", params={"tool": "claude-code"}).json()["backups"]
        assert {b["reason"] for b in backups} >= {"apply", "reset"}
        first_apply = [b for b in backups if b["reason"] == "apply"][-1]
        api.post("/api/cli-tools/claude-settings").raise_for_status()
        restored = api.post("/api/cli-tools/backups", json={"restore": first_apply["id"]})
        assert restored.status_code == 200 and restored.json()["restored"]["id"] == first_apply["id"]
        assert path.read_text() == CLAUDE_SETTINGS
        made = api.post("/api/cli-tools/backups", json={"tool": "claude"}).json()["backup"]
        assert made["reason"] == "manual" and made["files"] == [{"path": str(path), "existed": True}]
        missing = api.post("/api/cli-tools/backups", json={"restore": "20260101T000000000000Z-x-abcdef"})
        assert missing.status_code == 404 and "no backup" in missing.json()["error"]["message"]


def test_a_settings_file_that_does_not_parse_is_refused(omni: OmniRouteProcess, home: Path) -> None:
    path = home / ".codex" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    broken = 'model = "gpt-5"\n[profiles\nmodel = 1\n'
    path.write_text(broken)
    with omni.api() as api:
        response = api.post("/api/cli-tools/codex-settings", json={})
        assert response.status_code == 409
        message = response.json()["error"]["message"]
        assert str(path) in message and "not valid TOML" in message and "left untouched" in message
        assert path.read_text() == broken
        assert not [k for k in api.get("/api/keys").json()["keys"] if k["label"] == "cli-tool:codex" and k["isActive"]]
        assert api.get("/api/cli-tools/codex-settings").status_code == 409
    path.unlink()
    (home / ".qwen").write_text("a file where Qwen Code's settings folder belongs")
    with omni.api() as api:
        response = api.post("/api/cli-tools/qwen-settings", json={})
        assert response.status_code == 409 and "Not a directory" in response.json()["error"]["message"]
    (home / ".qwen").unlink()


def test_codex_profiles_through_the_api(omni: OmniRouteProcess, home: Path) -> None:
    with omni.api() as api:
        api.post("/api/cli-tools/codex-settings", json={"model": "gpt-5-codex"}).raise_for_status()
        created = api.post("/api/cli-tools/codex-profiles", json={"name": "deep", "model": "big"})
        assert created.status_code == 200
        deep = {"name": "deep", "model": "big", "modelProvider": "omniroute", "omniroute": True,
                "file": str(home / ".codex" / "deep.config.toml")}
        assert deep in created.json()["profiles"]
        assert api.post("/api/cli-tools/codex-profiles", json={"name": "deep"}).status_code == 409
        assert api.put("/api/cli-tools/codex-profiles", json={"name": "nope"}).status_code == 404
        assert api.put("/api/cli-tools/codex-profiles", json={"name": "deep", "model": "bigger"}).status_code == 200
        gone = api.delete("/api/cli-tools/codex-profiles", params={"name": "deep"}).json()["profiles"]
        assert "deep" not in {p["name"] for p in gone}
        api.delete("/api/cli-tools/codex-settings").raise_for_status()
    assert sorted(p.name for p in (home / ".codex").iterdir()) == []


def test_unsupported_tools_say_why(omni: OmniRouteProcess) -> None:
    with omni.api() as api:
        for tool in ("cline", "kilo", "openclaw"):
            got = api.get(f"/api/cli-tools/{tool}-settings").json()
            assert got["supported"] is False and got["reason"]
            refused = api.post(f"/api/cli-tools/{tool}-settings", json={})
            assert refused.status_code == 400 and "cannot be configured" in refused.json()["error"]["message"]
        assert api.get("/api/cli-tools/nope-settings").status_code == 404
        guide = api.get("/api/cli-tools/guide-settings/gemini-cli").json()
        assert guide["supported"] and guide["connect"] == "omniroute connect gemini-cli --direct"
        listed = {t["tool"]: t["supported"] for t in api.get("/api/cli-tools").json()["tools"]}
        assert listed["claude-code"] and listed["cline"] is False


def test_a_call_is_attributed_by_user_agent_alone(omni: OmniRouteProcess, mock: MockProvider) -> None:
    omni.map_models("gemini-cli", {"*": "mock/gemini-direct"})
    response = httpx.post(f"{omni.api_url}/v1beta/models/gemini-2.5-pro:generateContent",
                          headers={"user-agent": "GeminiCLI/0.61.0/gemini-2.5-pro (linux; x64)"},
                          json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, timeout=30)
    assert response.status_code == 200, response.text
    text = response.json()["candidates"][0]["content"]["parts"][0]["text"]
    assert text.startswith("mock reply from gemini-direct: ")
    rows = _inspector(omni, "gemini-cli")
    assert rows and rows[0]["source"] == "direct" and rows[0]["mappedModel"] == "mock/gemini-direct"
    assert _usage(omni, "gemini-cli")[0]["source"] == "direct"
    # A plain client is not an agent: no mapping, no agent.
    plain = httpx.post(f"{omni.api_url}/v1/chat/completions", timeout=30,
                       json={"model": "mock/plain", "messages": [{"role": "user", "content": "x"}]})
    assert plain.status_code == 200
    with omni.api() as api:
        row = api.get(f"/api/usage/call-logs/{plain.headers['x-omniroute-request-id']}").json()
    assert (row["agent"], row["source"], row["modelUsed"]) == (None, "api", "plain")
