"""Start-up problems the user can fix: one line naming the file or port and the command that
fixes it, never a traceback; and after the fix, a clean start.

Complements ``test_faults_runtime.py`` (API port taken, CA key corrupt) with the proxy and
bridge ports, the CA key missing or empty, and a corrupt CA certificate file; and a hosts file
that cannot be written, met by the running process (it keeps serving).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.harness import OmniRouteProcess

OMNIROUTE = str(Path(sys.executable).parent / "omniroute")


def last_line_of_a_failed_start(proc: OmniRouteProcess) -> str:
    with pytest.raises(RuntimeError, match="exited with"):
        proc.start(timeout=60)
    output = proc.log().strip()
    assert "Traceback" not in output, output[-2000:]
    return output.splitlines()[-1]


@pytest.mark.parametrize(("listener", "flag"), [("proxy_port", "--proxy-port"), ("bridge_port", "--bridge-port")])
def test_a_taken_proxy_or_bridge_port_is_a_one_line_error(tmp_path: Path, listener: str, flag: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = OmniRouteProcess(tmp_path / "home")
        setattr(proc, listener, port)
        line = last_line_of_a_failed_start(proc)
    assert f"port {port}" in line and "already in use" in line and f"{flag} PORT" in line and f"{flag} 0" in line
    OmniRouteProcess(tmp_path / "home").start(timeout=60).stop()  # another port: a clean start


def _break_key_missing(certs: Path) -> Path:
    (certs / "mitmproxy-ca.pem").unlink()
    return certs / "mitmproxy-ca.pem"


def _break_key_empty(certs: Path) -> Path:
    (certs / "mitmproxy-ca.pem").write_bytes(b"")
    return certs / "mitmproxy-ca.pem"


def _break_certificate(certs: Path) -> Path:
    (certs / "mitmproxy-ca-cert.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    return certs / "mitmproxy-ca-cert.pem"


@pytest.mark.parametrize(("breaks", "says"), [
    (_break_key_missing, "is missing"), (_break_key_empty, "is corrupt"), (_break_certificate, "is corrupt"),
])
def test_broken_ca_files_are_named_and_fixed_by_cert_regenerate(tmp_path: Path, breaks: Callable[[Path], Path], says: str) -> None:
    home = tmp_path / "home"
    OmniRouteProcess(home, proxy=False, bridge=False).start(timeout=60).stop()
    trusted = (home / "certs" / "mitmproxy-ca-cert.pem").read_bytes()
    broken = breaks(home / "certs")
    line = last_line_of_a_failed_start(OmniRouteProcess(home, proxy=False, bridge=False))
    assert str(broken) in line and says in line and "omniroute cert regenerate" in line
    # Nothing was replaced behind the user's back: a silent new CA would break trusted clients.
    if broken.name != "mitmproxy-ca-cert.pem":
        assert (home / "certs" / "mitmproxy-ca-cert.pem").read_bytes() == trusted
    fixed = subprocess.run([OMNIROUTE, "cert", "regenerate", "--home", str(home)], capture_output=True,
                           text=True, timeout=60, check=False)
    assert fixed.returncode == 0 and "trust it again" in fixed.stdout, fixed.stderr
    OmniRouteProcess(home).start(timeout=60).stop()  # a clean start, proxy listeners included
    assert (home / "certs" / "mitmproxy-ca-cert.pem").read_bytes() != trusted


def test_an_unwritable_hosts_file_is_met_with_the_sudo_command_and_serving_goes_on(tmp_path: Path) -> None:
    # /sys refuses new files even to root: the hosts file cannot be written.
    hosts = "/sys/omniroute-hosts"
    proc = OmniRouteProcess(tmp_path / "home", proxy=False, env={"OMNIROUTE_HOSTS_FILE": hosts})
    with proc, proc.api() as api:
        refused = api.post("/api/tools/agent-bridge/agents/codex/dns", json={"enabled": True})
        assert refused.status_code == 403
        message = refused.json()["error"]["message"]
        assert f"cannot write {hosts}" in message
        assert f"sudo env OMNIROUTE_HOSTS_FILE={hosts}" in message and message.endswith("dns codex on")
        assert api.get("/health").json()["status"] == "ok"
        agents = {a["agent_id"]: a for a in api.get("/api/tools/agent-bridge/agents").json()}
        assert agents["codex"]["dns_enabled"] is False and agents["codex"]["last_error"] == message
