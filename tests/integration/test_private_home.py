"""Prompts and keys at rest are readable by their owner only (issue #15, item 7): the home
0700, the database (and its WAL/SHM), the secret key, the CA's private key and the inspector
token 0600 — for a new home, and for a home an older version left world-readable, fixed at the
next start. A real `omniroute run` that serves a call, so the WAL and SHM exist.
"""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.harness import OmniRouteProcess, wait_until
from tests.support.mock_provider import MockProvider

PRIVATE = ("omniroute.db", "omniroute.db-wal", "omniroute.db-shm", "secret.key", "certs/mitmproxy-ca.pem")
MSG = [{"role": "user", "content": "a private prompt"}]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def serve_a_call(home: Path, mock: MockProvider) -> None:
    with OmniRouteProcess(home, bridge=False) as proc, proc.api() as api:
        if not api.get("/api/providers").json()["connections"]:
            proc.add_provider("openai", "mk", f"{mock.url}/v1", api_key="sk-mk-private-0001")
        assert api.post("/v1/chat/completions", json={"model": "mk/m", "messages": MSG}).status_code == 200
        wait_until(lambda: (home / "omniroute.db-wal").exists() and (home / "omniroute.db-shm").exists(),
                   10.0, "the WAL and SHM files")
        assert_private(home, running=True)


def assert_private(home: Path, running: bool = False) -> None:
    assert mode(home) == 0o700, oct(mode(home))
    for directory in ("certs", "logs"):
        assert mode(home / directory) == 0o700, directory
    for name in PRIVATE:
        if not running and name.endswith(("-wal", "-shm")):  # removed by the last connection
            continue
        assert (home / name).exists(), name
        assert mode(home / name) == 0o600, f"{name}: {oct(mode(home / name))}"
    for path in (home / "certs").iterdir():
        if "-cert" not in path.name:  # certificates alone are public; anything with a key is not
            assert mode(path) == 0o600, path.name


def test_a_new_home_is_private_from_the_start(tmp_path: Path, mock: MockProvider) -> None:
    home = tmp_path / "home"
    serve_a_call(home, mock)
    assert_private(home)


def test_a_world_readable_home_is_locked_down_at_the_next_start(tmp_path: Path, mock: MockProvider) -> None:
    home = tmp_path / "home"
    serve_a_call(home, mock)
    home.chmod(0o755)
    for path in [home / "certs", home / "logs"]:
        path.chmod(0o755)
    for path in home.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    serve_a_call(home, mock)
    assert_private(home)
