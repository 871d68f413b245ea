"""A secret inside a provider's URL (``https://user:KEY@host`` or ``?key=KEY``) is a provider
secret too: it must be refused or kept encrypted, never stored or shown in plaintext.

``test_secrets_everywhere.py`` proves the ``apiKey`` field; this is the other way users paste
keys (Azure-style ``?api-key=``, basic-auth gateways).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.support.harness import OmniRouteProcess, free_port

CANARY = f"sk-urlcanary-{uuid.uuid4().hex}"
HIDDEN = CANARY[5:]  # masking may keep a short prefix


@pytest.mark.parametrize("shape", ["userinfo", "query"])
def test_a_key_in_a_provider_url_is_never_kept_in_plaintext(tmp_path: Path, shape: str) -> None:
    port = free_port()
    url = (f"http://gateway:{CANARY}@127.0.0.1:{port}/v1" if shape == "userinfo"
           else f"http://127.0.0.1:{port}/v1?api-key={CANARY}")
    with OmniRouteProcess(tmp_path / "home", proxy=False, bridge=False) as proc, proc.api() as api:
        created = api.post("/api/providers", json={"provider": "openai", "name": "gw", "url": url})
        seen = [created.text, api.get("/api/providers").text,
                api.post("/v1/chat/completions", json={"model": "gw/m", "messages": [{"role": "user", "content": "x"}]}).text]
        if created.status_code == 201:
            seen.append(api.get(f"/api/providers/{created.json()['id']}").text)
        else:
            assert created.status_code in (400, 422)
    assert created.status_code in (400, 422) and "apiKey" in created.text, created.text
    leaks = [text[:200] for text in seen if HIDDEN in text]
    assert not leaks, leaks
    for path in (p for p in proc.home.rglob("*") if p.is_file()):
        assert HIDDEN.encode() not in path.read_bytes(), f"the URL's key is in {path.name}"
