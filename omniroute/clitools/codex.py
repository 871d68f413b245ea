"""Codex: ``~/.codex/config.toml`` gets a ``model_providers.omniroute`` entry (Responses wire
API) made the default with the top-level ``model_provider`` key, and a profile file
``~/.codex/omniroute.config.toml`` (``codex --profile omniroute``).

Codex 0.169 refuses the legacy top-level ``profile`` selector ("use ``--profile <name>`` with
``<name>.config.toml`` instead") and no longer writes ``[profiles.*]`` tables, so profiles are
files ``$CODEX_HOME/<name>.config.toml`` layered on the base config; legacy tables of the user's
are listed, never written. The key goes in ``experimental_bearer_token``, so no variable has to
be exported. tomlkit keeps the user's comments and layout.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tomlkit

from omniroute.clitools.backups import APPLY, RESET, UPDATE, BackupStore
from omniroute.clitools.base import Target, Writer, key_preview
from omniroute.clitools.formats import SettingsFileError, parse_toml, read_text, remove, write_text

PROVIDER = "omniroute"
PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OWNED_TOP = ("model_provider", "model")


class ProfileNotFound(LookupError):
    pass


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


class Codex(Writer):
    id, slug, name, agent, binary = "codex", "codex", "Codex", "codex", "codex"
    notes = (("OmniRoute becomes Codex's default model provider; `codex --profile omniroute` "
              "selects it explicitly, and other profiles can point at it too (codex-profiles)."),)

    def file(self, home: Path) -> Path:
        return home / ".codex" / "config.toml"

    def profile_file(self, home: Path, name: str) -> Path:
        if not PROFILE_NAME.match(name):
            raise ValueError(f"invalid profile name {name!r}: letters, digits, '-' and '_' only")
        return home / ".codex" / f"{name}.config.toml"

    def files(self, home: Path) -> list[Path]:
        return [self.file(home), self.profile_file(home, PROVIDER)]

    def _load(self, path: Path) -> tuple[str | None, tomlkit.TOMLDocument]:
        text = read_text(path)
        return text, parse_toml(path, text)

    def read(self, home: Path) -> dict[str, Any]:
        _, doc = self._load(self.file(home))
        _, profile = self._load(self.profile_file(home, PROVIDER))
        provider = doc.get("model_providers", {}).get(PROVIDER, {})
        default = _plain(doc.get("model_provider")) == PROVIDER
        return {"baseUrl": _plain(provider.get("base_url")) if default else None,
                "model": _plain(doc.get("model")) if default else None,
                "keyPreview": key_preview(_plain(provider.get("experimental_bearer_token"))),
                "profileModel": _plain(profile.get("model"))}

    def apply(self, home: Path, target: Target, backups: BackupStore) -> None:
        path, profile_path = self.files(home)
        _, doc = self._load(path)
        self._load(profile_path)  # refused before any write if it does not parse
        backups.create(self.id, [path, profile_path], UPDATE if backups.connection(self.id) else APPLY)
        provider = tomlkit.table()
        provider.update({"name": "OmniRoute", "base_url": f"{target.base_url}/v1", "wire_api": "responses",
                         "experimental_bearer_token": target.api_key})
        doc["model_provider"] = PROVIDER
        if target.model:
            doc["model"] = target.model
        if "model_providers" not in doc:
            doc["model_providers"] = tomlkit.table(is_super_table=True)
        elif not isinstance(doc["model_providers"], dict):
            raise SettingsFileError(path, "'model_providers' is not a table")
        doc["model_providers"][PROVIDER] = provider
        write_text(path, tomlkit.dumps(doc))
        self._write_profile(profile_path, target.model)

    def reset(self, home: Path, backups: BackupStore) -> None:
        path, profile_path = self.files(home)
        text, doc = self._load(path)
        self._load(profile_path)
        backup = backups.connection(self.id)
        if backup is None:
            return  # not connected: the values there are the user's own
        before_text = backups.original(backup, path)
        profile_before = backups.original(backup, profile_path)
        try:
            before = parse_toml(path, before_text)
        except SettingsFileError:
            before = tomlkit.document()
        backups.create(self.id, [path, profile_path], RESET)
        if text is not None:
            for key in OWNED_TOP:
                _restore(doc, before, key)
            if isinstance(doc.get("model_providers"), dict):
                _restore(doc["model_providers"], before.get("model_providers", {}), PROVIDER)
                if not doc["model_providers"] and "model_providers" not in before:
                    del doc["model_providers"]
            if before_text is None and not doc:
                remove(path)
            else:
                write_text(path, _trailing_like(tomlkit.dumps(doc), before_text or text))
        if profile_before is None:
            remove(profile_path)
        else:
            write_text(profile_path, profile_before)

    # -- profiles (/api/cli-tools/codex-profiles) -------------------------------------------
    def profiles(self, home: Path) -> list[dict[str, Any]]:
        found = []
        folder = home / ".codex"
        for path in sorted(folder.glob("*.config.toml")) if folder.is_dir() else []:
            _, doc = self._load(path)
            provider = _plain(doc.get("model_provider"))
            found.append({"name": path.name.removesuffix(".config.toml"), "model": _plain(doc.get("model")),
                          "modelProvider": provider, "omniroute": provider == PROVIDER, "file": str(path)})
        _, base = self._load(self.file(home))
        for name, body in base.get("profiles", {}).items():  # read only: Codex no longer writes these
            if isinstance(body, dict):
                provider = _plain(body.get("model_provider"))
                found.append({"name": name, "model": _plain(body.get("model")), "modelProvider": provider,
                              "omniroute": provider == PROVIDER, "file": None, "legacy": True})
        return found

    def put_profile(self, home: Path, name: str, model: str | None, backups: BackupStore, *, create: bool) -> None:
        path = self.profile_file(home, name)
        if create == path.exists():
            raise (ValueError(f"Codex profile {name!r} already exists; update it with PUT") if create
                   else ProfileNotFound(f"no Codex profile {name!r} ({path})"))
        self._load(path)
        _, base = self._load(self.file(home))
        if PROVIDER not in base.get("model_providers", {}):
            raise ValueError("Codex is not connected to OmniRoute yet: POST /api/cli-tools/codex-settings first")
        backups.create(self.id, [path], "profile")
        self._write_profile(path, model)

    def delete_profile(self, home: Path, name: str, backups: BackupStore) -> None:
        path = self.profile_file(home, name)
        if not path.exists():
            raise ProfileNotFound(f"no Codex profile {name!r} ({path})")
        backups.create(self.id, [path], "profile")
        remove(path)

    def _write_profile(self, path: Path, model: str | None) -> None:
        _, doc = self._load(path)
        doc["model_provider"] = PROVIDER
        if model:
            doc["model"] = model
        write_text(path, tomlkit.dumps(doc))


def _restore(table: Any, before: Any, key: str) -> None:
    if key in before:
        table[key] = before[key]
    elif key in table:
        del table[key]


def _trailing_like(text: str, model: str) -> str:
    """tomlkit puts a blank line before a table it appends and leaves it when the table goes:
    end the file as it ended before."""
    return text.rstrip("\n") + "\n" * (len(model) - len(model.rstrip("\n")))
