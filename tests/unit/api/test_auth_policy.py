"""Who may call what, in-process (no sockets): the policy the integration tests cannot reach,
e.g. a server listening beyond loopback, and callers from other machines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from omniroute.api.app import create_app
from omniroute.api.auth import presented_keys, required_scope, route_kind
from omniroute.config import Settings
from omniroute.runtime import Runtime

REMOTE = ("192.0.2.10", 50000)
LOCAL = ("127.0.0.1", 50000)


@pytest.fixture()
def make_runtime(tmp_path: Path) -> Iterator[object]:
    made: list[Runtime] = []

    def make(host: str, require_api_key: bool = False) -> Runtime:
        settings = Settings(home=tmp_path / host, host=host, api_port=0, proxy_port=0, bridge_port=0,
                            require_api_key=require_api_key)
        made.append(Runtime.open(settings))
        return made[-1]

    yield make
    for runtime in made:
        asyncio.run(runtime.stop())


def test_route_kinds_and_scopes() -> None:
    assert route_kind("/v1/chat/completions") == route_kind("/api/v1/messages") == "model"
    assert route_kind("/v1beta/models/x:generateContent") == "model"
    assert route_kind("/api/combos") == "management" and route_kind("/health") is None
    assert required_scope("model", "POST") == "write" and required_scope("model", "GET") == "read"
    assert required_scope("management", "DELETE") == "admin"
    assert required_scope("management", "GET") == "read"


def test_every_client_style_of_sending_a_key() -> None:
    headers = {b"authorization": b"Bearer sk-a", b"x-api-key": b"sk-b", b"x-goog-api-key": b"sk-c"}
    assert presented_keys(headers, b"alt=sse&key=sk-d") == ["sk-a", "sk-b", "sk-c", "sk-d"]
    assert presented_keys({b"authorization": b"Basic xyz"}, b"") == []


def test_loopback_server_without_admin_key_is_open(make_runtime) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(create_app(make_runtime("127.0.0.1").services), client=REMOTE)
    assert client.get("/api/combos").status_code == 200


def test_server_beyond_loopback_needs_an_admin_key_except_to_bootstrap(make_runtime) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_runtime("0.0.0.0").services)
    remote, local = TestClient(app, client=REMOTE), TestClient(app, client=LOCAL)
    refused = remote.get("/api/combos")
    assert refused.status_code == 401 and "create one on this machine" in refused.json()["error"]["message"]
    # From the machine itself the first admin key can still be made...
    admin = local.post("/api/keys", json={"label": "admin", "scope": "admin"}).json()["key"]
    # ...and from then on nobody manages without one, local callers included.
    assert local.get("/api/combos").status_code == 401
    auth = {"authorization": f"Bearer {admin}"}
    assert remote.get("/api/combos", headers=auth).status_code == 200
    assert remote.post("/api/combos", json={"name": "c", "model": "m"}, headers=auth).status_code == 201
    # The model API stays governed by require_api_key alone.
    assert remote.get("/v1/models").status_code == 200


def test_internal_agent_bridge_calls_are_exempt(make_runtime) -> None:  # type: ignore[no-untyped-def]
    runtime = make_runtime("127.0.0.1", require_api_key=True)
    client = TestClient(create_app(runtime.services), client=LOCAL)
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"x-omniroute-internal": "guess"}).status_code == 401
    assert client.get("/v1/models", headers={"x-omniroute-internal": runtime.services.tokens.internal}).status_code == 200


def test_websocket_model_calls_are_refused_without_a_key(make_runtime) -> None:  # type: ignore[no-untyped-def]
    from starlette.testclient import WebSocketDenialResponse

    client = TestClient(create_app(make_runtime("127.0.0.1", require_api_key=True).services), client=LOCAL)
    with pytest.raises(WebSocketDenialResponse) as denied:
        with client.websocket_connect("/v1/responses"):
            pass
    assert denied.value.status_code == 401
    assert denied.value.json()["error"]["type"] == "authentication_error"  # the Responses format
