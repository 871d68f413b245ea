"""Any client format to any provider type: official SDKs against /v1, the mock upstream."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

PROMPT = "please use the tool for weather in Paris"
TOOL_SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}

# connection name -> (provider type, url suffix on the mock)
CONNECTIONS = {"up-openai": ("openai", "/v1"), "up-anthropic": ("anthropic", ""),
               "up-gemini": ("gemini", ""), "up-ollama": ("ollama", "")}


@pytest.fixture(scope="module")
def server(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(proxy=False, bridge=False) as process:
        for name, (provider, suffix) in CONNECTIONS.items():
            process.add_provider(provider, name, mock_provider.url + suffix, api_key="sk-upstream-key")
        yield process


def _upstream(mock: MockProvider) -> dict:
    return [r for r in mock.requests if not r["path"].startswith("/_mock")][-1]


UPSTREAM_PATHS = {"up-openai": "/v1/chat/completions", "up-anthropic": "/v1/messages",
                  "up-gemini": "/v1beta/models/m1:", "up-ollama": "/api/chat"}


@pytest.mark.parametrize("connection", ["up-anthropic", "up-gemini", "up-ollama", "up-openai"])
def test_openai_sdk_to_every_provider(server: OmniRouteProcess, mock: MockProvider, connection: str) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello world"}]
    completion = client.chat.completions.create(model=f"{connection}/m1", messages=messages)
    assert completion.choices[0].message.content == "mock reply from m1: hello world"
    assert completion.usage is not None and completion.usage.prompt_tokens >= 2
    assert _upstream(mock)["path"].startswith(UPSTREAM_PATHS[connection])

    stream = client.chat.completions.create(
        model=f"{connection}/m1", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "mock reply from m1: hello world"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


@pytest.mark.parametrize("connection", ["up-openai", "up-gemini", "up-anthropic"])
def test_openai_sdk_tool_calls_across_formats(server: OmniRouteProcess, mock: MockProvider, connection: str) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    tools = [{"type": "function", "function": {"name": "weather", "description": "w", "parameters": TOOL_SCHEMA}}]
    completion = client.chat.completions.create(
        model=f"{connection}/m1", messages=[{"role": "user", "content": PROMPT}], tools=tools
    )
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "weather" and '"query"' in call.function.arguments
    # Second turn carries the tool result back with the same id.
    followup = client.chat.completions.create(
        model=f"{connection}/m1",
        tools=tools,
        messages=[
            {"role": "user", "content": PROMPT},
            {"role": "assistant", "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    assert followup.choices[0].message.content.startswith("mock reply from m1")


@pytest.mark.parametrize("connection", ["up-openai", "up-gemini", "up-anthropic"])
def test_anthropic_sdk_to_every_provider(server: OmniRouteProcess, mock: MockProvider, connection: str) -> None:
    client = anthropic.Anthropic(base_url=server.api_url, api_key="x", max_retries=0)
    message = client.messages.create(
        model=f"{connection}/m1", max_tokens=200, system="be brief",
        messages=[{"role": "user", "content": "hello world"}],
    )
    assert message.content[0].text == "mock reply from m1: hello world"
    assert message.usage.output_tokens == 6
    with client.messages.stream(
        model=f"{connection}/m1", max_tokens=200, messages=[{"role": "user", "content": PROMPT}],
        tools=[{"name": "weather", "description": "w", "input_schema": TOOL_SCHEMA}],
    ) as stream:
        final = stream.get_final_message()
    tool_use = [b for b in final.content if b.type == "tool_use"][0]
    assert final.stop_reason == "tool_use" and tool_use.name == "weather"
    assert tool_use.input == {"query": PROMPT}


@pytest.mark.parametrize("connection", ["up-openai", "up-anthropic"])
def test_google_genai_sdk_to_other_providers(server: OmniRouteProcess, connection: str) -> None:
    client = genai.Client(api_key="x", http_options=genai_types.HttpOptions(base_url=server.api_url))
    response = client.models.generate_content(model=f"{connection}/m1", contents="hello world")
    assert response.text == "mock reply from m1: hello world"
    assert response.usage_metadata is not None and response.usage_metadata.candidates_token_count == 6
    text = "".join(chunk.text or "" for chunk in client.models.generate_content_stream(
        model=f"{connection}/m1", contents="hello world"))
    assert text == "mock reply from m1: hello world"


@pytest.mark.parametrize("connection", ["up-anthropic", "up-openai"])
def test_openai_responses_sdk_to_other_providers(server: OmniRouteProcess, connection: str) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    response = client.responses.create(model=f"{connection}/m1", input="hello world")
    assert response.output_text == "mock reply from m1: hello world"
    with client.responses.stream(model=f"{connection}/m1", input="hello world") as stream:
        final = stream.get_final_response()
    assert final.output_text == "mock reply from m1: hello world"
    assert final.usage is not None and final.usage.output_tokens == 6


def test_untranslatable_field_is_a_400_naming_it(server: OmniRouteProcess) -> None:
    client = openai.OpenAI(base_url=f"{server.api_url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="up-anthropic/m1", messages=[{"role": "user", "content": "hi"}], n=3
        )
    assert "n" in caught.value.message
