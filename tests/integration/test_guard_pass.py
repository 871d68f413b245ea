"""The guard pass: one list of checks in front of every route, the model routes served by
`model_calls` and the management API by FastAPI alike (in-process ASGI, no sockets needed
for what is decided before any I/O)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from omniroute.api.app import create_app
from omniroute.api.guard_pass import Denial, Headers, guards_of
from omniroute.config import Settings
from omniroute.runtime import Runtime

PORT = 20128
CHAT = {"model": "nope/nothing", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture()
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    settings = Settings(home=tmp_path / "home", host="127.0.0.1", api_port=PORT, proxy_port=0, bridge_port=0,
                        hosts_file=tmp_path / "hosts", require_api_key=True)
    rt = Runtime.open(settings)
    yield rt
    await rt.stop()


def client(app: object, host: str = f"127.0.0.1:{PORT}") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


async def test_a_check_added_to_the_list_guards_model_and_management_routes(runtime: Runtime) -> None:
    app = create_app(runtime.services)

    def no_teapots(scope: object, headers: Headers) -> Denial | None:
        return Denial(418, "no teapots here") if headers.get(b"x-teapot") else None

    guards_of(app).add(no_teapots)
    async with client(app) as c:
        key = (await c.post("/api/keys", json={"label": "t", "scope": "write"})).json()["key"]
        teapot = {"x-teapot": "1", "authorization": f"Bearer {key}"}
        chat = await c.post("/v1/chat/completions", json=CHAT, headers=teapot)
        messages = await c.post("/v1/messages", json=CHAT, headers=teapot)
        management = await c.get("/api/providers", headers=teapot)
    assert chat.status_code == messages.status_code == management.status_code == 418
    assert chat.json()["error"]["message"] == "no teapots here"  # OpenAI error object
    assert messages.json()["type"] == "error"  # Anthropic's
    assert management.json() == {"error": {"message": "no teapots here"}}


async def test_checks_run_in_order_keys_before_host(runtime: Runtime) -> None:
    """A call with neither a key nor an allowed Host is refused by the first check: 401."""
    async with client(create_app(runtime.services), host="evil.example") as c:
        response = await c.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_model_calls_answer_errors_in_the_callers_format_without_fastapi(runtime: Runtime) -> None:
    app = create_app(runtime.services)
    async with client(app) as c:
        key = (await c.post("/api/keys", json={"label": "t", "scope": "write"})).json()["key"]
        auth = {"authorization": f"Bearer {key}"}
        bad_json = await c.post("/v1/chat/completions", content=b"{nope", headers=auth)
        no_model = await c.post("/api/v1/messages", json={"messages": []}, headers=auth)
        unknown = await c.post("/v1beta/models/gemini-x:countStars", json={}, headers=auth)
        not_post = await c.get("/v1/chat/completions", headers=auth)
    assert bad_json.status_code == 400 and "error" in bad_json.json()
    assert no_model.status_code == 400 and no_model.json()["type"] == "error"
    assert unknown.status_code == 404 and unknown.json()["error"]["status"]
    assert not_post.status_code == 405  # other methods still go to FastAPI's router
