"""`PATCH /api/settings` with several sections is one change: stored in one transaction and
announced to the other instances once, so an instance reloading on the first announcement
never acts on half of it (it did: each section was stored and announced on its own, and a
second instance could apply the system prompt before the rate limit sent with it). A value the
engine cannot use leaves every section as it was, here and in the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from omniroute.engine.runtime_settings import RuntimeSettings
from tests.integration.served_runtime import ServedRuntime

PROMPT = {"enabled": True, "prompt": "one change"}
RATE = {"enabled": True, "rules": [{"model": "m/*", "limit": 5, "windowSeconds": 60}]}


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[ServedRuntime]:
    with ServedRuntime(tmp_path) as runtime:
        yield runtime


def test_several_sections_are_stored_in_one_transaction_and_announced_once(
    served: ServedRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = served.runtime.services
    commits: list[object] = []
    event.listen(services.db.engine, "commit", commits.append)
    announced: list[str] = []
    real_changed = services.sync.changed
    monkeypatch.setattr(services.sync, "changed", lambda kind: (announced.append(kind), real_changed(kind)))
    with httpx.Client(base_url=served.url, trust_env=False, timeout=30) as api:
        patched = api.patch("/api/settings", json={"systemPrompt": PROMPT, "rateLimit": RATE})
    assert patched.status_code == 200, patched.text
    assert patched.json()["systemPrompt"]["prompt"] == "one change"
    assert patched.json()["rateLimit"]["rules"][0]["limit"] == 5
    assert (len(commits), announced) == (1, ["settings"])


def test_a_section_the_engine_cannot_use_leaves_every_section_as_it_was(
    served: ServedRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: RuntimeSettings = served.runtime.services.runtime_settings
    appliers: dict[str, Any] = settings._appliers  # a refusal that no validator catches

    apply_rate_limit = appliers["rateLimit"]

    def refuse(value: Any) -> None:  # the new value only: the old one still applies
        if value["enabled"]:
            raise ValueError("not usable here")
        apply_rate_limit(value)

    monkeypatch.setitem(appliers, "rateLimit", refuse)
    with httpx.Client(base_url=served.url, trust_env=False, timeout=30) as api:
        refused = api.patch("/api/settings", json={"systemPrompt": PROMPT, "rateLimit": RATE})
        assert refused.status_code == 422, refused.text
        assert "rateLimit" in refused.text and "not usable here" in refused.text
        monkeypatch.undo()
        now = api.get("/api/settings").json()
    assert now["systemPrompt"]["enabled"] is False and now["rateLimit"]["enabled"] is False
    settings.load()  # what the database holds, as a restart or another instance reads it
    assert settings.get("systemPrompt")["enabled"] is False
    assert settings.get("rateLimit")["enabled"] is False
