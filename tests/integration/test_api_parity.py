"""The operations of the OmniRoute API specification that were missing, through a real process.

Media and rerank calls go through the official OpenAI SDK (httpx for rerank, which the SDK has
not) to the mock provider; the management views read what those calls recorded.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from websockets.sync.client import connect

from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OmniRouteProcess, MockProvider, dict[str, Any]]]:
    home: Path = tmp_path_factory.mktemp("parity")
    with MockProvider() as mock, OmniRouteProcess(home, proxy=False, bridge=False) as proc:
        ids = {
            "mk": proc.add_provider("openai-compatible", "mk", f"{mock.url}/v1", api_key="sk-parity-0001")["id"],
            "an": proc.add_provider("anthropic", "an", mock.url, api_key="sk-parity-0002")["id"],
        }
        with proc.api() as api:
            api.post("/api/combos", json={"name": "duo", "model": "chat-1",
                                          "nodes": [{"connectionId": ids["mk"]}]}).raise_for_status()
        yield proc, mock, ids


def _sdk(proc: OmniRouteProcess, prefix: str = "/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proc.api_url}{prefix}", api_key="unused", max_retries=0)


def _mock_calls(mock: MockProvider, path: str) -> list[dict[str, Any]]:
    return [r for r in httpx.get(f"{mock.url}/_mock/requests").json() if r["path"] == path]


def test_images_speech_transcriptions_moderations_reach_the_provider(env: Any) -> None:
    proc, mock, _ = env
    client = _sdk(proc)
    image = client.images.generate(model="mk/img-1", prompt="a red fox", n=2)
    assert [base64.b64decode(d.b64_json or "") for d in image.data or []] == [b"mock image from img-1: a red fox"] * 2
    assert _mock_calls(mock, "/v1/images/generations")[-1]["body"]["model"] == "img-1"
    audio = client.audio.speech.create(model="mk/tts-1", voice="alloy", input="hello there")
    assert audio.content == b"ID3mock speech from tts-1: hello there"
    text = _sdk(proc, "/api/v1").audio.transcriptions.create(model="mk/whisper-1", file=("a.wav", b"RIFF" * 50))
    assert text.text == "mock transcript from whisper-1: a.wav (200 bytes)"
    assert _mock_calls(mock, "/v1/audio/transcriptions")[-1]["body"]["model"] == "whisper-1"
    moderation = client.moderations.create(model="mk/omni-mod", input=["fine words", "flag this"])
    assert [r.flagged for r in moderation.results] == [False, True]
    # Each call has its usage row, in its own format, as a chat call has.
    with proc.api() as api:
        for model, client_format in (("mk/img-1", "openai-images"), ("mk/tts-1", "openai-speech"),
                                     ("mk/whisper-1", "openai-transcriptions"), ("mk/omni-mod", "openai-moderations")):
            rows = api.get("/api/usage/logs", params={"model": model}).json()
            assert rows["total"] == 1, (model, rows)
            assert rows["logs"][0]["clientFormat"] == client_format and rows["logs"][0]["status"] == 200
            assert rows["logs"][0]["provider"] == "openai-compatible", rows["logs"][0]


def test_rerank_orders_documents_and_is_counted(env: Any) -> None:
    proc, _, _ = env
    body = {"model": "mk/rerank-1", "query": "red fox", "documents": ["blue sky", "red fox runs", "red car"]}
    response = httpx.post(f"{proc.api_url}/api/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    assert [r["index"] for r in response.json()["results"]] == [1, 2, 0]
    assert response.headers["x-omniroute-provider"] == "openai-compatible"
    with proc.api() as api:
        rows = api.get("/api/usage/logs", params={"model": "mk/rerank-1"}).json()
    assert rows["total"] == 1 and rows["logs"][0]["clientFormat"] == "rerank"
    assert rows["logs"][0]["tokensIn"] == 2 + 2 + 3 + 2 and rows["logs"][0]["status"] == 200


def test_a_provider_without_the_endpoint_is_a_clear_openai_400(env: Any) -> None:
    proc, mock, _ = env
    before = len(_mock_calls(mock, "/v1/images/generations"))
    with pytest.raises(openai.BadRequestError) as refused:
        _sdk(proc).images.generate(model="an/claude-x", prompt="a cat")
    error = refused.value.body
    assert isinstance(error, dict) and "an (anthropic) has no openai-images endpoint" in error["message"]
    assert len(_mock_calls(mock, "/v1/images/generations")) == before  # nothing was sent
    missing = httpx.post(f"{proc.api_url}/v1/rerank", json={"model": "mk/r", "query": "q"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "documents"
    as_json = httpx.post(f"{proc.api_url}/v1/audio/transcriptions", json={"model": "mk/whisper-1"})
    assert as_json.status_code == 400 and "multipart/form-data" in as_json.json()["error"]["message"]
    no_file = httpx.post(f"{proc.api_url}/v1/audio/transcriptions", files={"model": (None, "mk/whisper-1")})
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "file"


def test_model_lists_in_each_clients_shape(env: Any) -> None:
    proc, _, _ = env
    with proc.api() as api:
        assert "mk/*" in [m["name"] for m in api.get("/api/tags").json()["models"]]
        # A provider type whose models are known lists them, as the catalog does, not a wildcard.
        known = api.post("/api/providers", json={"provider": "xai", "name": "xk", "apiKey": "xai-parity-0003"})
        assert known.status_code == 201, known.text
        tags = [m["name"] for m in api.get("/api/tags").json()["models"]]
        gemini_names = [m["name"] for m in api.get("/v1beta/models").json()["models"]]
        assert "xk/grok-4" in tags and "models/xk/grok-4" in gemini_names and "xk/*" not in tags
        assert api.delete(f"/api/providers/{known.json()['id']}").status_code == 200
        assert "models/duo" in [m["name"] for m in api.get("/api/v1beta/models").json()["models"]]
        assert api.get("/v1beta/models").json() == api.get("/api/v1beta/models").json()
        models = api.get("/api/models").json()["models"]
        assert {"id": "duo", "kind": "combo", "target": "chat-1", "strategy": "priority"} in models
        catalog = api.get("/api/models/catalog").json()
        assert "rerank" in next(p for p in catalog["providers"] if p["type"] == "openai-compatible")["media"]
        assert api.get("/api/v1").json()["connections"] == 2
        gemini = api.post("/api/v1beta/models/mk/chat-1:generateContent",
                          json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        assert gemini.status_code == 200, gemini.text
        assert "mock reply from chat-1: hi" in gemini.json()["candidates"][0]["content"]["parts"][0]["text"]
        assert "openai/gpt-4o" in [m["model"] for m in api.get("/api/pricing/models").json()["models"]]


def test_provider_and_combo_routes_are_not_shadowed_by_ids(env: Any) -> None:
    proc, mock, ids = env
    with proc.api() as api:
        client = api.get("/api/providers/client").json()
        assert {c["name"] for c in client["connections"]} == {"mk", "an"}
        batch = api.post("/api/providers/test-batch", json={"ids": [ids["mk"]]}).json()
        assert batch["passed"] == 1 and batch["results"][0]["name"] == "mk"
        assert api.get(f"/api/providers/{ids['mk']}").json()["testStatus"] == "active"
        good = api.post("/api/providers/validate", json={"provider": "openai-compatible", "url": f"{mock.url}/v1"})
        assert good.json()["valid"] is True and good.json()["models"]
        bad = api.post("/api/providers/validate", json={"provider": "openai-compatible", "url": "http://127.0.0.1:9/v1"})
        assert bad.status_code == 200 and bad.json()["valid"] is False
        assert len(api.get("/api/providers").json()["connections"]) == 2  # validate stored nothing
        tested = api.post("/api/combos/test", json={"combo": "duo"}).json()
        assert tested["ok"] is True and tested["model"] == "chat-1" and tested["provider"] == "openai-compatible"
        metrics = api.get("/api/combos/metrics").json()["combos"]["duo"]
        assert metrics["requests"] >= 1 and metrics["targets"][0]["model"] == "chat-1"
        assert api.post("/api/combos/test", json={"combo": "nope"}).status_code == 404


def test_usage_views_page_and_filter(env: Any) -> None:
    proc, _, ids = env
    client = _sdk(proc)
    for word in ("one", "two", "three"):
        client.chat.completions.create(model="mk/page-1", messages=[{"role": "user", "content": word}])
    with proc.api() as api:
        page = api.get("/api/usage/logs", params={"model": "mk/page-1", "limit": 2, "offset": 1}).json()
        assert page["total"] == 3 and len(page["logs"]) == 2
        requests = api.get("/api/usage/request-logs", params={"model": "mk/page-1", "status": "ok"}).json()
        assert requests["total"] == 3 and {r["status"] for r in requests["requests"]} == {200}
        assert api.get("/api/usage/proxy-logs").json()["total"] == 0  # no agent traffic in this test
        days = api.get("/api/usage/history", params={"model": "mk/page-1"}).json()["days"]
        assert sum(d["requests"] for d in days) == 3
        mine = api.get(f"/api/usage/{ids['mk']}").json()
        assert mine["name"] == "mk" and mine["requests"] >= 3
        assert api.get("/api/usage/mk").json()["connectionId"] == ids["mk"]
        assert api.get("/api/usage/no-such-connection").status_code == 404
        assert api.get("/api/usage/analytics").status_code == 200  # still its own route


def test_chat_over_websocket_and_its_handshake(env: Any) -> None:
    proc, _, _ = env
    assert httpx.get(f"{proc.api_url}/api/v1/ws").status_code == 426
    assert httpx.get(f"{proc.api_url}/api/v1/ws", params={"handshake": "1"}).json()["protocol"] == "omniroute-chat-ws"
    with connect(f"ws://127.0.0.1:{proc.api_port}/v1/ws") as ws:
        ws.send(json.dumps({"type": "request", "id": "a", "payload": {
            "model": "mk/ws-1", "messages": [{"role": "user", "content": "over the socket"}]}}))
        text, frames = "", []
        while not frames or frames[-1]["type"] not in ("done", "error"):
            frames.append(json.loads(ws.recv(timeout=30)))
        for frame in frames[:-1]:
            assert frame["type"] == "chunk" and frame["id"] == "a"
            text += "".join(c["delta"].get("content") or "" for c in frame["payload"]["choices"])
        assert frames[-1] == {"type": "done", "id": "a"}
        assert text == "mock reply from ws-1: over the socket"


def test_405_lists_every_method_and_openapi_declares_errors(env: Any) -> None:
    proc, _, _ = env
    refused = httpx.put(f"{proc.api_url}/api/combos")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, POST"
    schema = httpx.get(f"{proc.api_url}/openapi.json").json()
    get_one = schema["paths"]["/api/providers/{connection_id}"]["get"]["responses"]
    assert {"200", "401", "404", "422", "503"} <= set(get_one)
    assert get_one["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    assert {"400", "429", "502", "504"} <= set(schema["paths"]["/v1/images/generations"]["post"]["responses"])


def test_provider_patch_takes_the_specifications_create_body(env: Any) -> None:
    proc, mock, ids = env
    with proc.api() as api:
        same = api.patch(f"/api/providers/{ids['mk']}", json={"provider": "openai-compatible", "url": f"{mock.url}/v1",
                                                             "priority": 3})
        assert same.status_code == 200 and same.json()["priority"] == 3
        other = api.patch(f"/api/providers/{ids['mk']}", json={"provider": "anthropic"})
        assert other.status_code == 400 and "cannot change" in other.json()["error"]["message"]
