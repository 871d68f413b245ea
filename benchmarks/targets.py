"""What the benchmark measures, each in its own process: mock provider, TLS upstream with its
DNS, bare mitmdump, LiteLLM's proxy and Portkey's gateway (OmniRoute itself:
`tests.support.harness`; an earlier commit of it: `baseline_tree`).

``python -m benchmarks.targets upstream --dir D --delay-ms N`` is the stand-in "real"
upstream (a TLS mock on 127.0.0.N:443 plus a UDP DNS server answering that address); it writes
``D/upstream.json`` when ready.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.harness import OmniRouteProcess, free_port

VENV_BIN = Path(sys.executable).parent
LITELLM_VENV = Path("/tmp/omniroute-bench-litellm")
PORTKEY_DIR = Path("/tmp/omniroute-bench-portkey")
PORTKEY_VERSION = "1.15.2"
UPSTREAM_NAMES = ("api.openai.com", "api.anthropic.com", "chatgpt.com")
TICKS = os.sysconf("SC_CLK_TCK")
# LiteLLM refuses to start without a master key (and so does a real deployment).
LITELLM_KEY = "sk-bench-litellm-master-0123456789abcdef"


# -- /proc figures -----------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    """pid and its descendants (LiteLLM and uvicorn may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, in seconds."""
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / TICKS


def rss_mb(pid: int) -> float:
    total_kb = 0
    for p in _tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


# -- process helper ----------------------------------------------------------------------
class Proc:
    """A child process with a log file, readiness polling and a bounded stop."""

    def __init__(self, name: str, cmd: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.cmd = name, cmd
        self.log_path = log_dir / f"{name}.log"
        full_env = {**os.environ, **(env or {})}
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
            full_env.pop(key, None)  # every target talks loopback only
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                            start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> float:
        """Seconds until `ready()`; raises with the log tail if the child dies or times out."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.log()[-3000:]}")
            try:
                if ready():
                    return time.monotonic() - start
            except (OSError, httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {timeout:.0f}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # Own session: SIGTERM reaches workers it forked, never anything else.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def stop_all(procs: list[Any], log: Callable[[str], None]) -> None:
    """Stop every target, last started first; one that fails to stop does not keep the rest up."""
    for proc in reversed(procs):
        try:
            proc.close() if isinstance(proc, OmniRouteProcess) else proc.stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            log(f"stopping {proc}: {exc}")
    procs.clear()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200


# -- targets -----------------------------------------------------------------------------
def start_mock(log_dir: Path, delay_ms: float, event_delay_ms: float) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc("mock", [sys.executable, "-m", "tests.support.mock_provider", "--port", str(port),
                         "--delay-ms", str(delay_ms), "--event-delay-ms", str(event_delay_ms)], log_dir)
    url = f"http://127.0.0.1:{port}"
    proc.wait_until(lambda: http_ok(f"{url}/_mock/health"), 30)
    return proc, url


def start_upstream(log_dir: Path, work: Path, delay_ms: float) -> tuple[Proc, dict[str, Any]]:
    work.mkdir(parents=True, exist_ok=True)
    info = work / "upstream.json"
    proc = Proc("upstream", [sys.executable, "-m", "benchmarks.targets", "upstream",
                             "--dir", str(work), "--delay-ms", str(delay_ms)], log_dir)
    proc.wait_until(info.exists, 30)
    return proc, json.loads(info.read_text())


def start_mitmdump(log_dir: Path, work: Path, upstream_ca: str) -> tuple[Proc, int, Path]:
    """mitmdump with no addons: the floor any mitmproxy-based interception can reach."""
    port, confdir = free_port(), work / "mitmdump-conf"
    confdir.mkdir(parents=True, exist_ok=True)
    proc = Proc("mitmdump", [str(VENV_BIN / "mitmdump"), "-q", "--mode", f"regular@{port}",
                             "--set", "connection_strategy=lazy", "--set", f"confdir={confdir}",
                             "--set", f"ssl_verify_upstream_trusted_ca={upstream_ca}"], log_dir)
    ca = confdir / "mitmproxy-ca-cert.pem"
    proc.wait_until(lambda: port_open(port) and ca.exists(), 30)
    return proc, port, ca


def ensure_litellm(log: Callable[[str], None]) -> Path:
    """LiteLLM's proxy in its own throwaway venv (never in ours); reused when present."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    log(f"installing litellm[proxy] into {LITELLM_VENV} (one-off)")
    subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
    subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    return exe


def start_litellm(log_dir: Path, work: Path, mock_url: str, log: Callable[[str], None]) -> tuple[Proc, str]:
    exe = ensure_litellm(log)
    port = free_port()
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {mock_url}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {LITELLM_KEY}\n"
    )
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False",
           "DISABLE_SCHEMA_UPDATE": "True", "NO_DOCS": "True"}
    proc = Proc("litellm", [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                            "--num_workers", "1"], log_dir, env)
    url = f"http://127.0.0.1:{port}"
    proc.wait_until(lambda: http_ok(f"{url}/health/liveliness"), 180)
    return proc, url


def ensure_portkey(log: Callable[[str], None]) -> Path:
    """Portkey's AI gateway from npm in its own throwaway directory (never in the project); reused."""
    entry = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if entry.exists():
        return entry
    log(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {PORTKEY_DIR} (one-off)")
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    (PORTKEY_DIR / "package.json").write_text(
        json.dumps({"private": True, "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION}}))
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PORTKEY_DIR)], check=True,
                   capture_output=True)
    return entry


def portkey_headers(mock_url: str) -> dict[str, str]:
    """Portkey's gateway is configured per request: the provider type and the upstream's base URL."""
    return {"x-portkey-provider": "openai", "x-portkey-custom-host": f"{mock_url}/v1",
            "authorization": "Bearer sk-bench"}


def start_portkey(log_dir: Path, mock_url: str, log: Callable[[str], None]) -> tuple[Proc, str]:
    entry = ensure_portkey(log)
    port = free_port()
    proc = Proc("portkey", ["node", str(entry), f"--port={port}", "--headless"], log_dir)
    url = f"http://127.0.0.1:{port}"
    proc.wait_until(lambda: http_ok(f"{url}/"), 60)
    return proc, url


def baseline_tree(ref: str, work: Path) -> Path:
    """The project's source at ``ref`` (e.g. ``main``), unpacked for a side-by-side "before"
    instance: on PYTHONPATH it shadows the editable install, with the same venv and data."""
    root = Path(__file__).resolve().parents[1]
    out = work / "baseline-src"
    out.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(root), "archive", ref, "omniroute", "addons"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    compile_tree(out)
    return out


def compile_tree(root: Path) -> None:
    """Byte code for the project's source under ``root``, as ``scripts/setup`` writes it: with
    PYTHONDONTWRITEBYTECODE set, a tree without it is compiled again by every start."""
    for package in ("omniroute", "addons"):
        compileall.compile_dir(root / package, quiet=1)


# -- the stand-in upstream (runs in its own process) -------------------------------------
def _serve_upstream(work: Path, delay_ms: float) -> None:
    from tests.support.fake_upstream import FakeDNS, NoLoopbackAlias, TLSUpstream

    try:  # high addresses: parallel test runs take 127.0.0.2 upwards for their own stand-ins
        upstream = TLSUpstream(UPSTREAM_NAMES, first_address=200, delay_ms=delay_ms)
    except NoLoopbackAlias as exc:
        raise SystemExit(f"the TLS upstream needs 127.0.0.N:443: {exc}") from None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # TTL 300: a real resolver's answer is cached too; FakeDNS answers every name with the address.
    with upstream, FakeDNS(upstream.host, ttl=300) as dns:
        (work / "upstream.json").write_text(json.dumps(
            {"ip": upstream.host, "port": 443, "ca_file": str(upstream.ca_file), "dns_port": dns.port}))
        done.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.targets")
    parser.add_argument("what", choices=["upstream"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    _serve_upstream(args.dir, args.delay_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
