"""Settings writers against real-looking settings files in a temporary home: apply, read back,
reset and restore leave every byte the writer does not own as it was; a file that does not
parse is refused and left untouched."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import tomlkit

from omniroute.clitools.backups import BackupStore
from omniroute.clitools.base import Target, Writer
from omniroute.clitools.formats import SettingsFileError
from omniroute.clitools.tools import WRITERS, UnknownTool, writer_for

TARGET = Target("http://127.0.0.1:20128", "sk-omni-test-key-0001", model="mapped-model")

CLAUDE = """{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "permissions": {
    "allow": [
      "Bash(npm run lint)",
      "Read(~/.zshrc)"
    ],
    "deny": [
      "Read(./.env)"
    ]
  },
  "env": {
    "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
    "ANTHROPIC_MODEL": "claude-opus-4-1"
  },
  "model": "opus",
  "statusLine": {
    "type": "command",
    "command": "~/.claude/statusline.sh — ünïcode",
    "padding": 0
  }
}
"""

CODEX = """# Codex settings, kept by hand
model = "gpt-5-codex"
approval_policy = "on-request"  # ask before running anything

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]

[profiles.fast]
model = "gpt-5-mini"   # quick answers

[projects."/home/me/src"]
trust_level = "trusted"
"""

GEMINI_ENV = "# my Gemini env\nDEBUG=1\nGEMINI_API_KEY=AIza-the-users-own-key\n"
GEMINI_SETTINGS = """{
  "ui": {
    "theme": "GitHub"
  },
  "security": {
    "auth": {
      "selectedType": "oauth-personal"
    }
  }
}
"""

QWEN = """{
  "modelProviders": {
    "openai": [
      {
        "id": "gpt-4o",
        "name": "GPT-4o",
        "envKey": "OPENAI_API_KEY",
        "baseUrl": "https://api.openai.com/v1"
      }
    ]
  },
  "general": {
    "vimMode": true
  }
}
"""

OPENCODE = """{
  "$schema": "https://opencode.ai/config.json",
  "theme": "tokyonight",
  "provider": {
    "anthropic": {
      "options": {
        "timeout": 600000
      }
    }
  },
  "model": "anthropic/claude-sonnet-4-5"
}
"""

DROID = """{
  "customModels": [
    {
      "model": "gpt-4.1",
      "displayName": "My GPT",
      "baseUrl": "https://api.openai.com/v1",
      "apiKey": "${OPENAI_API_KEY}",
      "provider": "openai"
    }
  ],
  "autonomyLevel": "low"
}
"""

# tool id → {path relative to home: original text}
FILES: dict[str, dict[str, str | None]] = {
    "claude-code": {".claude/settings.json": CLAUDE},
    "codex": {".codex/config.toml": CODEX, ".codex/omniroute.config.toml": None},
    "gemini-cli": {".gemini/.env": GEMINI_ENV, ".gemini/settings.json": GEMINI_SETTINGS},
    "qwen-code": {".qwen/settings.json": QWEN},
    "opencode": {".config/opencode/opencode.json": OPENCODE},
    "droid": {".factory/settings.json": DROID},
}


def _write(home: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        if text is None:  # a file the writer creates
            continue
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text(text, encoding="utf-8")


def _snapshot(home: Path, files: dict[str, str | None]) -> dict[str, bytes | None]:
    return {rel: (home / rel).read_bytes() if (home / rel).exists() else None for rel in files}


@pytest.fixture
def backups(tmp_path: Path) -> BackupStore:
    return BackupStore(tmp_path / "omniroute-home" / "backups")


def test_every_tool_has_a_test_file() -> None:
    assert set(FILES) == set(WRITERS)


@pytest.mark.parametrize("tool", sorted(FILES))
def test_apply_read_reset_restore_round_trip(tool: str, tmp_path: Path, backups: BackupStore) -> None:
    home, writer = tmp_path / "home", WRITERS[tool]
    _write(home, FILES[tool])
    original = _snapshot(home, FILES[tool])

    writer.apply(home, TARGET, backups)
    state = writer.read(home)
    assert state["baseUrl"] in (TARGET.base_url, f"{TARGET.base_url}/v1")
    assert state["model"] == "mapped-model"
    assert state["keyPreview"] == "…0001"
    applied = _snapshot(home, FILES[tool])
    assert applied != original

    writer.apply(home, TARGET, backups)  # applying again changes nothing more
    assert _snapshot(home, FILES[tool]) == applied

    writer.reset(home, backups)
    assert _snapshot(home, FILES[tool]) == original
    assert writer.read(home)["baseUrl"] in (None, *[_base_before(tool)])

    # Restoring the backup taken before the first apply gives the original bytes back, too.
    writer.apply(home, TARGET, backups)
    first = [b for b in backups.list(writer.id) if b.reason == "apply"][-1]
    backups.restore(first.id)
    assert _snapshot(home, FILES[tool]) == original
    # ... and the state just before the restore was kept: restoring it re-applies.
    before_restore = backups.list(writer.id)[0]
    assert before_restore.reason == "before-restore"
    backups.restore(before_restore.id)
    assert _snapshot(home, FILES[tool]) == applied


def _base_before(tool: str) -> str | None:
    return None


@pytest.mark.parametrize("tool", sorted(FILES))
def test_apply_to_a_fresh_home_and_reset_leaves_nothing(tool: str, tmp_path: Path, backups: BackupStore) -> None:
    home, writer = tmp_path / "home", WRITERS[tool]
    writer.apply(home, TARGET, backups)
    assert all((home / rel).exists() for rel in FILES[tool])
    for path in writer.files(home):
        assert path.stat().st_mode & 0o077 == 0, "a settings file holding a key is private"
    writer.reset(home, backups)
    assert not any((home / rel).exists() for rel in FILES[tool])


def test_claude_settings_keep_key_order_and_the_users_values(tmp_path: Path, backups: BackupStore) -> None:
    home = tmp_path / "home"
    _write(home, FILES["claude-code"])
    WRITERS["claude-code"].apply(home, TARGET, backups)
    text = (home / ".claude/settings.json").read_text()
    data = json.loads(text)
    assert list(data) == ["$schema", "permissions", "env", "model", "statusLine"]
    assert data["env"] == {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "0", "ANTHROPIC_MODEL": "mapped-model",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:20128", "ANTHROPIC_AUTH_TOKEN": "sk-omni-test-key-0001",
    }
    # Every unrelated key is byte-identical: the applied text minus our keys is the original.
    for key in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        del data["env"][key]
    data["env"]["ANTHROPIC_MODEL"] = "claude-opus-4-1"
    assert json.dumps(data, indent=2, ensure_ascii=False) + "\n" == CLAUDE


def test_codex_keeps_comments_and_tables(tmp_path: Path, backups: BackupStore) -> None:
    home = tmp_path / "home"
    _write(home, FILES["codex"])
    WRITERS["codex"].apply(home, TARGET, backups)
    text = (home / ".codex/config.toml").read_text()
    for line in CODEX.splitlines():
        if not line.startswith("model = "):
            assert line in text, line
    doc = tomlkit.parse(text).unwrap()
    assert (doc["model_provider"], doc["model"]) == ("omniroute", "mapped-model")
    assert "profile" not in doc  # Codex 0.169 refuses the legacy selector
    assert doc["model_providers"]["omniroute"] == {
        "name": "OmniRoute", "base_url": "http://127.0.0.1:20128/v1", "wire_api": "responses",
        "experimental_bearer_token": "sk-omni-test-key-0001",
    }
    profile = tomlkit.parse((home / ".codex/omniroute.config.toml").read_text()).unwrap()
    assert profile == {"model_provider": "omniroute", "model": "mapped-model"}
    assert doc["profiles"]["fast"] == {"model": "gpt-5-mini"}


BROKEN = {
    "claude-code": (".claude/settings.json", '{\n  "env": {\n    "A": "1",\n'),
    "codex": (".codex/config.toml", 'model = "gpt-5"\n[profiles\n'),
    "gemini-cli": (".gemini/settings.json", "{ theme: GitHub }"),
    "qwen-code": (".qwen/settings.json", "[1, 2]"),
    "opencode": (".config/opencode/opencode.json", '{\n  // a JSONC comment\n  "theme": "x"\n}\n'),
    "droid": (".factory/settings.json", '{"customModels": {"not": "a list"}}'),
}


@pytest.mark.parametrize("tool", sorted(BROKEN))
def test_a_file_that_does_not_parse_is_refused_and_left_untouched(tool: str, tmp_path: Path, backups: BackupStore) -> None:
    home, writer = tmp_path / "home", WRITERS[tool]
    rel, text = BROKEN[tool]
    _write(home, {rel: text})
    before = sorted(p.relative_to(home) for p in home.rglob("*"))
    with pytest.raises(SettingsFileError) as raised:
        writer.apply(home, TARGET, backups)
    assert str(home / rel) in str(raised.value) and "left untouched" in str(raised.value)
    assert (home / rel).read_text() == text
    assert sorted(p.relative_to(home) for p in home.rglob("*")) == before
    with contextlib.suppress(SettingsFileError):  # refused, or nothing of ours to take out
        writer.reset(home, backups)
    assert (home / rel).read_text() == text


def test_codex_profiles(tmp_path: Path, backups: BackupStore) -> None:
    home = tmp_path / "home"
    _write(home, FILES["codex"])
    codex = WRITERS["codex"]
    with pytest.raises(ValueError, match="not connected"):
        codex.put_profile(home, "work", "gpt-5", backups, create=True)  # type: ignore[attr-defined]
    codex.apply(home, TARGET, backups)
    codex.put_profile(home, "work", "big-model", backups, create=True)  # type: ignore[attr-defined]
    names = {p["name"]: p for p in codex.profiles(home)}  # type: ignore[attr-defined]
    assert names["work"] == {"name": "work", "model": "big-model", "modelProvider": "omniroute",
                             "omniroute": True, "file": str(home / ".codex/work.config.toml")}
    assert names["omniroute"]["omniroute"] and names["omniroute"]["model"] == "mapped-model"
    assert names["fast"]["legacy"] and not names["fast"]["omniroute"]
    with pytest.raises(ValueError, match="invalid profile name"):
        codex.put_profile(home, "../evil", None, backups, create=True)  # type: ignore[attr-defined]
    codex.delete_profile(home, "work", backups)  # type: ignore[attr-defined]
    assert "work" not in {p["name"] for p in codex.profiles(home)}  # type: ignore[attr-defined]


def test_tools_are_found_by_id_route_name_or_agent() -> None:
    assert writer_for("claude").id == writer_for("claude-code").id == "claude-code"
    assert writer_for("open-code").id == "opencode"
    with pytest.raises(UnknownTool, match="VS Code"):
        writer_for("cline")
    with pytest.raises(UnknownTool, match="unknown tool"):
        writer_for("nope")


def test_writer_type() -> None:
    assert all(isinstance(w, Writer) for w in WRITERS.values())


def test_the_users_edits_after_apply_survive_reset(tmp_path: Path, backups: BackupStore) -> None:
    home, writer = tmp_path / "home", WRITERS["claude-code"]
    _write(home, FILES["claude-code"])
    writer.apply(home, TARGET, backups)
    path = home / ".claude/settings.json"
    data = json.loads(path.read_text())
    data["env"]["MY_OWN"] = "kept"
    data["theme"] = "dark"
    path.write_text(json.dumps(data, indent=2) + "\n")
    writer.reset(home, backups)
    after = json.loads(path.read_text())
    assert after["theme"] == "dark" and after["env"]["MY_OWN"] == "kept"
    assert after["env"]["ANTHROPIC_MODEL"] == "claude-opus-4-1"  # the user's value before apply
    assert "ANTHROPIC_BASE_URL" not in after["env"] and "ANTHROPIC_AUTH_TOKEN" not in after["env"]


@pytest.mark.parametrize("indent", ["    ", "\t"])
def test_json_keeps_the_files_indent(indent: str, tmp_path: Path, backups: BackupStore) -> None:
    home = tmp_path / "home"
    original = json.dumps({"model": "opus", "env": {"A": "1"}}, indent=indent) + "\n"
    _write(home, {".claude/settings.json": original})
    WRITERS["claude-code"].apply(home, TARGET, backups)
    assert f'\n{indent}"model": "opus",\n' in (home / ".claude/settings.json").read_text()
    WRITERS["claude-code"].reset(home, backups)
    assert (home / ".claude/settings.json").read_text() == original


def test_dotenv_edits_touch_only_their_lines() -> None:
    from omniroute.clitools.formats import edit_env, parse_env

    text = "# comment\nexport A=1\nB='two words'\nC=3"
    assert parse_env(text) == {"A": "1", "B": "two words", "C": "3"}
    edited = edit_env(text, {"A": None, "C": "x y", "D": "http://127.0.0.1:1"})
    assert edited == '# comment\nB=\'two words\'\nC="x y"\nD=http://127.0.0.1:1\n'


@pytest.mark.parametrize("tool", sorted(FILES))
def test_reset_when_not_connected_leaves_the_users_own_values(tool: str, tmp_path: Path, backups: BackupStore) -> None:
    home, writer = tmp_path / "home", WRITERS[tool]
    _write(home, FILES[tool])
    writer.apply(home, TARGET, backups)
    writer.reset(home, backups)
    # The user now points the agent somewhere of their own (the same keys, edited by hand: a
    # store of backups OmniRoute never sees); a second reset must not touch it.
    own = Target("https://gateway.example", "sk-users-own-9999", model="own-model")
    writer.apply(home, own, BackupStore(tmp_path / "elsewhere"))
    theirs = _snapshot(home, FILES[tool])
    writer.reset(home, backups)
    assert _snapshot(home, FILES[tool]) == theirs
