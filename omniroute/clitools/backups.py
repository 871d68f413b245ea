"""Backups of agent settings files, taken before every change OmniRoute makes to them.

A backup is a directory under ``root``: ``manifest.json`` (tool, reason, time, and for each file
its path and whether it existed) and one copy per file that existed. Restoring writes each file
back atomically, or removes it if it did not exist then; the state just before a restore is
backed up too, so a restore can itself be undone.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omniroute.clitools.formats import read_text, remove, write_text

# Why a backup was taken: OmniRoute connecting a tool (its settings as they were before), changing
# its settings while connected, disconnecting it; "manual", "profile" and "before-restore" too.
APPLY, UPDATE, RESET = "apply", "update", "reset"
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}[0-9]{6}Z-[a-z0-9-]{1,40}-[0-9a-f]{6}$")


class BackupNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Backup:
    id: str
    tool: str
    reason: str
    created_at: str
    files: tuple[dict[str, Any], ...]  # {"path", "existed", "copy"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "tool": self.tool, "reason": self.reason, "createdAt": self.created_at,
            "files": [{"path": f["path"], "existed": f["existed"]} for f in self.files],
        }


class BackupStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self, tool: str, files: list[Path], reason: str) -> Backup:
        now = datetime.now(UTC)
        backup_id = f"{now.strftime('%Y%m%dT%H%M%S%f')}Z-{tool}-{secrets.token_hex(3)}"
        folder = self.root / backup_id
        folder.mkdir(parents=True, mode=0o700)
        entries = []
        for index, path in enumerate(files):
            text = read_text(path)
            copy = f"{index}.bak" if text is not None else None
            if copy is not None:
                write_text(folder / copy, text or "")
            entries.append({"path": str(path), "existed": text is not None, "copy": copy})
        backup = Backup(backup_id, tool, reason, now.isoformat(), tuple(entries))
        write_text(folder / "manifest.json", json.dumps({**backup.to_dict(), "files": entries}, indent=2) + "\n")
        return backup

    def list(self, tool: str | None = None) -> list[Backup]:
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if _ID.match(folder.name) and (folder / "manifest.json").is_file():
                backup = self._load(folder.name)
                if tool is None or backup.tool == tool:
                    found.append(backup)
        return sorted(found, key=lambda b: b.id, reverse=True)

    def get(self, backup_id: str) -> Backup:
        if not _ID.match(backup_id) or not (self.root / backup_id / "manifest.json").is_file():
            raise BackupNotFound(f"no backup {backup_id!r}; list them with GET /api/cli-tools/backups")
        return self._load(backup_id)

    def original(self, backup: Backup, path: Path) -> str | None:
        """The text ``path`` had when ``backup`` was taken (None: it did not exist)."""
        for entry in backup.files:
            if entry["path"] == str(path) and entry["copy"]:
                return read_text(self.root / backup.id / entry["copy"])
        return None

    def connection(self, tool: str) -> Backup | None:
        """The backup taken when OmniRoute connected ``tool``; None when it is not connected
        (never, or reset since): a reset then has nothing of ours to take out."""
        for backup in self.list(tool):
            if backup.reason == RESET:
                return None
            if backup.reason == APPLY:
                return backup
        return None

    def restore(self, backup_id: str) -> Backup:
        backup = self.get(backup_id)
        self.create(backup.tool, [Path(f["path"]) for f in backup.files], "before-restore")
        for entry in backup.files:
            path = Path(entry["path"])
            if entry["copy"]:
                write_text(path, read_text(self.root / backup.id / entry["copy"]) or "")
            else:
                remove(path)
        return backup

    def _load(self, backup_id: str) -> Backup:
        data = json.loads((self.root / backup_id / "manifest.json").read_text(encoding="utf-8"))
        return Backup(data["id"], data["tool"], data["reason"], data["createdAt"], tuple(data["files"]))
