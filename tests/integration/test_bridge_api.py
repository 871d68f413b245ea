"""AgentBridge management API against a real process: agents, DNS mode, listeners, bypass, CAs."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from omniroute.api.app import create_app
from omniroute.config import Settings
from omniroute.runtime import Runtime
from tests.support.harness import OmniRouteProcess

BASE = "/api/tools/agent-bridge"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def omni() -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(demo=True) as process:
        process.map_models("codex", {"*": "demo/mapped"})
        yield process


def _api(omni: OmniRouteProcess) -> httpx.Client:
    return omni.api()


def _through_proxy(omni: OmniRouteProcess, cafile: Path | None = None) -> httpx.Response:
    context = ssl.create_default_context(cafile=str(cafile or omni.ca_cert))
    with httpx.Client(proxy=omni.proxy_url, verify=context, trust_env=False, timeout=10) as client:
        return client.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES})


def _states(omni: OmniRouteProcess) -> dict[str, str]:
    with _api(omni) as api:
        return {l["name"]: l["state"] for l in api.get("/health").json()["listeners"]}


def test_agents_list_every_agent_with_state_and_why_not_routable(omni: OmniRouteProcess) -> None:
    with _api(omni) as api:
        rows = {r["agent_id"]: r for r in api.get(f"{BASE}/agents").json()}
    assert set(rows) == {"claude-code", "codex", "copilot", "antigravity", "kiro", "zed", "open-code", "cursor", "trae",
                          "gemini-cli", "qwen-code", "droid"}
    for key in ("dns_enabled", "cert_trusted", "setup_completed", "last_started_at", "last_error", "last_seen"):
        assert key in rows["codex"]
    assert rows["codex"]["mappings_count"] == 1 and rows["codex"]["routable"] is True
    for agent in ("cursor", "trae"):
        assert rows[agent]["routable"] is False and "passed through" in rows[agent]["reason"]


def test_last_seen_is_recorded_for_intercepted_agents(omni: OmniRouteProcess) -> None:
    assert _through_proxy(omni).status_code == 200
    with _api(omni) as api:
        rows = {r["agent_id"]: r for r in api.get(f"{BASE}/agents").json()}
    assert rows["codex"]["last_seen"] is not None and rows["claude-code"]["last_seen"] is None


def test_mappings_validation_names_the_bad_pattern(omni: OmniRouteProcess) -> None:
    with _api(omni) as api:
        bad = api.put(f"{BASE}/agents/copilot/mappings", json={"mappings": [{"source": "gpt-[4", "target": "demo/x"}]})
        unknown = api.put(f"{BASE}/agents/nope/mappings", json={"mappings": []})
        ok = api.put(f"{BASE}/agents/copilot/mappings", json={"mappings": [{"source": "gpt-4*", "target": "demo/x"}]})
        rows = api.get(f"{BASE}/agents/copilot/mappings").json()
        cursor = api.put(f"{BASE}/agents/cursor/mappings", json={"mappings": [{"source": "*", "target": "demo/x"}]})
    assert bad.status_code == 400 and "gpt-[4" in bad.json()["error"]["message"]
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    assert ok.status_code == 200 and [(r["source_model"], r["target_model"]) for r in rows] == [("gpt-4*", "demo/x")]
    assert "not routable" in cursor.json()["warning"]


def test_dns_toggles_are_idempotent_and_keep_the_rest_of_the_hosts_file(omni: OmniRouteProcess) -> None:
    hosts = omni.home / "hosts"
    hosts.write_text("127.0.0.1 localhost\n10.0.0.5 intranet.example # keep me\n")
    with _api(omni) as api:
        first = api.post(f"{BASE}/agents/claude-code/dns", json={"enabled": True}).json()
        second = api.post(f"{BASE}/agents/claude-code/dns", json={"enabled": True}).json()
        text_on = hosts.read_text()
        listed = {r["agent_id"]: r for r in api.get(f"{BASE}/agents").json()}
        off = api.post(f"{BASE}/agents/claude-code/dns", json={"enabled": False}).json()
        off_again = api.post(f"{BASE}/agents/claude-code/dns", json={"enabled": False}).json()
        trae = api.post(f"{BASE}/agents/trae/dns", json={"enabled": True})
        unknown = api.post(f"{BASE}/agents/nope/dns", json={"enabled": True})
    assert (first["changed"], second["changed"], off["changed"], off_again["changed"]) == (True, False, True, False)
    assert "127.0.0.1 api.anthropic.com # omniroute:claude-code" in text_on
    assert "::1 api.anthropic.com # omniroute:claude-code" in text_on
    assert "port 443" in first["warning"]  # the test listener is not on 443: say so
    assert listed["claude-code"]["dns_enabled"] is True and listed["claude-code"]["last_started_at"]
    assert hosts.read_text() == "127.0.0.1 localhost\n10.0.0.5 intranet.example # keep me\n"
    assert trae.status_code == 400 and "no known hosts" in trae.json()["error"]["message"]
    assert unknown.status_code == 404


async def test_dns_without_permission_says_the_sudo_command(tmp_path: Path) -> None:
    # /sys refuses new files even to root: the hosts file cannot be written.
    settings = Settings(home=tmp_path, api_port=0, proxy_port=0, bridge_port=0, hosts_file="/sys/omniroute-hosts")
    runtime = Runtime.open(settings)
    transport = httpx.ASGITransport(app=create_app(runtime.services), client=("127.0.0.1", 5555))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://omniroute") as api:
            reply = await api.post(f"{BASE}/agents/codex/dns", json={"enabled": True})
            rows = {r["agent_id"]: r for r in (await api.get(f"{BASE}/agents")).json()}
    finally:
        await runtime.stop()
    assert reply.status_code == 403
    message = reply.json()["error"]["message"]
    assert "sudo env OMNIROUTE_HOSTS_FILE=/sys/omniroute-hosts" in message and "dns codex on" in message
    assert rows["codex"]["last_error"] == message and rows["codex"]["dns_enabled"] is False


def test_listeners_stop_start_restart_at_runtime(omni: OmniRouteProcess) -> None:
    with _api(omni) as api:
        stopped = api.post(f"{BASE}/server", json={"action": "stop"}).json()
        assert _states(omni)["agent-bridge"] == "stopped" and stopped["listeners"][0]["state"] == "stopped"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", omni.bridge_port), timeout=2).close()
        started = api.post(f"{BASE}/server", json={"action": "start"}).json()
        socket.create_connection(("127.0.0.1", omni.bridge_port), timeout=2).close()
        restarted = api.post(f"{BASE}/server", json={"action": "restart", "listener": "all"}).json()
        state = api.get(f"{BASE}/state").json()
        bad = api.post(f"{BASE}/server", json={"action": "explode"})
    assert started["listeners"][0]["state"] == "running"
    assert [l["state"] for l in restarted["listeners"]] == ["running", "running"]
    assert state["running"] is True and state["port"] == omni.bridge_port and state["certReady"] is True
    assert state["httpProxy"] == {"running": True, "port": omni.proxy_port, "error": None}
    assert bad.status_code == 422
    assert _through_proxy(omni).status_code == 200


def test_http_proxy_capture_mode_stop_start_and_port_conflict(omni: OmniRouteProcess) -> None:
    path = "/api/tools/traffic-inspector/capture-modes/http-proxy"
    with _api(omni) as api:
        assert api.post(path, json={"action": "stop"}).json()["listener"]["state"] == "stopped"
        with pytest.raises(httpx.ConnectError):
            _through_proxy(omni)
        with socket.socket() as squatter:  # someone else takes the port meanwhile
            squatter.bind(("127.0.0.1", omni.proxy_port))
            squatter.listen()
            conflict = api.post(path, json={"action": "start"})
            bridge_conflict = api.post(f"{BASE}/server", json={"action": "start", "listener": "http-proxy"})
        assert _states(omni)["http-proxy"] == "stopped"
        again = api.post(path, json={"action": "start"})
    assert conflict.status_code == 409 and f"port {omni.proxy_port}" in conflict.json()["error"]["message"]
    assert bridge_conflict.status_code == 409
    assert again.status_code == 200 and again.json()["listener"]["state"] == "running"
    assert _through_proxy(omni).status_code == 200


def test_bypass_rows_and_user_patterns(omni: OmniRouteProcess) -> None:
    with _api(omni) as api:
        rows = api.get(f"{BASE}/bypass").json()
        bad = api.put(f"{BASE}/bypass", json={"patterns": ["*"]})
        unclosed = api.put(f"{BASE}/bypass", json={"patterns": ["corp-[x"]})
        saved = api.put(f"{BASE}/bypass", json={"patterns": ["*.corp.example", "Vault.Example."]}).json()
        cleared = api.put(f"{BASE}/bypass", json={"patterns": []}).json()
    assert {"pattern": "okta.com", "source": "default"} in rows  # built in: no creation date
    assert all(r["source"] == "default" for r in rows)
    assert bad.status_code == 400 and "every host" in bad.json()["error"]["message"]
    assert unclosed.status_code == 400 and "corp-[x" in unclosed.json()["error"]["message"]
    assert [(r["pattern"], r["source"]) for r in saved if r["source"] == "user"] == [
        ("*.corp.example", "user"), ("vault.example", "user")
    ]
    assert all(r["source"] == "default" for r in cleared)


def test_cert_download_pem_der_and_regenerate(omni: OmniRouteProcess) -> None:
    with _api(omni) as api:
        pem = api.get(f"{BASE}/cert")
        der = api.get(f"{BASE}/cert", params={"format": "der"})
        posted = api.post(f"{BASE}/cert", json={"action": "download"})
        assert pem.content == omni.ca_cert.read_bytes() == posted.content
        assert x509.load_der_x509_certificate(der.content) == x509.load_pem_x509_certificate(pem.content)
        assert pem.headers["content-type"].startswith("application/x-pem-file")
        regenerated = api.post(f"{BASE}/cert", json={"action": "regenerate"}).json()
        new_pem = api.get(f"{BASE}/cert").content
        trust = api.post(f"{BASE}/server", json={"action": "trust-cert", "dryRun": True}).json()
    assert new_pem != pem.content and new_pem == omni.ca_cert.read_bytes()
    assert regenerated["cert"]["fingerprint_sha256"] and "trust it again" in regenerated["note"]
    # The running proxy signs with the new CA at once: clients trusting the old one now fail.
    old = omni.home / "old-ca.pem"
    old.write_bytes(pem.content)
    with pytest.raises(httpx.ConnectError):
        _through_proxy(omni, cafile=old)
    assert _through_proxy(omni).status_code == 200
    assert any(str(omni.ca_cert) in command for command in trust["commands"])


def test_upstream_ca_validation_and_apply(omni: OmniRouteProcess, tmp_path: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    with _api(omni) as api:
        assert api.get(f"{BASE}/upstream-ca").json() == {"path": None, "bundle": None}
        missing = api.post(f"{BASE}/upstream-ca", json={"path": str(tmp_path / "missing.pem")})
        garbage = api.post(f"{BASE}/upstream-ca", json={"path": str(not_pem)})
        relative = api.post(f"{BASE}/upstream-ca", json={"path": "ca.pem"})
        ok = api.post(f"{BASE}/upstream-ca", json={"path": str(omni.ca_cert)})
        shown = api.get(f"{BASE}/upstream-ca").json()
        cleared = api.delete(f"{BASE}/upstream-ca").json()
    assert missing.status_code == 400 and "does not exist" in missing.json()["error"]["message"]
    assert garbage.status_code == 400 and "no PEM certificates" in garbage.json()["error"]["message"]
    assert relative.status_code == 400 and "absolute" in relative.json()["error"]["message"]
    assert ok.status_code == 200 and ok.json()["applied"] is True
    assert shown["path"] == str(omni.ca_cert)
    # Applied as a bundle: public roots plus the given CA, so other hosts still verify.
    bundle = Path(shown["bundle"]).read_text()
    assert omni.ca_cert.read_text().strip() in bundle and bundle.count("BEGIN CERTIFICATE") > 1
    assert cleared == {"path": None, "bundle": None, "applied": True}


async def test_bridge_routes_refuse_non_loopback_callers(tmp_path: Path) -> None:
    runtime = Runtime.open(Settings(home=tmp_path, api_port=0, proxy_port=0, bridge_port=0))
    app = create_app(runtime.services)
    try:
        for client in (("10.1.2.3", 5555), ("127.0.0.1", 5555)):
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://omniroute") as api:
                replies = [
                    await api.get(f"{BASE}/agents"),
                    await api.post(f"{BASE}/agents/codex/dns", json={"enabled": False}),
                    await api.post("/api/tools/traffic-inspector/capture-modes/http-proxy", json={"action": "start"}),
                ]
            if client[0] == "10.1.2.3":
                assert [r.status_code for r in replies] == [403, 403, 403]
                assert "loopback" in replies[0].json()["error"]["message"]
            else:
                # Loopback passes; with no proxy hosted in-process, listener control says so.
                assert [r.status_code for r in replies] == [200, 200, 503]
    finally:
        await runtime.stop()
