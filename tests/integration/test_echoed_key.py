"""A provider key echoed by the upstream in a successful reply never reaches the client
(issue #15, item 6): masked like an echo in an error reply, streamed or not, passed through
or translated. Real `omniroute run`, the mock provider (which echoes the prompt, standing in
for an upstream that echoes the key it was sent), the official OpenAI and Anthropic SDKs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from omniroute.engine.redact import MARKER
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

KEY = f"sk-echo-{uuid.uuid4().hex}"
SHOWN = KEY[:5] + MARKER
PROMPT = f"please repeat {KEY} back"


@pytest.fixture(scope="module")
def omni(mock_provider: MockProvider) -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(proxy=False, bridge=False) as proc:
        proc.add_provider("openai", "mk", f"{mock_provider.url}/v1", api_key=KEY)
        yield proc


def openai_text(omni: OmniRouteProcess, stream: bool) -> str:
    client = openai.OpenAI(base_url=f"{omni.api_url}/v1", api_key="unused", max_retries=0)
    messages: Any = [{"role": "user", "content": PROMPT}]
    if not stream:
        return client.chat.completions.create(model="mk/m", messages=messages).choices[0].message.content or ""
    chunks = client.chat.completions.create(model="mk/m", messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def anthropic_text(omni: OmniRouteProcess, stream: bool) -> str:
    client = anthropic.Anthropic(base_url=omni.api_url, api_key="unused", max_retries=0)
    messages: Any = [{"role": "user", "content": PROMPT}]
    if not stream:
        reply = client.messages.create(model="mk/m", max_tokens=64, messages=messages)
        return "".join(block.text for block in reply.content if block.type == "text")
    with client.messages.stream(model="mk/m", max_tokens=64, messages=messages) as events:
        return "".join(events.text_stream)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("sdk", [openai_text, anthropic_text], ids=["openai-passthrough", "anthropic-translated"])
def test_a_key_echoed_in_a_200_reply_is_masked(omni: OmniRouteProcess, mock: MockProvider, sdk: Any, stream: bool) -> None:
    text = sdk(omni, stream)
    assert mock.requests, "the upstream was not called"
    assert KEY not in text
    assert SHOWN in text, text  # the reply itself still arrives, with the key masked
    assert KEY[5:] not in text
