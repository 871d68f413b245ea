"""The real agent CLIs from npm, installed once into a git-ignored cache and reused.

``./scripts/test`` installs them all before the suite starts (``python -m
tests.e2e.agents_support``), so parallel workers never run npm into the same folder; a test
that finds one missing installs it itself.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import OmniRouteProcess

CACHE = Path(__file__).resolve().parent / ".agents"
CLAUDE_CODE, CODEX, GEMINI_CLI = "@anthropic-ai/claude-code", "@openai/codex", "@google/gemini-cli"
QWEN_CODE, OPENCODE = "@qwen-code/qwen-code", "opencode-ai"
VERSIONS = {CLAUDE_CODE: "2.1.332", CODEX: "0.169.0", GEMINI_CLI: "0.61.0", QWEN_CODE: "0.24.4", OPENCODE: "1.18.33"}


def _installed(name: str) -> str | None:
    manifest = CACHE / "node_modules" / name / "package.json"
    return json.loads(manifest.read_text()).get("version") if manifest.exists() else None


def npm_install(*names: str) -> str | None:
    """Install the named CLIs at their pinned versions when missing; why not, or None."""
    missing = [f"{name}@{VERSIONS[name]}" for name in names if _installed(name) != VERSIONS[name]]
    if not missing:
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    CACHE.mkdir(exist_ok=True)
    result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), *missing],
                            capture_output=True, text=True, timeout=900, check=False)
    return f"npm install failed: {result.stderr[-500:]}" if result.returncode != 0 else None


def install_agents(*names: str) -> Path:
    """node_modules/.bin holding the named CLIs (skips the test when npm cannot install them)."""
    if problem := npm_install(*names):
        pytest.skip(problem)
    return CACHE / "node_modules" / ".bin"


def agent_env(omni: OmniRouteProcess, agent: str, **extra: str) -> dict[str, str]:
    """What `omniroute env AGENT` prints, plus a throwaway HOME and ``extra`` (the agent's fake key)."""
    cli = str(Path(sys.executable).parent / "omniroute")
    out = subprocess.run([cli, "env", agent, "--home", str(omni.home), "--proxy-port", str(omni.proxy_port)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    env = {"PATH": os.environ["PATH"], "HOME": tempfile.mkdtemp(prefix=f"{agent}-home-")}
    for line in out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    assert env["HTTPS_PROXY"] == omni.proxy_url and env["NO_PROXY"] == "127.0.0.1,localhost"
    return {**env, **extra}


def inspector_rows(omni: OmniRouteProcess, agent: str) -> list[dict[str, Any]]:
    """The inspector's rows for ``agent``, newest first."""
    with omni.api() as api:
        return api.get("/api/tools/traffic-inspector/requests", params={"agent": agent, "limit": 200}).json()["requests"]


if __name__ == "__main__":
    # A failed install is not fatal here: the tests that need the CLIs say why they skip.
    if problem := npm_install(*VERSIONS):
        print(f"omniroute: the agent CLIs are not installed ({problem}); their tests will skip", file=sys.stderr)
