"""The official SDK clients pointed at the mock provider, shared by the
``test_mock_provider_*.py`` modules (each test gets the session's mock, cleared, from the
``mock`` fixture of tests/conftest.py).

A test module imports the ``*_fixture`` functions it needs to get the ``oai``, ``claude`` and
``gemini`` fixtures.
"""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai

from tests.support.mock_provider import MockProvider

CHAT_TOOLS = [{"type": "function", "function": {
    "name": "search", "parameters": {"type": "object", "properties": {
        "query": {"type": "string"}}}}}]


@pytest.fixture(name="oai")
def oai_fixture(mock: MockProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{mock.url}/v1", api_key="sk-test", max_retries=0)


@pytest.fixture(name="claude")
def claude_fixture(mock: MockProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mock.url, api_key="sk-ant-test", max_retries=0)


@pytest.fixture(name="gemini")
def gemini_fixture(mock: MockProvider) -> genai.Client:
    return genai.Client(api_key="g-test", http_options={"base_url": mock.url})
