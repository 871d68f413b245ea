"""The real agent CLIs from npm, installed once into a git-ignored cache and reused.

``./scripts/test`` installs them all before the suite starts (``python -m
tests.e2e.agents_support``), so parallel workers never run npm into the same folder; a test
that finds one missing installs it itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


if __name__ == "__main__":
    # A failed install is not fatal here: the tests that need the CLIs say why they skip.
    if problem := npm_install(*VERSIONS):
        print(f"omniroute: the agent CLIs are not installed ({problem}); their tests will skip", file=sys.stderr)
