"""What every settings writer offers, and the JSON-file writer most agents need."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from omniroute.clitools.backups import APPLY, RESET, UPDATE, BackupStore
from omniroute.clitools.formats import (
    MISSING,
    Matcher,
    Path_,
    SettingsFileError,
    drop_entries,
    dump_json,
    get_path,
    parse_json,
    put_entry,
    read_text,
    remove,
    restore_path,
    set_path,
    write_text,
)
from omniroute.providers.secrets import preview


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how an agent should call OmniRoute."""

    base_url: str  # e.g. http://127.0.0.1:20128, without a trailing slash
    api_key: str  # the per-tool OmniRoute key (calls made with it are attributed to the agent)
    model: str | None = None
    small_model: str | None = None


class Writer(ABC):
    id: ClassVar[str]  # our tool id, e.g. "claude-code"
    slug: ClassVar[str]  # the spec's route name: /api/cli-tools/{slug}-settings
    name: ClassVar[str]
    agent: ClassVar[str]  # the catalog agent its calls are attributed to
    binary: ClassVar[str]  # the command on PATH
    default_model: ClassVar[str | None] = None  # for agents whose config must name a model
    notes: ClassVar[tuple[str, ...]] = ()  # what a user should know (shown by guide-settings)

    @abstractmethod
    def files(self, home: Path) -> list[Path]: ...

    @abstractmethod
    def read(self, home: Path) -> dict[str, Any]:
        """{"baseUrl", "model", "keyPreview"} as the agent will see them (None when unset)."""

    @abstractmethod
    def apply(self, home: Path, target: Target, backups: BackupStore) -> None: ...

    @abstractmethod
    def reset(self, home: Path, backups: BackupStore) -> None: ...

    def state(self, home: Path) -> dict[str, Any]:
        return {"tool": self.id, "name": self.name, "agent": self.agent,
                "files": [str(p) for p in self.files(home)], **self.read(home)}


def key_preview(value: Any) -> str | None:
    """How a key stored in a settings file is shown: its last 4 characters, as /api/keys does."""
    return preview(value) if isinstance(value, str) and value else None


class JsonWriter(Writer):
    """One JSON settings file: some keys set to values, some list entries of ours."""

    owned: ClassVar[tuple[Path_, ...]] = ()  # every key path a target may set
    entries: ClassVar[dict[Path_, Matcher]] = {}  # list path → "is this entry ours?"

    @abstractmethod
    def file(self, home: Path) -> Path: ...

    @abstractmethod
    def values(self, target: Target) -> dict[Path_, Any]: ...

    def entry_values(self, target: Target) -> dict[Path_, Any]:
        return {}

    @abstractmethod
    def describe(self, doc: dict[str, Any]) -> dict[str, Any]: ...

    def files(self, home: Path) -> list[Path]:
        return [self.file(home)]

    def read(self, home: Path) -> dict[str, Any]:
        path = self.file(home)
        return self.describe(parse_json(path, read_text(path)))

    def apply(self, home: Path, target: Target, backups: BackupStore) -> None:
        path = self.file(home)
        self.read(home)  # refuses a file that does not parse, before any backup or write
        backups.create(self.id, [path], UPDATE if backups.connection(self.id) else APPLY)
        self.merge(home, target)

    def reset(self, home: Path, backups: BackupStore) -> None:
        path = self.file(home)
        self.read(home)
        if backups.connection(self.id) is None:
            return  # not connected: the values there are the user's own
        before = self.before(path, backups)
        backups.create(self.id, [path], RESET)
        self.unmerge(home, before)

    def merge(self, home: Path, target: Target) -> None:
        path = self.file(home)
        text = read_text(path)
        doc = parse_json(path, text)
        for key, value in self.values(target).items():
            set_path(path, doc, key, value)
        for key, entry in self.entry_values(target).items():
            put_entry(path, doc, key, self.entries[key], entry)
        write_text(path, dump_json(doc, text))

    def unmerge(self, home: Path, before: tuple[str | None, dict[str, Any]]) -> None:
        """Our keys back to what they were in ``before`` (text, parsed); a file we made goes."""
        path = self.file(home)
        text = read_text(path)
        if text is None:
            return
        doc = parse_json(path, text)
        unchanged = copy.deepcopy(doc)
        before_text, before_doc = before
        for key in self.owned:
            restore_path(doc, key, before_doc)
        for key, ours in self.entries.items():
            drop_entries(doc, key, ours, before_doc)
        if before_text is None and not doc:
            remove(path)  # we created it, and nothing of the user's is in it
        elif doc != unchanged:
            write_text(path, dump_json(doc, text))

    def before(self, path: Path, backups: BackupStore) -> tuple[str | None, dict[str, Any]]:
        """The file as it was before OmniRoute first configured it (from that backup)."""
        backup = backups.connection(self.id)
        text = backups.original(backup, path) if backup else None
        try:
            return text, parse_json(path, text)
        except SettingsFileError:
            return text, {}


def lookup(doc: dict[str, Any], *path: str) -> Any:
    found = get_path(doc, path)
    return None if found is MISSING else found
