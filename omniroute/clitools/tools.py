"""The tools OmniRoute can point at itself, and those it cannot (with the reason)."""

from __future__ import annotations

from omniroute.clitools.base import Writer
from omniroute.clitools.codex import Codex
from omniroute.clitools.gemini import GeminiCli
from omniroute.clitools.writers import ClaudeCode, Droid, OpenCode, QwenCode

WRITERS: dict[str, Writer] = {w.id: w for w in (ClaudeCode(), Codex(), GeminiCli(), QwenCode(), OpenCode(), Droid())}

# Route names of the OmniRoute API specification without a writer here, and why.
UNSUPPORTED: dict[str, str] = {
    "cline": ("Cline keeps its provider, base URL and key in VS Code's extension state and secret "
              "storage, not in a documented settings file; set 'OpenAI Compatible' with base URL "
              "http://127.0.0.1:20128/v1 in Cline's own settings panel."),
    "kilo": ("Kilo Code keeps its provider settings in VS Code's extension state and secret "
             "storage, not in a documented settings file; use its 'OpenAI Compatible' provider "
             "with base URL http://127.0.0.1:20128/v1."),
    "openclaw": "OpenClaw's settings file is not documented in a form we could verify; configure it by hand.",
}


class UnknownTool(LookupError):
    pass


def writer_for(name: str) -> Writer:
    """By tool id (``claude-code``), route name (``claude``) or agent id (``open-code``)."""
    for writer in WRITERS.values():
        if name in (writer.id, writer.slug, writer.agent):
            return writer
    if name in UNSUPPORTED:
        raise UnknownTool(f"{name!r} cannot be configured by OmniRoute: {UNSUPPORTED[name]}")
    known = ", ".join(w.id for w in WRITERS.values())
    raise UnknownTool(f"unknown tool {name!r}; tools OmniRoute can configure: {known}")
