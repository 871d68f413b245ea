"""The operations behind `/api/cli-tools`, the CLI's `connect`/`disconnect` and the Agents page.

Synchronous (file and database I/O): the API runs them in a worker thread.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from omniroute.clitools.backups import BackupStore
from omniroute.clitools.base import Target, Writer
from omniroute.clitools.codex import Codex
from omniroute.clitools.tools import UNSUPPORTED, WRITERS
from omniroute.config import Settings

VERSION_TIMEOUT_S = 10.0


def user_home() -> Path:
    """The home whose agent settings we edit: the server's user's (HOME, as the agents read it)."""
    return Path(os.environ.get("HOME") or Path.home())


def base_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.api_port}"


class KeyIssuer(Protocol):
    """Per-tool OmniRoute API keys (``omniroute.api.tool_keys``)."""

    def issue(self, tool_id: str) -> str: ...

    def revoke(self, tool_id: str) -> int: ...


@dataclass
class CliTools:
    settings: Settings
    keys: KeyIssuer
    home: Path

    @property
    def backups(self) -> BackupStore:
        return BackupStore(self.settings.home / "cli-tools" / "backups")

    def state(self, writer: Writer) -> dict[str, Any]:
        state = writer.state(self.home)
        expected = base_url(self.settings)
        state["configured"] = bool(state.get("baseUrl")) and str(state["baseUrl"]).rstrip("/").removesuffix("/v1") == expected
        state["expectedBaseUrl"] = expected
        return state

    def connect(self, writer: Writer, model: str | None = None, small_model: str | None = None) -> dict[str, Any]:
        writer.read(self.home)  # a settings file that does not parse is refused before a key is made
        secret = self.keys.issue(writer.id)
        try:
            writer.apply(self.home, Target(base_url(self.settings), secret, model, small_model), self.backups)
        except BaseException:
            self.keys.revoke(writer.id)
            raise
        return self.state(writer)

    def disconnect(self, writer: Writer) -> dict[str, Any]:
        writer.reset(self.home, self.backups)
        self.keys.revoke(writer.id)
        return self.state(writer)

    def runtime(self, writer: Writer, dns_enabled: bool) -> dict[str, Any]:
        path = shutil.which(writer.binary)
        state = self.state(writer)
        mode = "direct" if state["configured"] else "intercept" if dns_enabled else "off"
        return {"tool": writer.id, "agent": writer.agent, "installed": path is not None, "path": path,
                "version": _version(path) if path else None, "configured": state["configured"],
                "mode": mode, "dnsEnabled": dns_enabled, "baseUrl": state.get("baseUrl"),
                "expectedBaseUrl": state["expectedBaseUrl"]}

    def guide(self, writer: Writer) -> dict[str, Any]:
        return {"tool": writer.id, "name": writer.name, "agent": writer.agent, "supported": True,
                "files": [str(p) for p in writer.files(self.home)], "baseUrl": base_url(self.settings),
                "defaultModel": writer.default_model, "notes": list(writer.notes),
                "connect": f"omniroute connect {writer.id} --direct", "disconnect": f"omniroute disconnect {writer.id}",
                "steps": [
                    (f"POST /api/cli-tools/{writer.slug}-settings (or: omniroute connect {writer.id} --direct): "
                     "backs up and merges OmniRoute's base URL and a per-tool API key into the files above."),
                    f"Map the agent's models: PUT /api/tools/agent-bridge/agents/{writer.agent}/mappings.",
                    f"DELETE /api/cli-tools/{writer.slug}-settings puts the files back as they were.",
                ]}

    def codex_profiles(self) -> list[dict[str, Any]]:
        return _codex().profiles(self.home)

    def put_codex_profile(self, name: str, model: str | None, *, create: bool) -> list[dict[str, Any]]:
        _codex().put_profile(self.home, name, model, self.backups, create=create)
        return self.codex_profiles()

    def delete_codex_profile(self, name: str) -> list[dict[str, Any]]:
        _codex().delete_profile(self.home, name, self.backups)
        return self.codex_profiles()

    def create_backup(self, writer: Writer) -> dict[str, Any]:
        return self.backups.create(writer.id, writer.files(self.home), "manual").to_dict()

    def restore_backup(self, backup_id: str) -> dict[str, Any]:
        return self.backups.restore(backup_id).to_dict()


def tool_list() -> list[dict[str, Any]]:
    supported = [{"tool": w.id, "slug": w.slug, "name": w.name, "agent": w.agent, "supported": True}
                 for w in WRITERS.values()]
    return supported + [{"tool": slug, "slug": slug, "supported": False, "reason": reason}
                        for slug, reason in UNSUPPORTED.items()]


def _codex() -> Codex:
    writer = WRITERS["codex"]
    assert isinstance(writer, Codex)
    return writer


def _version(path: str) -> str | None:
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT_S,
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None
