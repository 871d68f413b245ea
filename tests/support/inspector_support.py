"""Helpers shared by the inspector integration tests: SDK clients through the proxy, polling,
and the independent HAR checks (mitmdump -nr, npm har-validator)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.support.harness import REPO_ROOT, OmniRouteProcess
from tests.support.mock_provider import MockProvider

BASE = "/api/tools/traffic-inspector"
SYSTEM = "You are the inspector test agent."
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def setup_routing(proc: OmniRouteProcess, mock: MockProvider) -> None:
    """Provider `mock` plus `*` mappings for codex and claude-code (idempotent)."""
    with proc.api() as api:
        names = {c["name"] for c in api.get("/api/providers").json()["connections"]}
    if "mock" not in names:
        proc.add_provider("openai", "mock", f"{mock.url}/v1", api_key="sk-test-provider-key-0001")
    proc.map_models("codex", {"*": "mock/gpt-mapped"})
    proc.map_models("claude-code", {"*": "mock/claude-mapped"})


def proxied_http(proc: OmniRouteProcess, **kwargs: Any) -> httpx.Client:
    kwargs.setdefault("timeout", 30)
    return httpx.Client(proxy=proc.proxy_url, verify=proc.ssl_context(), trust_env=False, **kwargs)


def openai_client(proc: OmniRouteProcess, api_key: str = "sk-agent-own-key-0001", **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url="https://api.openai.com/v1", api_key=api_key,
                         http_client=proxied_http(proc), max_retries=0, **kwargs)


def anthropic_client(proc: OmniRouteProcess, api_key: str = "sk-ant-agent-own-0001") -> anthropic.Anthropic:
    import httpx2  # the anthropic SDK ships its own httpx fork and rejects httpx objects

    http_client = httpx2.Client(proxy=proc.proxy_url, verify=proc.ssl_context(), trust_env=False, timeout=30)
    return anthropic.Anthropic(base_url="https://api.anthropic.com", api_key=api_key,
                               http_client=http_client, max_retries=0)


def wait_for(fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """Poll until `ok(fetch())`: capture finishes a row just after the response was relayed."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {str(value)[:2000]}")
        time.sleep(0.05)


def rows(proc: OmniRouteProcess, **params: Any) -> list[dict[str, Any]]:
    with proc.api() as api:
        response = api.get(f"{BASE}/requests", params={"limit": 1000, **params})
    response.raise_for_status()
    return response.json()["requests"]  # type: ignore[no-any-return]


def finished_row(proc: OmniRouteProcess, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The newest row matching `predicate` once it is complete (status and bodies filled in)."""
    def pick(found: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((r for r in found if predicate(r)), None)

    return wait_for(lambda: pick(rows(proc)),  # type: ignore[no-any-return]
                    lambda r: r is not None and r["status"] != "in-flight" and r["totalLatencyMs"] is not None)


def gsettings_env(root: Path) -> dict[str, str]:
    # A private keyfile backend: the system-proxy mode runs real gsettings without touching
    # this machine's desktop settings.
    return {"XDG_CONFIG_HOME": str(root / "xdg"), "GSETTINGS_BACKEND": "keyfile"}


def marker() -> str:
    return f"marker-{uuid.uuid4().hex[:10]}"


def mapped_call(proc: OmniRouteProcess, text: str, *, stream: bool = False, system: str | None = SYSTEM) -> str:
    client = openai_client(proc)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    if stream:
        chunks = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content or ""


def unmapped_call(proc: OmniRouteProcess, mock: MockProvider, text: str, model: str = "gpt-unmapped") -> int:
    with proxied_http(proc) as client:
        response = client.post(f"{mock.url}/v1/chat/completions",
                               json={"model": model, "messages": [{"role": "user", "content": text}]})
    return response.status_code


def with_text(text: str) -> Any:
    return lambda r: text in (r.get("requestBody") or "")


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "omniroute"), *args], check=False, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "OMNIROUTE_HOME": str(home)})


def mitmdump_reads(har: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "mitmdump"), "-n", "-r", str(har)], check=False, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HOME": tempfile.gettempdir()})


_VALIDATE_JS = """
const fs = require('fs');
const validate = require('har-validator');
validate.har(JSON.parse(fs.readFileSync(process.argv[2], 'utf8')))
  .then(() => console.log('valid'))
  .catch((e) => { console.error(JSON.stringify(e.errors || e.message)); process.exit(1); });
"""


def har_validator_script() -> Path:
    """npm `har-validator`, installed once per machine (as tests/unit/inspector/test_har.py does)."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("npm/node not installed: cannot run the independent har-validator check")
    root = Path(os.environ.get("OMNIROUTE_HAR_VALIDATOR_DIR",
                               Path(tempfile.gettempdir()) / "omniroute-har-validator"))
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "node_modules" / "har-validator").exists():
        (root / "package.json").write_text('{"name": "har-check", "private": true}')
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "har-validator"],
                              cwd=root, check=False, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.fail(f"npm install har-validator failed: {proc.stderr[-2000:]}")
    script = root / "validate.js"
    script.write_text(_VALIDATE_JS)
    return script


def har_validates(har: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(har_validator_script()), str(har)], check=False, capture_output=True,
                          text=True, timeout=60)
