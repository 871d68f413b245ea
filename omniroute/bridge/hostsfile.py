"""Hosts-file manager: one marked block of loopback entries, tagged per agent.

::

    # >>> omniroute >>>
    127.0.0.1 api.anthropic.com # omniroute:claude-code
    ::1 api.anthropic.com # omniroute:claude-code
    # <<< omniroute <<<

Everything outside the block is preserved byte for byte. Every change happens under an
exclusive ``flock`` on ``<path>.omniroute.lock`` (threads and processes alike: each call opens
its own descriptor, and flock conflicts between descriptors even within one process), reads
the current file, and replaces it atomically (temp file in the same directory, fsync, rename,
fsync of the directory), so a crash at any instant leaves either the old or the new file.
The first change also saves the untouched original as ``<path>.omniroute.bak``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from omniroute.files import atomic_write

from .catalog import normalize_host_pattern

try:  # POSIX; Windows falls back to msvcrt below
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

BEGIN = "# >>> omniroute >>>"
END = "# <<< omniroute <<<"
TAG = "# omniroute:"
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")
DEFAULT_HOSTS_FILE = "/etc/hosts"
_NOT_PERMITTED = {errno.EACCES, errno.EPERM, errno.EROFS}

Entries = dict[str, list[str]]


class HostsFileError(Exception):
    """The hosts file cannot be used as it is; the message says what to do."""


class HostsFileNotWritable(HostsFileError):
    """Writing needs privileges; ``command`` is the exact command to run instead."""

    def __init__(self, path: Path, command: str, reason: str) -> None:
        self.path, self.command = path, command
        super().__init__(f"cannot write {path} ({reason}); run: {command}")


def parse(text: str, path: Path | str = "hosts file") -> tuple[str, Entries, str]:
    """Split into (text before the block, entries per agent, text after the block)."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not starts and not ends:
        return text, {}, ""
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise HostsFileError(
            f"{path} has an unbalanced or repeated '{BEGIN}' / '{END}' block; remove those "
            f"lines and everything between them by hand (a copy of the original is in "
            f"{path}.omniroute.bak if OmniRoute made one)"
        )
    start, end = starts[0], ends[0]
    entries: Entries = {}
    for line in lines[start + 1 : end]:
        body, sep, agent = line.partition(TAG)
        fields = body.split()
        if not sep or len(fields) != 2 or fields[0] not in LOOPBACK_ADDRESSES:
            continue  # not ours: the block is managed, stray lines are dropped
        hosts = entries.setdefault(agent.strip(), [])
        if fields[1] not in hosts:
            hosts.append(fields[1])
    return "".join(lines[:start]), entries, "".join(lines[end + 1 :])


def render(before: str, entries: Entries, after: str) -> str:
    live = {agent: hosts for agent, hosts in entries.items() if hosts}
    if not live:
        return before + after
    if before and not before.endswith("\n"):
        before += "\n"
    block = [BEGIN + "\n"]
    for agent in sorted(live):
        for host in sorted(live[agent]):
            block.extend(f"{ip} {host} {TAG}{agent}\n" for ip in LOOPBACK_ADDRESSES)
    block.append(END + "\n")
    return before + "".join(block) + after


class HostsFile:
    """Idempotent per-agent enable/disable of loopback entries in one hosts file."""

    def __init__(self, path: str | Path, *, command: str = "omniroute") -> None:
        self.path = Path(path)
        self.command = command  # how the sudo hint names our CLI (absolute path if needed)
        self.lock_path = self.path.with_name(self.path.name + ".omniroute.lock")
        self.backup_path = self.path.with_name(self.path.name + ".omniroute.bak")

    # -- reading ---------------------------------------------------------------------
    def read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            return ""

    def entries(self) -> Entries:
        """Hosts per agent currently in the block, sorted."""
        return {a: sorted(h) for a, h in parse(self.read(), self.path)[1].items()}

    def is_enabled(self, agent_id: str) -> bool:
        return bool(self.entries().get(agent_id))

    # -- changing --------------------------------------------------------------------
    def enable(self, agent_id: str, hosts: Iterable[str]) -> bool:
        """Point ``hosts`` at loopback for ``agent_id`` (replacing its previous list).

        Returns False when the file already said exactly that (nothing written).
        """
        wanted = sorted({_exact_host(h) for h in hosts})
        if not wanted:
            raise ValueError(f"agent {agent_id!r} has no hosts to map")
        _check_agent_id(agent_id)

        def change(entries: Entries) -> None:
            entries[agent_id] = wanted

        return self._mutate(change, self.sudo_command(f"dns {agent_id} on"))

    def disable(self, agent_id: str) -> bool:
        _check_agent_id(agent_id)
        return self._mutate(
            lambda entries: entries.pop(agent_id, None), self.sudo_command(f"dns {agent_id} off")
        )

    def remove_all(self) -> bool:
        return self._mutate(lambda entries: entries.clear(), self.sudo_command("dns --all off"))

    def sudo_command(self, args: str) -> str:
        """The command a user runs to make the same change with privileges."""
        env = ""
        if str(self.path) != DEFAULT_HOSTS_FILE:
            # `sudo VAR=x cmd` is refused under env_reset; `sudo env VAR=x cmd` always works.
            env = f"env OMNIROUTE_HOSTS_FILE={shlex.quote(str(self.path))} "
        return f"sudo {env}{self.command} {args}"

    def _mutate(self, change: Callable[[Entries], object], command: str) -> bool:
        try:
            with self._locked():
                text = self.read()
                before, entries, after = parse(text, self.path)
                change(entries)
                new_text = render(before, entries, after)
                if new_text == text:
                    return False
                original = self._stat()
                self._remove_stale_temps()
                if not self.backup_path.exists():
                    _replace(self.backup_path, text, original)
                _replace(self.path, new_text, original)
                return True
        except OSError as exc:
            if exc.errno in _NOT_PERMITTED:
                raise HostsFileNotWritable(self.path, command, exc.strerror or str(exc)) from exc
            raise

    def _stat(self) -> os.stat_result | None:
        try:
            return self.path.stat()
        except FileNotFoundError:
            return None

    def _remove_stale_temps(self) -> None:
        # Under the lock no writer is active, so any temp file left is from a crashed one.
        for stale in self.path.parent.glob(f".{self.path.name}.omniroute-*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock


def _check_agent_id(agent_id: str) -> None:
    if not agent_id or any(c.isspace() or c == "#" for c in agent_id):
        raise ValueError(f"invalid agent id {agent_id!r}")


def _exact_host(host: str) -> str:
    norm = normalize_host_pattern(host)
    if norm.startswith("*."):
        raise ValueError(f"a hosts file cannot map wildcard {host!r}; list exact hosts")
    return norm


def _replace(path: Path, text: str, original: os.stat_result | None) -> None:
    """Write the hosts file atomically, keeping its mode and (as root) its owner."""
    mode = stat.S_IMODE(original.st_mode) if original else 0o644
    owner = (original.st_uid, original.st_gid) if original else None
    atomic_write(path, text.encode("utf-8", "surrogateescape"), mode, owner)


# -- DNS cache flush -------------------------------------------------------------------
def flush_dns_commands(platform: str | None = None) -> list[list[str]]:
    """Commands that flush the OS resolver cache after a hosts-file change.

    On Linux the two commands are alternatives (systemd-resolve is the older name).
    """
    platform = platform or sys.platform
    if platform == "darwin" or platform == "macos":
        return [["dscacheutil", "-flushcache"], ["killall", "-HUP", "mDNSResponder"]]
    if platform in ("win32", "windows", "cygwin"):
        return [["ipconfig", "/flushdns"]]
    if platform.startswith("linux"):
        return [["resolvectl", "flush-caches"], ["systemd-resolve", "--flush-caches"]]
    return []


def flush_dns(platform: str | None = None, timeout: float = 10.0) -> list[tuple[list[str], str]]:
    """Run the flush commands best-effort; never raises. Returns (command, outcome) pairs."""
    platform = platform or sys.platform
    results: list[tuple[list[str], str]] = []
    for cmd in flush_dns_commands(platform):
        if shutil.which(cmd[0]) is None:
            results.append((cmd, "not installed"))
            continue
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            results.append((cmd, f"failed: {exc}"))
            continue
        failure = proc.stderr.strip() or proc.returncode
        outcome = "ok" if proc.returncode == 0 else f"failed: {failure}"
        results.append((cmd, outcome))
        if outcome == "ok" and platform.startswith("linux"):
            break  # alternatives: the first that works is enough
    return results
