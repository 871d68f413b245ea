"""AgentBridge CLI commands as a user runs them: agents, env, map, dns, cert, doctor."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

from omniroute.bridge.mapping_store import MappingStore
from omniroute.db.database import Database
from tests.support.fake_upstream import FakeDNS
from tests.support.harness import OmniRouteProcess, free_port

CLI = str(Path(sys.executable).parent / "omniroute")


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "OMNIROUTE_HOME": str(home), "OMNIROUTE_HOSTS_FILE": str(home / "hosts"),
            "OMNIROUTE_API_PORT": str(free_port()), **env}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, env=full, check=False)


def test_agents_table_without_a_server(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'omniroute.db'}")
    db.migrate()
    MappingStore(db).upsert("codex", "gpt-5*", "demo/fast")
    db.dispose()
    result = run(tmp_path, "agents")
    assert result.returncode == 0, result.stderr
    assert "no OmniRoute server is running" in result.stderr and "read from the database" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["agent", "routable", "dns", "cert", "trusted", "mappings", "last", "seen"]
    table = {line.split()[0]: line.split() for line in lines[1:13]}
    assert set(table) == {"claude-code", "codex", "copilot", "antigravity", "kiro", "zed", "open-code", "cursor", "trae",
                          "gemini-cli", "qwen-code", "droid"}
    assert table["codex"][1:3] == ["yes", "off"] and table["codex"][4] == "1" and table["codex"][5] == "never"
    assert table["cursor"][1] == "no"
    assert any(l.startswith("cursor: not routable: Cursor speaks Connect/gRPC") for l in lines)
    assert any(l.startswith("trae: not routable:") for l in lines)
    assert any(l.startswith("gemini-cli: Google-login mode (Code Assist") for l in lines)


def test_env_prints_the_exports_each_agent_needs(tmp_path: Path) -> None:
    claude = run(tmp_path, "env", "claude-code", "--proxy-port", "18080")
    codex = run(tmp_path, "env", "codex")
    cursor = run(tmp_path, "env", "cursor")
    unknown = run(tmp_path, "env", "nope")
    certs = tmp_path / "certs"
    assert claude.stdout.splitlines() == [
        "export HTTPS_PROXY=http://127.0.0.1:18080",
        "export NO_PROXY=127.0.0.1,localhost",
        f"export NODE_EXTRA_CA_CERTS={certs / 'mitmproxy-ca-cert.pem'}",
    ]
    bundle = certs / "omniroute-ca-bundle.pem"
    assert f"export SSL_CERT_FILE={bundle}" in codex.stdout.splitlines()
    # Nothing runs on this home: the exports still print, and stderr says they assume a port.
    assert "no OmniRoute server is running" in codex.stderr and "assume proxy port" in codex.stderr
    # System roots plus ours: bypassed hosts keep verifying against their real certificates.
    text = bundle.read_text()
    assert text.count("BEGIN CERTIFICATE") > 1 and text.endswith((certs / "mitmproxy-ca-cert.pem").read_text())
    assert cursor.returncode == 0 and "never rerouted" in cursor.stderr
    assert unknown.returncode == 2 and "known agents: claude-code" in unknown.stderr


def test_map_validates_and_reaches_a_running_server(tmp_path: Path) -> None:
    bad_glob = run(tmp_path, "map", "codex", "gpt-[4=demo/x")
    no_equals = run(tmp_path, "map", "codex", "gpt-4")
    assert bad_glob.returncode == 2 and "'gpt-[4'" in bad_glob.stderr and "unclosed" in bad_glob.stderr
    assert no_equals.returncode == 2 and "SOURCE=TARGET" in no_equals.stderr
    # No server: said plainly, nothing saved where no server would apply it.
    offline = run(tmp_path, "map", "codex", "*=demo/x")
    assert offline.returncode == 1 and "no OmniRoute server is running on home" in offline.stderr
    assert "omniroute run --home" in offline.stderr
    with OmniRouteProcess(tmp_path / "home", demo=True, bridge=False) as omni:
        # The CLI's own settings name other ports (run() picks a free API port): the run file finds the server.
        mapped = run(omni.home, "map", "codex", "*=demo/from-cli")
        assert mapped.returncode == 0 and mapped.stdout.startswith("codex: * -> demo/from-cli"), mapped.stderr
        assert omni.process is not None and f"pid {omni.process.pid}" in mapped.stdout
        unresolvable = run(omni.home, "map", "codex", "gpt-4o=nosuch/model")
        assert unresolvable.returncode == 2 and "does not resolve" in unresolvable.stderr
        assert "demo/model" in unresolvable.stderr  # the close match
        context = ssl.create_default_context(cafile=str(omni.ca_cert))
        with httpx.Client(proxy=omni.proxy_url, verify=context, trust_env=False, timeout=10) as client:
            reply = client.post("https://api.openai.com/v1/chat/completions",
                                json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    # Applied at once, without a restart.
    assert reply.json()["choices"][0]["message"]["content"] == "demo reply from from-cli: hi"


def test_dns_on_off_all(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    on = run(tmp_path, "dns", "claude-code", "on", OMNIROUTE_BRIDGE_PORT="8443")
    run(tmp_path, "dns", "claude-code", "on")
    run(tmp_path, "dns", "codex", "on")
    assert on.returncode == 0 and "api.anthropic.com" in on.stdout and "port 443" in on.stdout
    text = hosts.read_text()
    assert text.count("api.anthropic.com") == 2 and "127.0.0.1 chatgpt.com # omniroute:codex" in text
    assert run(tmp_path, "agents").stdout.splitlines()[1].split()[2] == "on"
    assert run(tmp_path, "dns", "codex", "off").returncode == 0
    assert "codex" not in hosts.read_text() and "claude-code" in hosts.read_text()
    assert run(tmp_path, "dns", "--all", "off").returncode == 0
    assert hosts.read_text() == "127.0.0.1 localhost\n"
    usage = run(tmp_path, "dns", "codex", "maybe")
    assert usage.returncode == 2 and "on|off" in usage.stderr


def test_dns_without_permission_prints_the_sudo_command(tmp_path: Path) -> None:
    result = run(tmp_path, "dns", "codex", "on", OMNIROUTE_HOSTS_FILE="/sys/omniroute-hosts")
    assert result.returncode == 1
    assert "run: sudo env OMNIROUTE_HOSTS_FILE=/sys/omniroute-hosts" in result.stderr
    assert result.stderr.rstrip().endswith("dns codex on")


def test_cert_trust_dry_run_and_regenerate(tmp_path: Path) -> None:
    debian = run(tmp_path, "cert", "trust", "--dry-run", "--platform", "debian")
    macos = run(tmp_path, "cert", "untrust", "--dry-run", "--platform", "macos")
    cert = tmp_path / "certs" / "mitmproxy-ca-cert.pem"
    assert debian.stdout.splitlines() == [
        f"sudo install -m 0644 {cert} /usr/local/share/ca-certificates/omniroute-ca.crt",
        "sudo update-ca-certificates",
    ]
    assert macos.stdout.splitlines()[0] == f"sudo security remove-trusted-cert -d {cert}"
    before = cert.read_bytes()
    regenerated = run(tmp_path, "cert", "regenerate")
    assert regenerated.returncode == 0 and "trust it again" in regenerated.stdout
    assert cert.read_bytes() != before
    assert run(tmp_path, "cert", "trust", "--dry-run", "--platform", "beos").returncode == 2


def test_doctor_reports_each_check_with_a_fix(tmp_path: Path) -> None:
    with FakeDNS("203.0.113.7") as dns_ok:
        env = {**dns_ok.env(), "OMNIROUTE_PROXY_PORT": str(free_port()), "OMNIROUTE_BRIDGE_PORT": str(free_port())}
        fresh = run(tmp_path, "doctor", **env)
        run(tmp_path, "cert", "regenerate")
        run(tmp_path, "dns", "kiro", "on", **env)
        ready = run(tmp_path, "doctor", **env)
    assert fresh.returncode == 1
    assert "problem  no CA in" in fresh.stdout and "fix: run `omniroute run` once" in fresh.stdout
    assert "upstream DNS (127.0.0.1) resolves api.anthropic.com to 203.0.113.7" in fresh.stdout
    lines = ready.stdout.splitlines()
    assert any(l.startswith("ok") and "CA present" in l for l in lines)
    assert any("DNS mode on for kiro" in l for l in lines)
    assert any(l.startswith("problem") and "listener is on" in l and "--bridge-port 443" in l for l in lines)
    with FakeDNS(None) as dns_bad:
        broken = run(tmp_path, "doctor", **dns_bad.env())
    assert "problem  upstream DNS (127.0.0.1) fails" in broken.stdout and "OMNIROUTE_UPSTREAM_DNS=" in broken.stdout


def test_doctor_recognises_our_own_running_listeners(tmp_path: Path) -> None:
    with OmniRouteProcess(tmp_path, bridge=False) as omni:
        # The CLI's settings name other ports: the run file says which ones the server uses.
        result = run(tmp_path, "doctor", OMNIROUTE_PROXY_PORT=str(free_port()))
        env = run(tmp_path, "env", "codex")
        assert omni.process is not None
        pid = omni.process.pid
    assert f"ok       OmniRoute is running on this home: pid {pid}, API {omni.api_url}" in result.stdout
    assert f"ok       port {omni.api_port} (api) is OmniRoute's own, running" in result.stdout
    assert f"ok       port {omni.proxy_port} (http-proxy) is OmniRoute's own, running" in result.stdout
    assert "problem  port" not in result.stdout and "is free" not in result.stdout
    assert f"export HTTPS_PROXY=http://127.0.0.1:{omni.proxy_port}" in env.stdout.splitlines()
    # A clean stop removes the run file: the CLI says no server runs.
    assert not (tmp_path / "run.json").exists()
    after = run(tmp_path, "doctor")
    assert f"no OmniRoute server is running on home {tmp_path}" in after.stdout


def test_a_stale_run_file_is_detected(tmp_path: Path) -> None:
    with OmniRouteProcess(tmp_path, bridge=False) as omni:
        assert omni.process is not None
        stale = (tmp_path / "run.json").read_text()
        omni.process.kill()  # no clean stop: the run file stays behind
        omni.process.wait()
    (tmp_path / "run.json").write_text(stale)
    mapped = run(tmp_path, "map", "codex", "*=demo/x")
    assert mapped.returncode == 1 and "which no longer runs" in mapped.stderr
    doctor = run(tmp_path, "doctor")
    assert "stale run file removed" in doctor.stdout and not (tmp_path / "run.json").exists()
