"""The declarative config file end to end: `omniroute run --config FILE` serves the providers it
declares, a reload (POST /api/config/reload or SIGHUP) applies an edited file, the API refuses to
change what the file owns, a bad file is refused line by line with nothing changed, and
`omniroute config export` round-trips through a second process."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.harness import OmniRouteProcess, wait_until
from tests.support.mock_provider import MockProvider

from .bridge_support import proxy_client

KEY = "sk-config-file-0001"
API_KEY_HASH = hashlib.sha256(b"omniroute-config-file-test-key").hexdigest()

CONFIG = """\
# the team's gateway
providers:
  - {{name: mk, provider: openai, url: "{url}/v1", apiKey: "env:CFG_MOCK_KEY",
     timeoutSeconds: 40, firstByteTimeoutSeconds: 30, idleTimeoutSeconds: 20}}
aliases: {{fast: "mk/{model}"}}
combos:
  - {{name: coder, model: gpt-coder, strategy: priority, nodes: [{{connection: mk, priority: 1}}]}}
fallbacks:
  - {{model: gpt-chain, chain: [{{provider: mk}}]}}
agents:
  claude-code: {{mappings: [{{source: "*", target: fast}}]}}
  my-bot: {{name: My bot, hosts: [llm.my-bot.test], userAgents: [my-bot/], wireFormat: openai-chat,
           mappings: [{{source: "*", target: fast}}]}}
bypass: [bank.example]
pricing: {{gpt-coder: {{input: 2.5, output: 10}}}}
apiKeys:
  - {{label: ci, keyHash: "{key_hash}", scope: read, keyPreview: "…test"}}
"""

BAD = """\
providers:
  - {name: mk, provider: openai, url: "ftp://nowhere", apiKey: "env:CFG_UNSET_VARIABLE"}
aliases: {fast: mk/gpt-other}
agents:
  no-such-agent: {mappings: []}
"""


def write_config(path: Path, mock: MockProvider, model: str) -> None:
    path.write_text(CONFIG.format(url=mock.url, model=model, key_hash=API_KEY_HASH))


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config") / "omniroute.yaml"


@pytest.fixture(scope="module")
def process(mock_provider: MockProvider, config_path: Path) -> Iterator[OmniRouteProcess]:
    write_config(config_path, mock_provider, "gpt-first")
    with OmniRouteProcess(proxy=False, bridge=False, config=config_path,
                          env={"CFG_MOCK_KEY": KEY}) as proc:
        yield proc


def ask(process: OmniRouteProcess, model: str) -> str:
    client = openai.OpenAI(base_url=f"{process.api_url}/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    return reply.choices[0].message.content or ""


def state(api: httpx.Client) -> dict[str, Any]:
    """Everything a config file can change, as the API lists it."""
    return {
        "providers": api.get("/api/providers").json(),
        "aliases": api.get("/api/models/alias").json(),
        "combos": api.get("/api/combos").json(),
        "chains": api.get("/api/fallback/chains").json(),
        "mappings": api.get("/api/tools/agent-bridge/agents/claude-code/mappings").json(),
        "my-bot": api.get("/api/tools/agent-bridge/agents/my-bot/definition").json(),
        "bypass": api.get("/api/tools/agent-bridge/bypass").json(),
        "pricing": api.get("/api/pricing").json()["overrides"],
        "keys": api.get("/api/keys").json(),
    }


def test_declared_provider_alias_and_combo_serve_v1(process: OmniRouteProcess, mock: MockProvider) -> None:
    assert ask(process, "fast") == "mock reply from gpt-first: hi"
    assert ask(process, "coder") == "mock reply from gpt-coder: hi"
    assert ask(process, "gpt-chain") == "mock reply from gpt-chain: hi"
    # The key came from the environment variable the file names.
    calls = mock.requests_to("/v1/chat/completions")
    assert [c["headers"]["authorization"] for c in calls] == [f"Bearer {KEY}"] * 3
    with process.api() as api:
        (connection,) = api.get("/api/providers").json()["connections"]
        assert connection["fromConfig"] and connection["keyPreview"] == "…0001"
        # Every timing setting the file declares is stored, as the API would store it.
        timings = {k: connection[k] for k in ("timeoutSeconds", "firstByteTimeoutSeconds", "idleTimeoutSeconds")}
        assert timings == {"timeoutSeconds": 40, "firstByteTimeoutSeconds": 30, "idleTimeoutSeconds": 20}
        assert api.get("/api/tools/agent-bridge/agents/claude-code/mappings").json()[0]["from_config"]
        # An agent of the user's, defined by the file: in the catalog, with its mappings.
        bot = api.get("/api/tools/agent-bridge/agents/my-bot/definition").json()
        assert bot == {"id": "my-bot", "name": "My bot", "hosts": ["llm.my-bot.test"], "userAgents": ["my-bot/"],
                       "wireFormat": "openai-chat", "paths": [], "builtin": False, "fromConfig": True}
        assert api.get("/api/tools/agent-bridge/agents/my-bot/mappings").json()[0]["target_model"] == "fast"
        last = api.get("/api/tools/agent-bridge/bypass").json()[-1]
        assert (last["pattern"], last["source"]) == ("bank.example", "config")
        (key,) = api.get("/api/keys").json()["keys"]
        assert (key["label"], key["scope"], key["fromConfig"]) == ("ci", "read", True)


def test_the_api_refuses_to_change_file_entries(process: OmniRouteProcess) -> None:
    with process.api() as api:
        (connection,) = api.get("/api/providers").json()["connections"]
        (combo,) = api.get("/api/combos").json()["combos"]
        (key,) = api.get("/api/keys").json()["keys"]
        before = state(api)
        refused = [
            api.patch(f"/api/providers/{connection['id']}", json={"priority": 5}),
            api.delete(f"/api/providers/{connection['id']}"),
            api.patch(f"/api/combos/{combo['id']}", json={"model": "other"}),
            api.delete("/api/combos/coder"),
            api.post("/api/models/alias", json={"alias": "fast", "target": "mk/elsewhere"}),
            api.delete("/api/models/alias/fast"),
            api.post("/api/fallback/chains", json={"model": "gpt-chain", "chain": [{"provider": "mk"}]}),
            api.put("/api/tools/agent-bridge/agents/claude-code/mappings", json={"mappings": []}),
            api.put("/api/tools/agent-bridge/agents/my-bot", json={"hosts": ["x.test"], "wireFormat": "anthropic"}),
            api.delete("/api/tools/agent-bridge/agents/my-bot"),
            api.put("/api/tools/agent-bridge/bypass", json={"patterns": []}),
            api.post("/api/pricing", json={"gpt-coder": {"input": 1}}),
            api.patch(f"/api/keys/{key['id']}", json={"label": "renamed"}),
            api.delete(f"/api/keys/{key['id']}"),
        ]
        for response in refused:
            assert response.status_code == 409, (response.request.url, response.text)
            message = response.json()["error"]["message"]
            assert "is declared in the config file" in message and "POST /api/config/reload" in message
        assert state(api) == before
        # What the API itself created stays editable next to the file's entries.
        created = api.post("/api/models/alias", json={"alias": "mine", "target": "mk/gpt-mine"})
        assert created.status_code == 200 and not created.json()["fromConfig"]
        assert api.delete("/api/models/alias/mine").status_code == 200


def test_reload_by_post_and_by_sighup_applies_the_edited_file(
    process: OmniRouteProcess, mock: MockProvider, config_path: Path
) -> None:
    with process.api() as api:
        assert api.post("/api/config/reload").json()["changed"] == []  # idempotent
        write_config(config_path, mock, "gpt-second")
        reloaded = api.post("/api/config/reload")
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["changed"] == ["registry"]
        assert ask(process, "fast") == "mock reply from gpt-second: hi"

        write_config(config_path, mock, "gpt-third")
        assert process.process is not None
        process.process.send_signal(signal.SIGHUP)
        wait_until(lambda: api.get("/api/models/alias").json()["aliases"][0]["target"] == "mk/gpt-third",
                   60, "the SIGHUP reload")
        assert ask(process, "fast") == "mock reply from gpt-third: hi"


def test_a_bad_file_is_refused_line_by_line_and_changes_nothing(
    process: OmniRouteProcess, config_path: Path
) -> None:
    good = config_path.read_text()
    with process.api() as api:
        before = state(api)
        config_path.write_text(BAD)
        try:
            refused = api.post("/api/config/reload")
        finally:
            config_path.write_text(good)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["code"] == "config_file_invalid"
        assert [d["field"] for d in error["details"]] == [
            f"{config_path}:2: providers[0].url",
            f"{config_path}:2: providers[0].apiKey",
            f"{config_path}:5: agents.no-such-agent",
        ]
        assert "must be an absolute http(s) URL" in error["details"][0]["message"]
        assert error["details"][1]["message"] == "environment variable CFG_UNSET_VARIABLE is not set"
        assert state(api) == before

        # Valid on its own, wrong against the database: found inside the transaction, rolled back.
        config_path.write_text(good.replace("nodes: [{connection: mk, priority: 1}]",
                                            "nodes: [{connection: ghost}]").replace("gpt-third", "gpt-fourth"))
        try:
            refused = api.post("/api/config/reload")
        finally:
            config_path.write_text(good)
        assert refused.status_code == 422
        (detail,) = refused.json()["error"]["details"]
        assert detail["field"] == f"{config_path}:7: combos[0].nodes"
        assert "no provider connection 'ghost'" in detail["message"]
        assert state(api) == before  # the alias edit in the same file was not applied either


def test_a_bad_file_stops_start_up_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD.replace("ftp://nowhere", "https://api.example/v1"))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "omniroute"), "run", "--home", str(tmp_path / "home"),
         "--config", str(bad), "--api-port", "0", "--proxy-port", "0", "--bridge-port", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"omniroute: {bad}:2: providers[0].apiKey: environment variable CFG_UNSET_VARIABLE is not set",
        f"omniroute: {bad}:5: agents.no-such-agent: unknown agent 'no-such-agent'; known: "
        + done.stderr.split("known: ")[1].splitlines()[0],
    ]
    assert not (tmp_path / "home").exists()  # stopped before the home (and its database) was made


def export(home: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "omniroute"), "config", "export", "--home", str(home), "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=True, env=env,
    )


def test_export_of_api_made_state_round_trips_through_a_second_process(
    mock_provider: MockProvider, tmp_path: Path
) -> None:
    with OmniRouteProcess(proxy=False, bridge=False) as first, first.api() as api:
        no_file = api.post("/api/config/reload")
        assert no_file.status_code == 409 and "no config file" in no_file.json()["error"]["message"]
        first.add_provider("openai", "team", f"{mock_provider.url}/v1", api_key="sk-team-0042")
        assert api.post("/api/models/alias", json={"alias": "quick", "target": "team/gpt-quick"}).status_code == 200
        assert api.post("/api/combos", json={"name": "pair", "model": "gpt-pair",
                                             "nodes": [{"connectionId": "team", "weight": 3}]}).status_code == 201
        assert api.post("/api/fallback/chains", json={"model": "gpt-chain",
                                                      "chain": [{"provider": "team"}]}).status_code == 200
        first.map_models("codex", {"gpt-5*": "quick", "*": "pair"})
        assert api.post("/api/tools/agent-bridge/agents", json={
            "id": "mine", "hosts": ["llm.mine.test"], "wireFormat": "anthropic", "paths": ["/v2/messages"]}).status_code == 201
        first.map_models("mine", {"*": "quick"})
        assert api.put("/api/tools/agent-bridge/bypass", json={"patterns": ["bank.example"]}).status_code == 200
        assert api.post("/api/pricing", json={"gpt-pair": {"input": 1.25, "output": 10}}).status_code == 200
        assert api.patch("/api/resilience", json={"modelLockout": {"durationMs": 1500}}).status_code == 200
        secret = api.post("/api/keys", json={"label": "ci", "scope": "read"}).json()["key"]
        exported = tmp_path / "exported.yaml"
        done = export(first.home, exported)
    text = exported.read_text()
    assert "sk-team-0042" not in text and secret not in text  # no secrets
    assert hashlib.sha256(secret.encode()).hexdigest() in text
    assert "env:OMNIROUTE_KEY_TEAM" in text and "set OMNIROUTE_KEY_TEAM" in done.stderr
    assert "wireFormat: anthropic" in text and "llm.mine.test" in text

    with OmniRouteProcess(proxy=False, bridge=False, config=exported,
                          env={"OMNIROUTE_KEY_TEAM": "sk-team-0042"}) as second:
        assert ask(second, "quick") == "mock reply from gpt-quick: hi"
        again = tmp_path / "again.yaml"
        export(second.home, again)
    assert again.read_text() == text


def test_an_agent_the_file_declares_is_routed_edited_and_removed_by_reloads(
    mock_provider: MockProvider, tmp_path: Path
) -> None:
    """The file's own agent is routable like a built-in one; an edited file moves it to a new
    host, and a file without it removes it, each applied by a reload."""
    config = tmp_path / "omniroute.yaml"
    write_config(config, mock_provider, "gpt-filebot")

    def chat(proc: OmniRouteProcess, host: str) -> httpx.Response:
        with proxy_client(proc) as client:
            return client.post(f"https://{host}/v1/chat/completions", headers={"user-agent": "my-bot/1.0"},
                               json={"model": "bot-large", "messages": [{"role": "user", "content": "hi"}]})

    with OmniRouteProcess(bridge=False, config=config, env={"CFG_MOCK_KEY": KEY}) as proc, proc.api() as api:
        reply = chat(proc, "llm.my-bot.test")
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["message"]["content"] == "mock reply from gpt-filebot: hi"
        rows = api.get("/api/tools/traffic-inspector/requests", params={"agent": "my-bot"}).json()["requests"]
        assert rows and (rows[0]["sourceModel"], rows[0]["mappedModel"]) == ("bot-large", "fast")

        config.write_text(config.read_text().replace("hosts: [llm.my-bot.test]", "hosts: [llm2.my-bot.test]"))
        assert api.post("/api/config/reload").status_code == 200
        assert api.get("/api/tools/agent-bridge/agents/my-bot/definition").json()["hosts"] == ["llm2.my-bot.test"]
        moved = chat(proc, "llm2.my-bot.test")
        assert moved.json()["choices"][0]["message"]["content"] == "mock reply from gpt-filebot: hi"

        lines = config.read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("my-bot:"))
        config.write_text("\n".join(lines[:start] + lines[start + 2:]) + "\n")
        assert api.post("/api/config/reload").status_code == 200
        assert api.get("/api/tools/agent-bridge/agents/my-bot/definition").status_code == 404
        agents = {row["agent_id"] for row in api.get("/api/tools/agent-bridge/agents").json()}
        assert "my-bot" not in agents and "claude-code" in agents


def test_mitmdump_entry_point_applies_the_file_too(mock_provider: MockProvider, tmp_path: Path) -> None:
    config = tmp_path / "omniroute.yaml"
    write_config(config, mock_provider, "gpt-via-mitmdump")
    with OmniRouteProcess(proxy=False, bridge=False, via_mitmdump=True, config=config,
                          env={"CFG_MOCK_KEY": KEY}) as proc, proc.api() as api:
        assert ask(proc, "fast") == "mock reply from gpt-via-mitmdump: hi"
        assert api.get("/api/config").json() == {"file": str(config)}
        assert api.post("/api/config/reload").json()["changed"] == []
