"""Who may reach what: loopback-only routes, admin keys, DNS rebinding, secrets at rest, no telemetry.

Guards that depend on the caller's address are exercised in-process: the ASGI app is driven
through ``httpx.ASGITransport(client=("192.0.2.10", 5000))``, a documentation address that never
leaves this process (no real non-loopback traffic). Everything else uses a real process on
loopback. Bypassed hosts never being decrypted is proven in
``tests/integration/test_bridge_dns_mode.py::test_bypassed_and_unknown_hosts_are_tunnelled_without_decryption``.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import stat
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from omniroute.api import auth
from omniroute.api.app import create_app
from omniroute.config import Settings
from omniroute.runtime import Runtime
from tests.support.harness import OmniRouteProcess

REMOTE = ("192.0.2.10", 5000)  # TEST-NET-1: only ever an in-process ASGI client address
LOCAL = ("127.0.0.1", 5000)
PORT = 20128  # the app is never bound: the port only shapes the expected Host
INSPECTOR = "/api/tools/traffic-inspector"
BRIDGE = "/api/tools/agent-bridge"
CHAT = {"model": "nope/nothing", "messages": [{"role": "user", "content": "hi"}]}


def _runtime(tmp: Path, host: str, **extra: Any) -> Runtime:
    settings = Settings(home=tmp / f"home-{host}", host=host, api_port=PORT, proxy_port=0,
                        bridge_port=0, hosts_file=tmp / "hosts", **extra)
    return Runtime.open(settings)


_APPS: dict[int, Any] = {}


def _client(runtime: Runtime, peer: tuple[str, int], host: str = f"127.0.0.1:{PORT}") -> httpx.AsyncClient:
    # One app per runtime, as in a real process (the API key cache lives on the app).
    app = _APPS.get(id(runtime))
    if app is None or app.state.services is not runtime.services:
        app = _APPS[id(runtime)] = create_app(runtime.services)
    transport = httpx.ASGITransport(app=app, client=peer)
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


@pytest.fixture()
async def loopback_rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = _runtime(tmp_path, "127.0.0.1", allowed_hosts=["omniroute.lan", "box.lan:9000"])
    yield runtime
    await runtime.stop()


@pytest.fixture()
async def wide_rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = _runtime(tmp_path, "0.0.0.0")
    yield runtime
    await runtime.stop()


# --------------------------------------------------------------------------- loopback-only routes


@pytest.mark.parametrize("path", [f"{BRIDGE}/agents", f"{BRIDGE}/state", f"{BRIDGE}/upstream-ca",
                                  f"{INSPECTOR}/requests", f"{INSPECTOR}/sessions", f"{INSPECTOR}/export.har",
                                  "/api/cli-tools", "/api/cli-tools/backups"])
async def test_bridge_and_inspector_routes_refuse_other_machines(loopback_rt: Runtime, path: str) -> None:
    async with _client(loopback_rt, REMOTE) as remote, _client(loopback_rt, LOCAL) as local:
        refused = await remote.get(path)
        assert refused.status_code == 403, refused.text
        assert "loopback" in refused.json()["error"]["message"]
        assert (await local.get(path)).status_code == 200


async def test_bridge_stays_loopback_only_even_with_an_admin_key(wide_rt: Runtime) -> None:
    async with _client(wide_rt, LOCAL) as local, _client(wide_rt, REMOTE) as remote:
        created = await local.post("/api/keys", json={"label": "admin", "scope": "admin"})
        assert created.status_code in (200, 201), created.text
        secret = created.json()["key"]
        bearer = {"authorization": f"Bearer {secret}"}
        assert (await remote.get("/api/combos", headers=bearer)).status_code == 200
        refused = await remote.get(f"{BRIDGE}/agents", headers=bearer)
        assert refused.status_code == 403 and "loopback" in refused.json()["error"]["message"]


async def test_beyond_loopback_management_needs_an_admin_key(wide_rt: Runtime) -> None:
    async with _client(wide_rt, REMOTE) as remote, _client(wide_rt, LOCAL) as local:
        refused = await remote.get("/api/combos")
        assert refused.status_code == 401 and "admin" in refused.json()["error"]["message"]
        changed = await remote.post("/api/combos", json={"name": "x", "strategy": "priority", "nodes": []})
        assert changed.status_code == 401
        created = await local.post("/api/keys", json={"label": "reader", "scope": "read"})
        reader = {"authorization": f"Bearer {created.json()['key']}"}
        admin = await local.post("/api/keys", json={"label": "admin", "scope": "admin"})
        admin_h = {"authorization": f"Bearer {admin.json()['key']}"}
        # Once an admin key exists the bootstrap exemption is gone, also on this machine.
        assert (await local.get("/api/combos")).status_code == 401
        assert (await remote.get("/api/combos", headers=reader)).status_code == 200
        write = await remote.post("/api/pricing", json={}, headers=reader)
        assert write.status_code == 403 and "admin" in write.json()["error"]["message"]
        assert (await remote.get("/api/keys", headers=admin_h)).status_code == 200


# --------------------------------------------------------------------------- DNS rebinding


@pytest.mark.parametrize(("host", "ok"), [
    (f"127.0.0.1:{PORT}", True), (f"localhost:{PORT}", True), (f"[::1]:{PORT}", True),
    (f"omniroute.lan:{PORT}", True), ("omniroute.lan:1234", True), ("box.lan:9000", True),
    ("box.lan:9001", False), (f"evil.example:{PORT}", False), ("127.0.0.1:9999", False),
    (f"localhost.evil.example:{PORT}", False), (f"127.0.0.1:{PORT}x", False),
])
async def test_host_header_is_checked_against_dns_rebinding(loopback_rt: Runtime, host: str, ok: bool) -> None:
    async with _client(loopback_rt, LOCAL) as client:
        response = await client.get("/api/combos", headers={"host": host})
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403
        assert "DNS-rebinding" in response.json()["error"]["message"]


async def test_rebinding_refusals_come_in_the_callers_format(loopback_rt: Runtime) -> None:
    async with _client(loopback_rt, LOCAL, f"evil.example:{PORT}") as client:
        chat = await client.post("/v1/chat/completions", json=CHAT)
        messages = await client.post("/v1/messages", json=CHAT)
        gemini = await client.post("/v1beta/models/x:generateContent", json={"contents": []})
    assert chat.status_code == messages.status_code == gemini.status_code == 403
    assert chat.json()["error"]["type"] == "permission_error"
    assert messages.json()["type"] == "error" and messages.json()["error"]["type"] == "permission_error"
    assert gemini.json()["error"]["status"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(("origin", "ok"), [
    ("http://localhost:3000", True), (f"http://127.0.0.1:{PORT}", True), ("http://[::1]:5173", True),
    ("https://omniroute.lan", True), ("https://evil.example", False), ("null", False),
    ("http://127.0.0.1.evil.example", False), ("file://", False), ("http://user@127.0.0.1", False),
    ("http://evil.localhost", False), (f"http://evil.localhost:{PORT}", False),
])
async def test_origin_must_be_loopback_or_allowed(loopback_rt: Runtime, origin: str, ok: bool) -> None:
    async with _client(loopback_rt, LOCAL) as client:
        response = await client.post("/v1/chat/completions", json=CHAT, headers={"origin": origin})
    if ok:  # past the guard: the engine answers (no such model)
        assert response.status_code == 404, response.text
    else:
        assert response.status_code == 403 and "Origin" in response.json()["error"]["message"]


async def test_agent_bridge_rewrites_are_exempt(loopback_rt: Runtime) -> None:
    headers = {"origin": "vscode-webview://x", auth.INTERNAL_HEADER.decode(): loopback_rt.services.tokens.internal}
    async with _client(loopback_rt, LOCAL, "api.anthropic.com") as client:
        forged = await client.get("/api/combos", headers={**headers, auth.INTERNAL_HEADER.decode(): "guess"})
        real = await client.get("/api/combos", headers=headers)
    assert forged.status_code == 403 and real.status_code == 200


@pytest.fixture(scope="module")
def proc() -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(proxy=False, bridge=False) as process:
        yield process


def test_real_socket_rebinding_and_websocket_origin(proc: OmniRouteProcess) -> None:
    with proc.api() as api:
        assert api.get("/api/combos", headers={"host": f"evil.example:{proc.api_port}"}).status_code == 403
        assert api.get("/api/combos", headers={"origin": "https://evil.example"}).status_code == 403
        assert api.get("/api/combos").status_code == 200
    ws_base = f"ws://127.0.0.1:{proc.api_port}"
    for path in (f"{INSPECTOR}/ws", "/v1/responses"):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_base + path, origin="https://evil.example", open_timeout=10)  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            connect(ws_base + path, additional_headers={"host": "evil.example"}, open_timeout=10)
    with connect(f"{ws_base}{INSPECTOR}/ws", origin=f"http://localhost:{proc.api_port}", open_timeout=10) as ws:  # type: ignore[arg-type]
        assert '"snapshot"' in str(ws.recv(timeout=10))


def test_a_localhost_subdomain_is_not_a_loopback_origin(proc: OmniRouteProcess) -> None:
    with proc.api() as api:
        for origin in ("http://evil.localhost", f"http://evil.localhost:{proc.api_port}", "http://a.b.localhost"):
            refused = api.get("/api/combos", headers={"origin": origin})
            assert refused.status_code == 403 and "Origin" in refused.json()["error"]["message"], origin
        assert api.get("/api/combos", headers={"origin": "http://localhost:5173"}).status_code == 200


def test_management_keys_are_refused_in_the_query(proc: OmniRouteProcess) -> None:
    with proc.api() as api:
        created = api.post("/api/keys", json={"label": "in-a-url", "scope": "read"})
        secret = created.json()["key"]
        for key in (secret, "sk-omni-not-a-key"):
            refused = api.get("/api/keys", params={"key": key})
            assert refused.status_code == 401, refused.text
            message = refused.json()["error"]["message"]
            assert "only in headers" in message and secret not in refused.text
        assert api.get("/api/keys", headers={"authorization": f"Bearer {secret}"}).status_code == 200


# --------------------------------------------------------------------------- secrets at rest


def _home_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("omniroute.db*") if p.is_file())


def test_api_keys_are_stored_hashed_and_compared_in_constant_time(
    proc: OmniRouteProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    with proc.api() as api:
        created = api.post("/api/keys", json={"label": "reader", "scope": "read"})
        assert created.status_code in (200, 201), created.text
        secret = created.json()["key"]
        listed = api.get("/api/keys", headers={"authorization": f"Bearer {secret}"})
        assert listed.status_code == 200 and secret not in listed.text
        assert created.json()["id"] in listed.text
    time.sleep(0.5)
    stored = _home_bytes(proc.home)
    assert secret.encode() not in stored and secret[8:].encode() not in stored
    assert hashlib.sha256(secret.encode()).hexdigest().encode() in stored
    # The final comparison goes through hmac.compare_digest.
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    entry = auth.KeyEntry("id", "read", auth.hash_key(secret))
    cache = auth.KeyCache.__new__(auth.KeyCache)
    cache._by_hash = {entry.key_hash: entry}  # type: ignore[attr-defined]
    assert cache.lookup(secret) == entry and cache.lookup(secret + "x") is None
    assert compared == [(entry.key_hash, entry.key_hash)]


def test_provider_secrets_are_encrypted_and_the_ca_key_is_private(proc: OmniRouteProcess) -> None:
    canary = "sk-atrest-" + "7" * 40
    proc.add_provider("openai", "atrest", "http://127.0.0.1:9/v1", api_key=canary)
    with proc.api() as api:
        shown = api.get("/api/providers").text
    assert canary not in shown and canary[12:] not in shown
    time.sleep(0.5)
    assert canary.encode() not in _home_bytes(proc.home)
    for private in (proc.home / "certs" / "mitmproxy-ca.pem", proc.home / "secret.key"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private


def test_a_ca_key_made_readable_is_locked_down_again(tmp_path: Path) -> None:
    from omniroute.bridge.ca import CertificateAuthority

    ca = CertificateAuthority(tmp_path / "certs")
    ca.ensure()
    ca.key_path.chmod(0o644)
    ca.ensure()
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600


# --------------------------------------------------------------------------- no telemetry


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:
            continue
        if str(target).startswith("socket:["):
            found.add(str(target)[8:-1])
    return found


def _remote_of(hex_addr: str) -> str:
    addr, port = hex_addr.split(":")
    raw = bytes.fromhex(addr)
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw[::-1])}:{int(port, 16)}"
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return f"[{socket.inet_ntop(socket.AF_INET6, words)}]:{int(port, 16)}"


def _foreign(pid: int) -> set[str]:
    """Remote addresses of the process's TCP sockets that are neither loopback nor unset."""
    inodes = _socket_inodes(pid)
    bad = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            parts = line.split()
            if parts[9] not in inodes:
                continue
            remote = _remote_of(parts[2])
            host = remote.rsplit(":", 1)[0].strip("[]")
            if host in ("0.0.0.0", "::") or host.startswith(("127.", "::ffff:127.")) or host == "::1":
                continue
            bad.add(remote)
    return bad


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
def test_no_telemetry_every_tcp_connection_stays_on_loopback(tmp_path: Path) -> None:
    process = OmniRouteProcess(tmp_path / "home", demo=True)
    seen: set[str] = set()
    stop = threading.Event()

    def sample() -> None:  # from before the API is up until the traffic below is over
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            popen = process.process
            if popen is not None and popen.poll() is None:
                try:
                    seen.update(_foreign(popen.pid))
                except (FileNotFoundError, ProcessLookupError):
                    pass
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        process.start(timeout=120)
        with process.api() as api:
            for path in ("/health", "/api/providers", "/v1/models", f"{BRIDGE}/agents", "/"):
                api.get(path)
            for stream in (False, True):
                answer = api.post("/v1/chat/completions", json={
                    "model": "demo/any", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
                assert answer.status_code == 200
        time.sleep(1.0)
    finally:
        stop.set()
        sampler.join(10)
        process.close()
    assert not seen, f"OmniRoute connected beyond loopback: {sorted(seen)}"
