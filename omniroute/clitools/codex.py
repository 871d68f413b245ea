"""Codex: ``~/.codex/config.toml`` gets a ``model_providers.omniroute`` entry (Responses wire API)
and a profile that uses it, made the default with the top-level ``profile`` key (Codex's config
documentation). The key goes in ``experimental_bearer_token``, so no variable has to be
exported. tomlkit keeps the user's comments and layout; profiles of the user's own are listed
and can be pointed at OmniRoute too (``/api/cli-tools/codex-profiles``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit

from omniroute.clitools.backups import BackupStore
from omniroute.clitools.base import APPLY, RESET, UPDATE, Target, Writer, key_preview
from omniroute.clitools.formats import SettingsFileError, parse_toml, read_text, remove, write_text

PROVIDER = "omniroute"


class ProfileNotFound(LookupError):
    pass


def _table(path: Path, doc: Any, name: str) -> Any:
    """``doc[name]`` as a table, made if missing (a super-table: only ``[name.x]`` headers)."""
    if name not in doc:
        doc[name] = tomlkit.table(is_super_table=True)
    found = doc[name]
    if not isinstance(found, dict):
        raise SettingsFileError(path, f"'{name}' is not a table")
    return found


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


class Codex(Writer):
    id, slug, name, agent, binary = "codex", "codex", "Codex", "codex", "codex"
    notes = ("Codex reads the default profile from the top-level 'profile' key; "
             "`codex --profile NAME` picks another.",)

    def file(self, home: Path) -> Path:
        return home / ".codex" / "config.toml"

    def files(self, home: Path) -> list[Path]:
        return [self.file(home)]

    def _load(self, home: Path) -> tuple[Path, str | None, tomlkit.TOMLDocument]:
        path = self.file(home)
        text = read_text(path)
        return path, text, parse_toml(path, text)

    def read(self, home: Path) -> dict[str, Any]:
        _, _, doc = self._load(home)
        provider = doc.get("model_providers", {}).get(PROVIDER, {})
        profile = doc.get("profiles", {}).get(PROVIDER, {})
        active = _plain(doc.get("profile"))
        return {"baseUrl": _plain(provider.get("base_url")) if active == PROVIDER else None,
                "model": _plain(profile.get("model")), "keyPreview": key_preview(_plain(provider.get("experimental_bearer_token"))),
                "profile": active}

    def apply(self, home: Path, target: Target, backups: BackupStore) -> None:
        path, _, doc = self._load(home)
        backups.create(self.id, [path], UPDATE if self.read(home)["baseUrl"] == f"{target.base_url}/v1" else APPLY)
        provider = tomlkit.table()
        provider.update({"name": "OmniRoute", "base_url": f"{target.base_url}/v1", "wire_api": "responses",
                         "experimental_bearer_token": target.api_key})
        _table(path, doc, "model_providers")[PROVIDER] = provider
        profile = tomlkit.table()
        profile["model_provider"] = PROVIDER
        if target.model:
            profile["model"] = target.model
        _table(path, doc, "profiles")[PROVIDER] = profile
        doc["profile"] = PROVIDER
        write_text(path, tomlkit.dumps(doc))

    def reset(self, home: Path, backups: BackupStore) -> None:
        path, text, doc = self._load(home)
        if text is None:
            return
        backup = backups.latest(self.id, APPLY)
        before_text = backups.original(backup, path) if backup else None
        try:
            before = parse_toml(path, before_text)
        except SettingsFileError:
            before = tomlkit.document()
        backups.create(self.id, [path], RESET)
        _restore(doc, before, "profile")
        for table in ("model_providers", "profiles"):
            if isinstance(doc.get(table), dict):
                _restore(doc[table], before.get(table, {}), PROVIDER)
                if not doc[table] and table not in before:
                    del doc[table]
        if before_text is None and not doc:
            remove(path)
        else:
            write_text(path, _trailing_like(tomlkit.dumps(doc), before_text or text))

    # -- profiles (/api/cli-tools/codex-profiles) -------------------------------------------
    def profiles(self, home: Path) -> list[dict[str, Any]]:
        _, _, doc = self._load(home)
        active = _plain(doc.get("profile"))
        return [{"name": name, "model": _plain(body.get("model")), "modelProvider": _plain(body.get("model_provider")),
                 "active": name == active, "omniroute": _plain(body.get("model_provider")) == PROVIDER}
                for name, body in doc.get("profiles", {}).items() if isinstance(body, dict)]

    def put_profile(self, home: Path, name: str, model: str | None, backups: BackupStore, *, create: bool) -> None:
        path, _, doc = self._load(home)
        profiles = _table(path, doc, "profiles")
        if create == (name in profiles):
            raise (ValueError(f"profile {name!r} already exists; update it with PUT") if create
                   else ProfileNotFound(f"no Codex profile {name!r}"))
        if PROVIDER not in doc.get("model_providers", {}):
            raise ValueError("Codex is not connected to OmniRoute yet: POST /api/cli-tools/codex-settings first")
        backups.create(self.id, [path], "profile")
        body = profiles[name] if name in profiles else tomlkit.table()
        body["model_provider"] = PROVIDER
        if model:
            body["model"] = model
        profiles[name] = body
        write_text(path, tomlkit.dumps(doc))

    def delete_profile(self, home: Path, name: str, backups: BackupStore) -> None:
        path, _, doc = self._load(home)
        if name not in doc.get("profiles", {}):
            raise ProfileNotFound(f"no Codex profile {name!r}")
        backups.create(self.id, [path], "profile")
        del doc["profiles"][name]
        if _plain(doc.get("profile")) == name:
            del doc["profile"]
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
