"""Run a real OmniRoute process for tests and benchmarks: `omniroute run` on free ports."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class OmniRouteProcess:
    """`omniroute run` (or `mitmdump -s addons/omniroute_addons.py`) in a subprocess."""

    def __init__(
        self,
        home: Path | None = None,
        *,
        demo: bool = False,
        proxy: bool = True,
        bridge: bool = True,
        env: dict[str, str] | None = None,
        via_mitmdump: bool = False,
        config: Path | None = None,
        args: list[str] | None = None,
    ) -> None:
        """``args``: more `omniroute run` flags (``--host 0.0.0.0``, ``--proxy-auth U:P``)."""
        self._tmp = None if home else tempfile.TemporaryDirectory(prefix="omniroute-home-")
        self.home = home or Path(self._tmp.name)  # type: ignore[union-attr]
        self.api_port = free_port()
        self.proxy_port = free_port() if proxy else 0
        self.bridge_port = free_port() if bridge else 0
        self.demo = demo
        self.via_mitmdump = via_mitmdump
        self.config = config  # the declarative config file (`--config`)
        self.extra_env = env or {}
        self.cwd: Path | None = None  # the child's working directory (default: ours)
        self.extra_args = list(args or [])
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.home / "process.log"

    # -- addresses --------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def ca_cert(self) -> Path:
        return self.home / "certs" / "mitmproxy-ca-cert.pem"

    def command(self) -> list[str]:
        bin_dir = Path(sys.executable).parent
        if self.via_mitmdump:
            # mitmproxy's own options set the HTTP_PROXY listener, as for any mitmdump.
            cmd = [
                str(bin_dir / "mitmdump"), "-q", "-s", str(REPO_ROOT / "addons" / "omniroute_addons.py"),
                "--listen-host", "127.0.0.1", "--listen-port", str(self.proxy_port),
                "--set", f"omniroute_home={self.home}",
                "--set", f"omniroute_api_port={self.api_port}",
                "--set", f"omniroute_bridge_port={self.bridge_port}",
            ]
            if self.config is not None:
                cmd += ["--set", f"omniroute_config={self.config}"]
            return cmd + (["--set", "omniroute_demo=true"] if self.demo else [])
        cmd = [
            str(bin_dir / "omniroute"), "run", "--home", str(self.home),
            "--api-port", str(self.api_port), "--proxy-port", str(self.proxy_port),
            "--bridge-port", str(self.bridge_port),
        ]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        return cmd + (["--demo"] if self.demo else []) + self.extra_args

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> Self:
        env = {**os.environ, "OMNIROUTE_HOSTS_FILE": str(self.home / "hosts"), **self.extra_env}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
            env.pop(name, None)
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.cwd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"omniroute exited with {self.process.returncode}:\n{self.log()}")
            try:
                health = httpx.get(f"{self.api_url}/health", timeout=1.0).json()
                states = {listener["name"]: listener["state"] for listener in health["listeners"]}
                if all(state in ("running", "disabled") for state in states.values()):
                    return self
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"omniroute did not become ready in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API helpers ------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """Trusts OmniRoute's CA, as an agent configured with NODE_EXTRA_CA_CERTS would."""
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30.0, trust_env=False)

    def add_provider(self, provider: str, name: str, url: str, api_key: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"provider": provider, "name": name, "url": url}
        if api_key:
            body["apiKey"] = api_key
        with self.api() as client:
            response = client.post("/api/providers", json=body)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def map_models(self, agent: str, mappings: dict[str, str]) -> None:
        rows = [{"source": s, "target": t} for s, t in mappings.items()]
        with self.api() as client:
            response = client.put(f"/api/tools/agent-bridge/agents/{agent}/mappings", json={"mappings": rows})
        response.raise_for_status()


def wait_until(check: Callable[[], bool], timeout: float, what: str | Callable[[], str]) -> None:
    """Poll ``check`` until true; fail naming ``what`` (a callable to describe the last state)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            detail = what() if callable(what) else f"waiting for {what}"
            raise AssertionError(f"timed out after {timeout}s: {detail}")
        time.sleep(0.05)
