"""Settings writers for agents configured by one JSON file: Claude Code, Qwen Code, opencode, Droid.

The keys each writes come from the agent's own documentation (cited per class).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from omniroute.clitools.base import JsonWriter, Target, key_preview, lookup
from omniroute.clitools.formats import Matcher, Path_


class ClaudeCode(JsonWriter):
    """``~/.claude/settings.json``, its ``env`` block: Claude Code sets these variables for itself
    (ANTHROPIC_BASE_URL without /v1; ANTHROPIC_AUTH_TOKEN goes out as ``Authorization: Bearer``)."""

    id, slug, name, agent, binary = "claude-code", "claude", "Claude Code", "claude-code", "claude"
    owned: ClassVar[tuple[Path_, ...]] = (
        ("env", "ANTHROPIC_BASE_URL"), ("env", "ANTHROPIC_AUTH_TOKEN"),
        ("env", "ANTHROPIC_MODEL"), ("env", "ANTHROPIC_DEFAULT_HAIKU_MODEL"),
    )
    notes = (("An ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL exported in the shell wins over settings.json "
              "for that variable; unset them."),)

    def file(self, home: Path) -> Path:
        return home / ".claude" / "settings.json"

    def values(self, target: Target) -> dict[Path_, Any]:
        out: dict[Path_, Any] = {("env", "ANTHROPIC_BASE_URL"): target.base_url,
                                 ("env", "ANTHROPIC_AUTH_TOKEN"): target.api_key}
        if target.model:
            out[("env", "ANTHROPIC_MODEL")] = target.model
        if target.small_model:
            out[("env", "ANTHROPIC_DEFAULT_HAIKU_MODEL")] = target.small_model
        return out

    def describe(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {"baseUrl": lookup(doc, "env", "ANTHROPIC_BASE_URL"), "model": lookup(doc, "env", "ANTHROPIC_MODEL"),
                "keyPreview": key_preview(lookup(doc, "env", "ANTHROPIC_AUTH_TOKEN"))}


QWEN_KEY_ENV = "OMNIROUTE_API_KEY"


def _qwen_ours(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("envKey") == QWEN_KEY_ENV


class QwenCode(JsonWriter):
    """``~/.qwen/settings.json``: a ``modelProviders.openai`` entry, its key in ``env``,
    ``security.auth.selectedType = "openai"`` and ``model.name`` (Qwen Code's auth documentation,
    "one-file setup via settings.json")."""

    id, slug, name, agent, binary = "qwen-code", "qwen", "Qwen Code", "qwen-code", "qwen"
    default_model = "qwen3-coder-plus"
    owned: ClassVar[tuple[Path_, ...]] = (
        ("env", QWEN_KEY_ENV), ("security", "auth", "selectedType"), ("model", "name"),
    )
    entries: ClassVar[dict[Path_, Matcher]] = {("modelProviders", "openai"): _qwen_ours}

    def file(self, home: Path) -> Path:
        return home / ".qwen" / "settings.json"

    def values(self, target: Target) -> dict[Path_, Any]:
        return {("env", QWEN_KEY_ENV): target.api_key, ("security", "auth", "selectedType"): "openai",
                ("model", "name"): target.model or self.default_model}

    def entry_values(self, target: Target) -> dict[Path_, Any]:
        model = target.model or self.default_model
        return {("modelProviders", "openai"): {
            "id": model, "name": f"{model} (OmniRoute)", "baseUrl": f"{target.base_url}/v1",
            "envKey": QWEN_KEY_ENV,
        }}

    def describe(self, doc: dict[str, Any]) -> dict[str, Any]:
        ours = [e for e in lookup(doc, "modelProviders", "openai") or [] if _qwen_ours(e)]
        return {"baseUrl": ours[0].get("baseUrl") if ours else None, "model": lookup(doc, "model", "name"),
                "keyPreview": key_preview(lookup(doc, "env", QWEN_KEY_ENV))}


PROVIDER_ID = "omniroute"


class OpenCode(JsonWriter):
    """``~/.config/opencode/opencode.json``: a ``provider.omniroute`` entry on the
    OpenAI-compatible AI SDK package and ``model = "omniroute/<model>"`` (opencode's providers
    documentation). A JSONC file with comments is refused (not parsed), never rewritten."""

    id, slug, name, agent, binary = "opencode", "opencode", "opencode", "open-code", "opencode"
    default_model = "gpt-4.1"
    owned: ClassVar[tuple[Path_, ...]] = (("provider", PROVIDER_ID), ("model",))

    def file(self, home: Path) -> Path:
        return home / ".config" / "opencode" / "opencode.json"

    def values(self, target: Target) -> dict[Path_, Any]:
        model = target.model or self.default_model
        return {
            ("provider", PROVIDER_ID): {
                "npm": "@ai-sdk/openai-compatible", "name": "OmniRoute",
                "options": {"baseURL": f"{target.base_url}/v1", "apiKey": target.api_key},
                "models": {model: {"name": model}},
            },
            ("model",): f"{PROVIDER_ID}/{model}",
        }

    def describe(self, doc: dict[str, Any]) -> dict[str, Any]:
        model = lookup(doc, "model")
        ours = isinstance(model, str) and model.startswith(f"{PROVIDER_ID}/")
        return {"baseUrl": lookup(doc, "provider", PROVIDER_ID, "options", "baseURL"),
                "model": model.split("/", 1)[1] if ours else None,
                "keyPreview": key_preview(lookup(doc, "provider", PROVIDER_ID, "options", "apiKey"))}


DROID_LABEL = "OmniRoute: "


def _droid_ours(entry: Any) -> bool:
    return isinstance(entry, dict) and str(entry.get("displayName", "")).startswith(DROID_LABEL)


class Droid(JsonWriter):
    """``~/.factory/settings.json``: a ``customModels`` entry (Factory's BYOK documentation);
    the user picks it with ``/model``."""

    id, slug, name, agent, binary = "droid", "droid", "Droid", "droid", "droid"
    default_model = "claude-sonnet-4-5"
    entries: ClassVar[dict[Path_, Matcher]] = {("customModels",): _droid_ours}
    notes = ("Droid lists the entry under its custom models: choose it with /model.",)

    def file(self, home: Path) -> Path:
        return home / ".factory" / "settings.json"

    def values(self, target: Target) -> dict[Path_, Any]:
        return {}

    def entry_values(self, target: Target) -> dict[Path_, Any]:
        model = target.model or self.default_model
        return {("customModels",): {
            "model": model, "displayName": f"{DROID_LABEL}{model}", "baseUrl": f"{target.base_url}/v1",
            "apiKey": target.api_key, "provider": "generic-chat-completion-api",
        }}

    def describe(self, doc: dict[str, Any]) -> dict[str, Any]:
        ours = [e for e in lookup(doc, "customModels") or [] if _droid_ours(e)]
        entry = ours[0] if ours else {}
        return {"baseUrl": entry.get("baseUrl"), "model": entry.get("model"),
                "keyPreview": key_preview(entry.get("apiKey"))}
