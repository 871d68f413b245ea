"""Bedrock, Vertex AI and Azure OpenAI behind /v1, called by the official SDKs.

Each cloud is a local stand-in that checks what the real service checks (the Bedrock one
recomputes the SigV4 signature with botocore, the Vertex one verifies the service account's
JWT at the token endpoint named in its key file and then the bearer, the Azure one the path,
api-version and key) and has the mock provider answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider
from tests.support.standin_azure import AzureStandIn
from tests.support.standin_bedrock import BedrockStandIn
from tests.support.standin_vertex import VertexStandIn

AWS_KEY, AWS_SECRET, AWS_TOKEN = "AKIATESTSTANDIN00001", "stand-in/secret+key", "session-token-for-test"
AZURE_KEY = "azure-key-0123456789"
BEDROCK_API_KEY = "ABSKQmVkcm9ja0FQSUtleS10ZXN0"
CLAUDE_ON_BEDROCK = "anthropic.claude-sonnet-4-5-20250929-v1:0"
TOOL_SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
PROMPT = "please use the tool for weather in Paris"

# target model -> the model name the mock saw (its reply says "mock reply from <that>")
TARGETS = {
    f"bedrock/{CLAUDE_ON_BEDROCK}": CLAUDE_ON_BEDROCK,
    "vertex/gemini-m1": "gemini-m1",
    "vertex/claude-m1": "claude-m1",
    "azure/gpt-deployment": "gpt-deployment",
}


class Clouds:
    def __init__(self, mock: MockProvider) -> None:
        self.bedrock = BedrockStandIn(mock.url, AWS_KEY, AWS_SECRET, "eu-west-3", session_token=AWS_TOKEN,
                                      api_key=BEDROCK_API_KEY)
        self.vertex = VertexStandIn(mock.url, "test-project", "us-east5")
        self.azure = AzureStandIn(mock.url, AZURE_KEY, client_secret="entra-secret")

    def __enter__(self) -> Self:
        for s in (self.bedrock, self.vertex, self.azure):
            s.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (self.bedrock, self.vertex, self.azure):
            s.stop()


def _create(process: OmniRouteProcess, body: dict[str, Any]) -> dict[str, Any]:
    with process.api() as client:
        response = client.post("/api/providers", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def clouds(mock_provider: MockProvider) -> Iterator[Clouds]:
    with Clouds(mock_provider) as c:
        yield c


@pytest.fixture(scope="module")
def server(clouds: Clouds) -> Iterator[OmniRouteProcess]:
    # The standard AWS chain (here: its environment variables) serves keyless Bedrock connections.
    chain = {"AWS_ACCESS_KEY_ID": AWS_KEY, "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "AWS_SESSION_TOKEN": AWS_TOKEN}
    with OmniRouteProcess(proxy=False, bridge=False, env=chain) as process:
        _create(process, {"provider": "bedrock", "name": "bedrock", "url": clouds.bedrock.url, "region": "eu-west-3",
                          "accessKeyId": AWS_KEY, "apiKey": AWS_SECRET, "sessionToken": AWS_TOKEN})
        # The key file as it is on disk (indented, line breaks).
        key_file = json.dumps(json.loads(clouds.vertex.service_account_json()), indent=2)
        _create(process, {"provider": "vertex", "name": "vertex", "url": clouds.vertex.url, "region": "us-east5",
                          "apiKey": key_file})
        _create(process, {"provider": "azure", "name": "azure", "url": clouds.azure.url, "apiKey": AZURE_KEY})
        yield process


def _reply(target: str) -> str:
    return f"mock reply from {TARGETS[target]}: hello world"


@pytest.mark.parametrize("target", list(TARGETS))
def test_openai_chat_sdk(server: OmniRouteProcess, clouds: Clouds, target: str) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"}]
    completion = client.chat.completions.create(model=target, messages=messages)
    assert completion.choices[0].message.content == _reply(target)
    assert completion.usage is not None and completion.usage.completion_tokens == 6
    stream = client.chat.completions.create(model=target, messages=messages, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == _reply(target)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


@pytest.mark.parametrize("target", list(TARGETS))
def test_anthropic_sdk_with_tools(server: OmniRouteProcess, target: str) -> None:
    client = anthropic.Anthropic(base_url=server.api_url, api_key="x", max_retries=0)
    message = client.messages.create(model=target, max_tokens=200, system="be brief",
                                     messages=[{"role": "user", "content": "hello world"}])
    assert message.content[0].text == _reply(target)
    tools = [{"name": "weather", "description": "w", "input_schema": TOOL_SCHEMA}]
    with client.messages.stream(model=target, max_tokens=200, tools=tools,
                                messages=[{"role": "user", "content": PROMPT}]) as stream:
        final = stream.get_final_message()
    tool_use = next(b for b in final.content if b.type == "tool_use")
    assert final.stop_reason == "tool_use" and tool_use.input == {"query": PROMPT}
    followup = client.messages.create(model=target, max_tokens=200, tools=tools, messages=[
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": [tool_use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}]},
    ])
    assert followup.content[0].text.startswith(f"mock reply from {TARGETS[target]}")


def test_anthropic_clients_reach_claude_on_bedrock_through_invoke_model(server: OmniRouteProcess, clouds: Clouds) -> None:
    """Anthropic's body goes to InvokeModel as it is (bar model/stream), so fields Converse has
    no place for (here top_k and a beta flag) still reach Claude."""
    clouds.bedrock.requests.clear()
    client = anthropic.Anthropic(base_url=server.api_url, api_key="x", max_retries=0)
    target = f"bedrock/{CLAUDE_ON_BEDROCK}"
    message = client.messages.create(model=target, max_tokens=50, messages=[{"role": "user", "content": "hello world"}],
                                     extra_body={"top_k": 5, "anthropic_beta": ["context-1m-2025-08-07"]})
    assert message.content[0].text == _reply(target) and message.usage.output_tokens == 6
    with client.messages.stream(model=target, max_tokens=50, messages=[{"role": "user", "content": "hello world"}]) as stream:
        assert stream.get_final_text() == _reply(target)
    paths = [r["path"] for r in clouds.bedrock.requests]
    assert paths == [f"/model/{CLAUDE_ON_BEDROCK}/invoke", f"/model/{CLAUDE_ON_BEDROCK}/invoke-with-response-stream"]
    first = clouds.bedrock.requests[0]["body"]
    assert first["top_k"] == 5 and first["anthropic_beta"] == ["context-1m-2025-08-07"]
    assert first["anthropic_version"] == "bedrock-2023-05-31" and "model" not in first and "stream" not in first
    assert not clouds.bedrock.rejected


@pytest.mark.parametrize("target", list(TARGETS))
def test_google_genai_sdk(server: OmniRouteProcess, target: str) -> None:
    client = genai.Client(api_key="x", http_options=genai_types.HttpOptions(base_url=server.api_url))
    response = client.models.generate_content(model=target, contents="hello world")
    assert response.text == _reply(target)
    text = "".join(chunk.text or "" for chunk in client.models.generate_content_stream(model=target, contents="hello world"))
    assert text == _reply(target)


@pytest.mark.parametrize("target", list(TARGETS))
def test_openai_responses_sdk(server: OmniRouteProcess, target: str) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    assert client.responses.create(model=target, input="hello world").output_text == _reply(target)
    with client.responses.stream(model=target, input="hello world") as stream:
        final = stream.get_final_response()
    assert final.output_text == _reply(target)
    assert final.usage is not None and final.usage.output_tokens == 6


@pytest.mark.parametrize("target", list(TARGETS))
def test_ollama_client(server: OmniRouteProcess, target: str) -> None:
    body = {"model": target, "messages": [{"role": "user", "content": "hello world"}], "stream": False}
    response = httpx.post(f"{server.api_url}/v1/api/chat", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["message"]["content"] == _reply(target)


def test_what_each_cloud_saw(server: OmniRouteProcess, clouds: Clouds) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    for target in TARGETS:
        client.chat.completions.create(model=target, messages=[{"role": "user", "content": "hi"}])
    assert clouds.bedrock.verified >= 1 and not clouds.bedrock.rejected
    paths = [r["path"] for r in clouds.bedrock.requests]
    assert f"/model/{CLAUDE_ON_BEDROCK}/converse" in paths
    # One token for the whole module: it is cached until shortly before it expires.
    assert len(clouds.vertex.tokens_issued) == 1 and not clouds.vertex.rejected
    vertex_paths = {r["path"] for r in clouds.vertex.requests}
    assert "/v1/projects/test-project/locations/us-east5/publishers/google/models/gemini-m1:generateContent" in vertex_paths
    assert "/v1/projects/test-project/locations/us-east5/publishers/anthropic/models/claude-m1:rawPredict" in vertex_paths
    azure = [r for r in clouds.azure.requests if r["path"] == "/openai/deployments/gpt-deployment/chat/completions"]
    assert azure and azure[-1]["query"] == "api-version=2025-04-01-preview" and not clouds.azure.rejected


@pytest.mark.parametrize("name", ["bedrock", "vertex", "azure"])
def test_connection_test_and_models(server: OmniRouteProcess, name: str) -> None:
    with server.api() as client:
        connection = next(c for c in client.get("/api/providers").json()["connections"] if c["name"] == name)
        tested = client.post(f"/api/providers/{connection['id']}/test").json()
        models = client.get(f"/api/providers/{connection['id']}/models")
    assert tested["ok"] is True, tested
    assert models.status_code == 200 and models.json()["models"], models.text


def test_bad_secret_is_refused_by_the_signature_check(server: OmniRouteProcess, clouds: Clouds) -> None:
    _create(server, {"provider": "bedrock", "name": "bedrock-bad", "url": clouds.bedrock.url, "region": "eu-west-3",
                     "accessKeyId": AWS_KEY, "apiKey": "not-the-secret", "sessionToken": AWS_TOKEN})
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=f"bedrock-bad/{CLAUDE_ON_BEDROCK}",
                                       messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 403
    assert "signature" in caught.value.message
    assert clouds.bedrock.rejected[-1].startswith("InvalidSignatureException")


def test_entra_id_token_for_azure(server: OmniRouteProcess, clouds: Clouds) -> None:
    _create(server, {"provider": "azure", "name": "azure-entra", "url": clouds.azure.url, "tenantId": "test-tenant",
                     "clientId": "test-client", "apiKey": "entra-secret", "authorityUrl": clouds.azure.url})
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    completion = client.chat.completions.create(model="azure-entra/gpt-deployment",
                                                messages=[{"role": "user", "content": "hello world"}])
    assert completion.choices[0].message.content == "mock reply from gpt-deployment: hello world"
    assert clouds.azure.tokens_issued


def test_cloud_settings_are_checked_and_secrets_never_shown(server: OmniRouteProcess) -> None:
    with server.api() as client:
        no_url = client.post("/api/providers", json={"provider": "azure", "name": "az-nourl", "apiKey": "k"})
        no_project = client.post("/api/providers", json={"provider": "vertex", "name": "vx-noproj"})
        bad_region = client.post("/api/providers", json={"provider": "bedrock", "name": "br-bad", "region": "us-east-1/../x"})
        listed = {c["name"]: c for c in client.get("/api/providers").json()["connections"]}
    assert no_url.status_code == 400 and "url" in no_url.text
    assert no_project.status_code == 400 and "project" in no_project.text
    assert bad_region.status_code in (400, 422) and "region" in bad_region.text
    bedrock = listed["bedrock"]
    assert bedrock["region"] == "eu-west-3" and bedrock["accessKeyId"] == AWS_KEY
    assert AWS_TOKEN not in str(listed) and AWS_SECRET not in str(listed) and "sessionToken" not in str(listed)
    assert listed["vertex"]["keyPreview"].endswith("iam.gserviceaccount.com")  # whose key, not its tail


def test_cloud_sdks_are_loaded_only_for_cloud_connections() -> None:
    import subprocess
    import sys

    code = ("import sys, omniroute.api.app, omniroute.engine.router, omniroute.providers.adapters; "
            "print(sorted(m for m in ('botocore', 'google.auth', 'google.oauth2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_bedrock_throttling_falls_back_to_azure(server: OmniRouteProcess, clouds: Clouds) -> None:
    """A ThrottlingException from Bedrock (HTTP 429 with x-amzn-ErrorType) sends the call on
    to the next connection of the chain and backs the Bedrock connection off."""
    chain = [{"provider": "bedrock", "priority": 0, "model": "fail-429"},
             {"provider": "azure", "priority": 1, "model": "gpt-deployment"}]
    with server.api() as api:
        bedrock_id = next(c["id"] for c in api.get("/api/providers").json()["connections"] if c["name"] == "bedrock")
        api.post("/api/fallback/chains", json={"model": "cloud-chain", "chain": chain}).raise_for_status()
        response = api.post("/v1/chat/completions", json={"model": "cloud-chain",
                                                          "messages": [{"role": "user", "content": "hello world"}]})
        state = api.get("/api/resilience").json()
        api.post("/api/resilience/reset", json={"scope": "all"}).raise_for_status()  # bedrock back for the rest
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "mock reply from gpt-deployment: hello world"
    assert response.headers["x-omniroute-fallback-attempts"] == "1"
    assert clouds.bedrock.requests[-1]["path"] == "/model/fail-429/converse"
    bedrock = next(c for c in state["connections"] if c["connectionId"] == bedrock_id)
    assert bedrock["status"] == "cooldown" and bedrock["lastErrorType"] == "rate_limited", state["connections"]


@pytest.mark.parametrize(("name", "extra"), [("bedrock-chain", {}), ("bedrock-apikey", {"apiKey": BEDROCK_API_KEY})])
def test_bedrock_credentials_from_the_aws_chain_or_an_api_key(server: OmniRouteProcess, clouds: Clouds, name: str,
                                                              extra: dict[str, str]) -> None:
    _create(server, {"provider": "bedrock", "name": name, "url": clouds.bedrock.url, "region": "eu-west-3", **extra})
    verified = clouds.bedrock.verified
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    completion = client.chat.completions.create(model=f"{name}/{CLAUDE_ON_BEDROCK}",
                                                messages=[{"role": "user", "content": "hello world"}])
    assert completion.choices[0].message.content == f"mock reply from {CLAUDE_ON_BEDROCK}: hello world"
    assert clouds.bedrock.verified == verified + 1


def test_azure_embeddings_go_to_the_deployment(server: OmniRouteProcess, clouds: Clouds) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    result = client.embeddings.create(model="azure/embed-deployment", input=["hello", "world"])
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8
    assert clouds.azure.requests[-1]["path"] == "/openai/deployments/embed-deployment/embeddings"


def test_patching_cloud_settings(server: OmniRouteProcess, clouds: Clouds) -> None:
    created = _create(server, {"provider": "bedrock", "name": "bedrock-patch", "url": clouds.bedrock.url,
                               "region": "us-west-2", "accessKeyId": AWS_KEY, "apiKey": AWS_SECRET})
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError):  # signed for us-west-2; the stand-in is eu-west-3
        client.chat.completions.create(model=f"bedrock-patch/{CLAUDE_ON_BEDROCK}", messages=[{"role": "user", "content": "hi"}])
    assert "region" in clouds.bedrock.rejected[-1]
    with server.api() as api:
        patched = api.patch(f"/api/providers/{created['id']}", json={"region": "eu-west-3", "sessionToken": AWS_TOKEN})
        api.post("/api/resilience/reset", json={"scope": "all"}).raise_for_status()
    assert patched.status_code == 200 and patched.json()["region"] == "eu-west-3"
    completion = client.chat.completions.create(model=f"bedrock-patch/{CLAUDE_ON_BEDROCK}",
                                                messages=[{"role": "user", "content": "hello world"}])
    assert completion.choices[0].message.content == f"mock reply from {CLAUDE_ON_BEDROCK}: hello world"
    with server.api() as api:
        cleared = api.patch(f"/api/providers/{created['id']}", json={"accessKeyId": None}).json()
    assert "accessKeyId" not in cleared and cleared["region"] == "eu-west-3"


def test_a_setting_the_type_does_not_read_is_refused(server: OmniRouteProcess) -> None:
    with server.api() as api:
        created = api.post("/api/providers", json={"provider": "openai", "name": "oa-region", "region": "us-east-1"})
        azure_id = next(c["id"] for c in api.get("/api/providers").json()["connections"] if c["name"] == "azure")
        patched = api.patch(f"/api/providers/{azure_id}", json={"project": "p"})
    assert created.status_code == 400 and "region does not apply to provider type openai" in created.text
    assert patched.status_code == 400 and "project" in patched.text


def test_cloud_connection_declared_in_the_config_file(clouds: Clouds, tmp_path: Path) -> None:
    config = tmp_path / "omniroute.yaml"
    config.write_text(
        "providers:\n"
        f"  - {{name: aws, provider: bedrock, url: '{clouds.bedrock.url}', region: eu-west-3,\n"
        f"     accessKeyId: {AWS_KEY}, apiKey: 'env:CFG_AWS_SECRET'}}\n"
        f"  - {{name: gcp, provider: vertex, url: '{clouds.vertex.url}', region: us-east5, apiKey: 'env:CFG_GCP_KEY'}}\n"
    )
    env = {"CFG_AWS_SECRET": AWS_SECRET, "CFG_GCP_KEY": clouds.vertex.service_account_json()}
    clouds.bedrock.session_token = None  # this connection signs without temporary credentials
    try:
        with OmniRouteProcess(proxy=False, bridge=False, config=config, env=env) as process:
            client = openai.OpenAI(base_url=f"{process.api_url}/v1", api_key="x", max_retries=0)
            for model, seen in ((f"aws/{CLAUDE_ON_BEDROCK}", CLAUDE_ON_BEDROCK), ("gcp/gemini-m1", "gemini-m1")):
                reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello world"}])
                assert reply.choices[0].message.content == f"mock reply from {seen}: hello world"
            with process.api() as api:
                aws = next(c for c in api.get("/api/providers").json()["connections"] if c["name"] == "aws")
        assert aws["region"] == "eu-west-3" and aws["accessKeyId"] == AWS_KEY and aws["fromConfig"]
    finally:
        clouds.bedrock.session_token = AWS_TOKEN
