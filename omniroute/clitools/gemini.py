"""Gemini CLI: ``GOOGLE_GEMINI_BASE_URL`` and ``GEMINI_API_KEY`` in ``~/.gemini/.env``, and
``security.auth.selectedType = "gemini-api-key"`` in ``~/.gemini/settings.json``.

From gemini-cli's source (``packages/cli/src/config/settings.ts``, ``findEnvFile``): the
``.gemini/.env`` files are read only in a trusted folder, and a ``.gemini/.env`` or ``.env`` in
the working directory or a parent wins over the one in home. The base URL is the API root (the
SDK adds ``/v1beta/models/...``); plain http is accepted for loopback only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from omniroute.clitools.backups import APPLY, RESET, UPDATE, BackupStore
from omniroute.clitools.base import JsonWriter, Target, Writer, key_preview, lookup
from omniroute.clitools.formats import Path_, edit_env, parse_env, read_text, remove, write_text

ENV_KEYS = ("GOOGLE_GEMINI_BASE_URL", "GEMINI_API_KEY", "GEMINI_MODEL")


class _GeminiSettings(JsonWriter):
    id, slug, name, agent, binary = "gemini-cli", "gemini", "Gemini CLI", "gemini-cli", "gemini"
    owned: ClassVar[tuple[Path_, ...]] = (("security", "auth", "selectedType"),)

    def file(self, home: Path) -> Path:
        return home / ".gemini" / "settings.json"

    def values(self, target: Target) -> dict[Path_, Any]:
        return {("security", "auth", "selectedType"): "gemini-api-key"}

    def describe(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {"baseUrl": None, "authType": lookup(doc, "security", "auth", "selectedType")}


class GeminiCli(Writer):
    id, slug, name, agent, binary = "gemini-cli", "gemini", "Gemini CLI", "gemini-cli", "gemini"
    notes = (("Gemini CLI reads ~/.gemini/.env only in a trusted folder (trust it when asked, or "
              "GEMINI_CLI_TRUST_WORKSPACE=true); a .env in the project wins over it."),)

    def __init__(self) -> None:
        self._settings = _GeminiSettings()

    def env_file(self, home: Path) -> Path:
        return home / ".gemini" / ".env"

    def files(self, home: Path) -> list[Path]:
        return [self.env_file(home), self._settings.file(home)]

    def read(self, home: Path) -> dict[str, Any]:
        env = parse_env(read_text(self.env_file(home)))
        return {**self._settings.read(home), "baseUrl": env.get("GOOGLE_GEMINI_BASE_URL"),
                "model": env.get("GEMINI_MODEL"), "keyPreview": key_preview(env.get("GEMINI_API_KEY"))}

    def apply(self, home: Path, target: Target, backups: BackupStore) -> None:
        path = self.env_file(home)
        self.read(home)  # refuses a settings.json that does not parse, before any backup or write
        backups.create(self.id, self.files(home), UPDATE if backups.connection(self.id) else APPLY)
        changes = {"GOOGLE_GEMINI_BASE_URL": target.base_url, "GEMINI_API_KEY": target.api_key}
        if target.model:
            changes["GEMINI_MODEL"] = target.model
        write_text(path, edit_env(read_text(path), changes))
        self._settings.merge(home, target)

    def reset(self, home: Path, backups: BackupStore) -> None:
        path = self.env_file(home)
        self.read(home)
        backup = backups.connection(self.id)
        if backup is None:
            return  # not connected: the values there are the user's own
        before_text = backups.original(backup, path)
        before = parse_env(before_text)
        json_before = self._settings.before(self._settings.file(home), backups)
        backups.create(self.id, self.files(home), RESET)
        text = read_text(path)
        if text is not None:
            edited = edit_env(text, {key: before.get(key) for key in ENV_KEYS})
            if before_text is None and not edited.strip():
                remove(path)
            else:
                write_text(path, edited)
        self._settings.unmerge(home, json_before)
