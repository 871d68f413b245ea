"""Throwaway PostgreSQL and Redis servers on 127.0.0.1 for tests and benchmarks.

Both use the Debian packages (`postgresql`, `redis-server`); `scripts/system-deps` (run by
`./scripts/test`) installs them when missing. Each server lives in its own temp directory and
is stopped (and the directory removed) by `stop()` / the context manager, so a test run leaves
nothing behind.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from tests.support.harness import free_port


class ServerUnavailable(RuntimeError):
    """The server binaries are not installed; the message says which package to install."""


def _postgres_bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if not found:
        raise ServerUnavailable(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin; "
            "install them with: apt-get install -y postgresql"
        )
    return Path(found[-1]).parent


def _version_key(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


class PostgresServer:
    """`initdb` + `pg_ctl start` on a free port, trust auth, loopback only.

    initdb refuses to run as root, so as root the cluster runs as the `postgres` user
    (created by the Debian package) in a temp directory chowned to it."""

    def __init__(self, database: str = "omniroute_test") -> None:
        self.bin_dir = _postgres_bin_dir()
        self.port = free_port()
        self.database = database
        self._tmp = Path(tempfile.mkdtemp(prefix="omniroute-pg-"))
        self.data_dir = self._tmp / "data"
        self.log_path = self._tmp / "postgres.log"
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed ({done.returncode}): {done.stderr}")
        return done

    def start(self) -> Self:
        if os.geteuid() == 0:
            shutil.chown(self._tmp, "postgres", "postgres")
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-A", "trust",
            "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions",
        )
        self.resume()
        self._run(
            str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "postgres", self.database,
        )
        return self

    def resume(self) -> None:
        """Start the server on its cluster (after ``start()`` created it, or after ``pause()``)."""
        # Socket in our own dir: /var/run/postgresql may not exist outside a service setup.
        options = (
            f"-p {self.port} -k {self._tmp} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", options,
            "-l", str(self.log_path), "-w", "-t", "60", "start",
        )
        self._started = True

    def pause(self) -> None:
        """Stop the server, keeping its data, port and databases (an outage, for tests)."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
        self._started = False

    def stop(self) -> None:
        """Stop the server and remove its cluster."""
        if self._started:
            self._started = False
            try:
                self._run(
                    str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                    "-w", "stop",
                )
            except RuntimeError:
                pass  # already gone; the directory is removed below either way
        shutil.rmtree(self._tmp, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """`redis-server --port <free> --save '' --appendonly no` on 127.0.0.1.

    ``stop()`` then ``start()`` again keeps the same port, which is how tests simulate an
    outage and a recovery."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable(
                "redis-server not found; install it with: apt-get install -y redis-server"
            )
        self.binary = binary
        self.port = port or free_port()
        self._tmp = Path(tempfile.mkdtemp(prefix="omniroute-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> Self:
        if self.process is not None:
            return self
        cmd = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self._tmp), "--protected-mode", "yes",
        ]
        log = (self._tmp / "redis.log").open("ab")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start in {timeout}s: {self.log()}")

    def stop(self) -> None:
        """Stop the server process (kept restartable on the same port)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def log(self) -> str:
        path = self._tmp / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
