"""An upstream that compresses its replies (a model server behind nginx or a gateway with gzip on):
OmniRoute asks for gzip, so it must decode what comes back before it counts, translates or
relays it, and the reply-size limit counts decoded bytes (a compressed bomb at its real size).
The plain-HTTP pool hands the engine raw bytes when a reply is not compressed, and decoded
ones when it is: both ways are exercised here, through real sockets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

MAX_BODY = 1024 * 1024
PROMPT = [{"role": "user", "content": "say something long enough to be worth compressing"}]


class GzipMock(MockProvider):
    """The mock behind gzip, streams included (Starlette leaves SSE alone by default)."""

    def _served_app(self) -> ASGIApp:
        return GZipMiddleware(self.app, minimum_size=0, exclude_content_types=())


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, MockProvider]]:
    settings = {"OMNIROUTE_UPSTREAM_MAX_BODY_BYTES": str(MAX_BODY)}
    with (GzipMock() as gz, MockProvider() as plain,
          OmniRouteProcess(proxy=False, bridge=False, env=settings) as proc):
        for name, mock in (("gz", gz), ("plain", plain)):
            proc.add_provider("openai", name, mock.url + "/v1", api_key=f"sk-{name}-0001")
        yield proc.api_url, gz


def test_the_stand_in_really_compresses_what_omniroute_asks_for(served: Any) -> None:
    _, gz = served
    reply = httpx.post(f"{gz.url}/v1/chat/completions", json={"model": "m", "messages": PROMPT},
                       headers={"accept-encoding": "gzip, deflate", "authorization": "Bearer sk"})
    assert reply.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("connection", ["gz", "plain"])
def test_a_whole_reply_is_decoded_counted_and_relayed(served: Any, connection: str) -> None:
    url, _ = served
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        reply = client.post("/v1/chat/completions", json={"model": f"{connection}/gpt-4o-mini", "messages": PROMPT})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["choices"][0]["message"]["content"]
    assert body["usage"]["completion_tokens"] > 0
    assert int(reply.headers["x-omniroute-tokens-out"]) == body["usage"]["completion_tokens"]


@pytest.mark.parametrize("connection", ["gz", "plain"])
def test_a_whole_reply_is_decoded_before_it_is_translated(served: Any, connection: str) -> None:
    url, _ = served
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        reply = client.post("/v1/messages", json={"model": f"{connection}/gpt-4o-mini", "max_tokens": 64,
                                                  "messages": PROMPT})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["type"] == "message" and body["content"][0]["text"]
    assert body["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("connection", ["gz", "plain"])
def test_a_stream_is_decoded_event_by_event(served: Any, connection: str) -> None:
    url, _ = served
    events: list[str] = []
    with (httpx.Client(base_url=url, timeout=30, trust_env=False) as client,
          client.stream("POST", "/v1/chat/completions",
                        json={"model": f"{connection}/gpt-4o-mini", "messages": PROMPT, "stream": True}) as reply):
        assert reply.status_code == 200
        assert "content-encoding" not in reply.headers  # relayed decoded: we never re-compress
        events = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1]
                   if json.loads(e)["choices"])
    assert text


def test_a_compressed_bomb_counts_at_its_real_size(served: Any) -> None:
    url, gz = served
    gz.add_fault(pad_bytes=4 * MAX_BODY, model="bomb")  # 4 MiB of padding, a few KiB on the wire
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        reply = client.post("/v1/chat/completions", json={"model": "gz/bomb", "messages": PROMPT})
    assert reply.status_code == 502, reply.text
    assert "larger than the" in reply.json()["error"]["message"]
    assert "OMNIROUTE_UPSTREAM_MAX_BODY_BYTES" in reply.json()["error"]["message"]


def test_nothing_is_left_compressed_in_the_usage_rows(served: Any) -> None:
    url, _ = served
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as api:
        items = api.get("/api/usage/call-logs", params={"limit": 100}).json()["items"]
    gz = [row for row in items if row["modelRequested"].startswith("gz/") and row["modelRequested"] != "gz/bomb"]
    assert gz and all(row["status"] == 200 and row["tokensOut"] > 0 for row in gz), gz

