"""The real agent CLIs from npm, installed once into a git-ignored cache and reused."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CACHE = Path(__file__).resolve().parent / ".agents"
CLAUDE_CODE, CODEX, GEMINI_CLI = "@anthropic-ai/claude-code", "@openai/codex", "@google/gemini-cli"
QWEN_CODE, OPENCODE = "@qwen-code/qwen-code", "opencode-ai"
VERSIONS = {CLAUDE_CODE: "2.1.332", CODEX: "0.169.0", GEMINI_CLI: "0.61.0", QWEN_CODE: "0.24.4", OPENCODE: "1.18.33"}


def _installed(name: str) -> str | None:
    manifest = CACHE / "node_modules" / name / "package.json"
    return json.loads(manifest.read_text()).get("version") if manifest.exists() else None


def install_agents(*names: str) -> Path:
    """node_modules/.bin holding the named CLIs (skips the test when npm cannot install them)."""
    missing = [f"{name}@{VERSIONS[name]}" for name in names if _installed(name) != VERSIONS[name]]
    if missing:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed")
        CACHE.mkdir(exist_ok=True)
        result = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), *missing],
                                capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            pytest.skip(f"npm install failed: {result.stderr[-500:]}")
    return CACHE / "node_modules" / ".bin"
