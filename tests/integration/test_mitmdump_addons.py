"""OmniRoute's addons on a plain `mitmdump -s addons/omniroute_addons.py`: mitmproxy's own
listen options keep their meaning, and OmniRoute's commands work from another script."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import REPO_ROOT, OmniRouteProcess, free_port, wait_until
from tests.support.inspector_support import anthropic_client, finished_row, rows, with_text
from tests.support.mock_provider import MockProvider

COMMANDS_SCRIPT = Path(__file__).parent / "scripts" / "call_omniroute_commands.py"


class PlainMitmdump(OmniRouteProcess):
    """mitmdump with mitmproxy's own listen options and only two OmniRoute `--set`s."""

    def command(self) -> list[str]:
        return [
            str(REPO_ROOT / ".venv" / "bin" / "mitmdump"), "-q",
            "-s", str(REPO_ROOT / "addons" / "omniroute_addons.py"), "-s", str(COMMANDS_SCRIPT),
            "--listen-host", "127.0.0.1", "--listen-port", str(self.proxy_port),
            "--set", f"omniroute_api_port={self.api_port}", "--set", f"omniroute_home={self.home}",
        ]


def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process ``pid`` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_addr)
            # /proc prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((socket.inet_ntop(family, raw), int(hex_port, 16)))
    return found


@pytest.fixture()
def mitmdump(tmp_path: Path) -> PlainMitmdump:
    process = PlainMitmdump(tmp_path / "home", bridge=False, env={"OMNIROUTE_TEST_HAR": str(tmp_path / "live.har")})
    with process:
        yield process


def test_listens_where_mitmproxy_is_told_and_routes_a_mapped_call(mitmdump: PlainMitmdump, mock: MockProvider) -> None:
    assert mitmdump.process is not None
    assert _listening(mitmdump.process.pid) == {("127.0.0.1", mitmdump.proxy_port), ("127.0.0.1", mitmdump.api_port)}
    with mitmdump.api() as api:
        health = api.get("/health").json()
    assert {(l["name"], l["port"], l["state"]) for l in health["listeners"]} == {
        ("api", mitmdump.api_port, "running"),
        ("http-proxy", mitmdump.proxy_port, "running"),
        ("agent-bridge", 0, "disabled"),
    }

    # The script's `omniroute.map` (run in a worker thread) maps every claude-code model.
    def mapped() -> bool:
        with mitmdump.api() as api:
            return bool(api.get("/api/tools/agent-bridge/agents/claude-code/mappings").json())

    wait_until(mapped, 10, "the mapping written by the omniroute.map command")
    mitmdump.add_provider("anthropic", "mock", mock.url, api_key="sk-ant-provider-key-0001")
    reply = anthropic_client(mitmdump).messages.create(
        model="claude-agent-model", max_tokens=64, messages=[{"role": "user", "content": "routed via mitmdump"}],
    )
    assert reply.model == "claude-mapped"
    assert mock.requests[-1]["body"]["model"] == "claude-mapped"

    row = finished_row(mitmdump, with_text("routed via mitmdump"))
    assert (row["agent"], row["sourceModel"], row["mappedModel"]) == ("claude-code", "claude-agent-model", "mock/claude-mapped")
    # `omniroute.record.start` opened the session that recorded the call; `omniroute.record.stop`,
    # called once the call was answered, closed it.
    def session() -> dict[str, Any]:
        with mitmdump.api() as api:
            return api.get("/api/tools/traffic-inspector/sessions").json()[0]

    wait_until(lambda: not session()["active"], 10, lambda: f"the session stopped: {session()}")
    stopped = session()
    assert (stopped["name"], stopped["request_count"]) == ("from a script", 1) and stopped["ended_at"]
    # `omniroute.har`, called from the script's response hook, wrote the live capture.
    har = Path(mitmdump.extra_env["OMNIROUTE_TEST_HAR"])
    wait_until(har.exists, 10, "the HAR written by the omniroute.har command")
    wait_until(lambda: har.stat().st_size > 0 and har.read_text().rstrip().endswith("}"), 10, "a complete HAR")
    urls = [e["request"]["url"] for e in json.loads(har.read_text())["log"]["entries"]]
    assert any(u.startswith("https://api.anthropic.com/") for u in urls), urls
    assert rows(mitmdump)


def test_an_unusable_omniroute_option_stops_mitmdump_with_its_name(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "mitmdump"), "-q", "-s", str(REPO_ROOT / "addons" / "omniroute_addons.py"),
         "--listen-port", "0", "--set", "omniroute_api_port=70000", "--set", f"omniroute_home={tmp_path}"],
        check=False, capture_output=True, text=True, timeout=60,
    )
    # mitmproxy reports an OptionsError raised while a script loads, then exits.
    assert result.returncode != 0
    assert "OmniRoute setting api_port: Input should be less than or equal to 65535" in result.stdout + result.stderr


def test_the_api_stops_and_starts_mitmproxys_own_listener(mitmdump: PlainMitmdump) -> None:
    """mitmdump's listener is the mode `regular` (port from --listen-port), not `regular@P`."""
    assert mitmdump.process is not None
    pid, proxy = mitmdump.process.pid, ("127.0.0.1", mitmdump.proxy_port)
    with mitmdump.api() as api:
        stopped = api.post("/api/tools/agent-bridge/server", json={"action": "stop", "listener": "http-proxy"})
        assert stopped.status_code == 200, stopped.text
        assert proxy not in _listening(pid)
        started = api.post("/api/tools/agent-bridge/server", json={"action": "start", "listener": "http-proxy"})
        assert started.status_code == 200, started.text
    assert started.json()["listeners"][0]["state"] == "running"
    assert proxy in _listening(pid)


def test_mitmproxys_default_of_every_interface_needs_proxy_auth(tmp_path: Path) -> None:
    """Without --listen-host, mitmproxy listens on every interface: an open proxy to the LAN."""
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "mitmdump"), "-q", "-s", str(REPO_ROOT / "addons" / "omniroute_addons.py"),
         "--listen-port", str(free_port()), "--set", "omniroute_api_port=0", "--set", f"omniroute_home={tmp_path}"],
        check=False, capture_output=True, text=True, timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "--host (every interface) listens beyond loopback: the HTTP proxy listener would be open" in output
