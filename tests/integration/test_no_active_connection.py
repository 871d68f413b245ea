"""A combo whose every connection is disabled is the caller's configuration to fix, not an
outage to wait out: a 404 naming the model in the caller's format, never a 5xx."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider


def test_every_connection_disabled_is_a_404_not_a_503(mock_provider: MockProvider) -> None:
    with OmniRouteProcess(bridge=False) as proc:
        connection = proc.add_provider("openai", "only", mock_provider.url + "/v1")
        with proc.api() as api:
            api.post("/api/combos", json={"name": "team", "model": "gpt-4o", "strategy": "priority",
                                          "nodes": [{"connectionId": connection["id"], "priority": 0}]}).raise_for_status()
            chat = openai.OpenAI(base_url=proc.api_url + "/v1", api_key="unused", max_retries=0)
            assert chat.chat.completions.create(model="team", messages=[{"role": "user", "content": "hi"}]).choices
            api.patch(f"/api/providers/{connection['id']}", json={"isActive": False}).raise_for_status()
            with pytest.raises(openai.NotFoundError) as refused:
                chat.chat.completions.create(model="team", messages=[{"role": "user", "content": "hi"}])
            assert "'team' routes to no active provider connection" in refused.value.message
            image = api.post("/v1/images/generations", json={"model": "team", "prompt": "a cat"})
            assert image.status_code == 404 and image.json()["error"]["param"] == "model"
            messages = anthropic.Anthropic(base_url=proc.api_url, api_key="unused", max_retries=0)
            with pytest.raises(anthropic.NotFoundError) as in_its_format:
                messages.messages.create(model="team", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
            assert in_its_format.value.body["type"] == "error"  # type: ignore[index]
