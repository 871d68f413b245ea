"""The home directory holds prompts (the database), provider keys (`secret.key`) and the CA's
private key: only its owner may read any of it.

Run at every start, so a home created by an older version (0755 directory, 0644 database)
is locked down too. Directories 0700, private files 0600. The SQLite database file is created
here at 0600 before SQLite opens it: SQLite gives its WAL and SHM files the database file's
mode, so they are private from their first byte.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omniroute.config import Settings

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_PUBLIC_CERT_MARK = "-cert"  # mitmproxy-ca-cert.pem/.cer/.p12 hold no key: others may trust them


def lock_down(settings: Settings) -> None:
    for directory in (settings.home, settings.certs_dir, settings.logs_dir):
        _chmod(directory, DIR_MODE)
    database = sqlite_path(settings.effective_database_url)
    if database is not None:
        _create_private(database)
    for path in private_files(settings, database):
        _chmod(path, FILE_MODE)


def private_files(settings: Settings, database: Path | None) -> list[Path]:
    paths = [settings.secret_key_path, settings.home / "inspector-ingest.token"]
    if database is not None:
        paths += [database] + [database.with_name(database.name + end) for end in _SQLITE_SIDE_FILES]
    for directory, keep in ((settings.certs_dir, _is_private_cert), (settings.logs_dir, None)):
        with contextlib.suppress(OSError):
            paths += [p for p in directory.iterdir() if p.is_file() and (keep is None or keep(p))]
    return paths


def sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url  # the database's library: for the commands that use it

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _is_private_cert(path: Path) -> bool:
    return _PUBLIC_CERT_MARK not in path.name


def _create_private(path: Path) -> None:
    with contextlib.suppress(FileExistsError, FileNotFoundError):  # no folder: SQLite says so
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if (path.stat().st_mode & 0o777) != mode:
            path.chmod(mode)
