"""A listener beyond loopback: never a relay into this machine, never open by accident.

"From the LAN" without a LAN: OmniRoute listens on 0.0.0.0 and the client connects to one of this
machine's own non-loopback addresses, so every listener sees a non-loopback peer, exactly as a
connection from another machine. Skipped where the machine has no such address.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest

from omniroute.bridge.upstream_dns import local_addresses
from omniroute.testing.fake_upstream import FakeDNS, TLSUpstream
from omniroute.testing.harness import OmniRouteProcess
from omniroute.testing.mock_provider import MockProvider

from .bridge_support import stand_in_upstream

CREDENTIALS = "lan-user:lan-secret-0001"
REFUSED = "does not relay clients from other machines to this machine"
ADMIN_KEY = {"label": "stolen", "scope": "admin"}
LOOPBACK_NAME = "sneaky.example"  # real DNS (the stand-in) answers 127.0.0.1


def _lan_address() -> str:
    for address in sorted(local_addresses()):
        if "." in address and not address.startswith("127."):
            return address
    pytest.skip("this machine has no non-loopback IPv4 address to stand in for the LAN")


HITS: list[str] = []  # paths the loopback service was asked for


class _Counter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        HITS.append(self.path)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def loopback_service() -> Iterator[int]:
    """Another service of this machine that listens on loopback only."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def lan() -> str:
    return _lan_address()


@pytest.fixture(scope="module")
def wide(lan: str) -> Iterator[OmniRouteProcess]:
    with FakeDNS(None, {LOOPBACK_NAME: "127.0.0.1"}) as dns, OmniRouteProcess(
        bridge=False, env=dns.env(), args=["--host", "0.0.0.0", "--proxy-auth", CREDENTIALS, "--allow-open-v1"]
    ) as process:
        yield process


def _lan_proxy(wide: OmniRouteProcess, lan: str, credentials: str | None = CREDENTIALS) -> httpx.Client:
    userinfo = f"{credentials}@" if credentials else ""
    return httpx.Client(proxy=f"http://{userinfo}{lan}:{wide.proxy_port}", trust_env=False, timeout=30)


def _keys(wide: OmniRouteProcess) -> list[object]:
    with wide.api() as api:  # this machine, no admin key yet: the bootstrap may list them
        listed = api.get("/api/keys")
    listed.raise_for_status()
    body = listed.json()
    return body["keys"] if isinstance(body, dict) else body


def _raw(wide: OmniRouteProcess, lan: str, line: str, host: str, body: bytes = b"") -> bytes:
    """One request to the proxy at the LAN address, as bytes on a socket (httpx writes an IPv6
    absolute-form target without its brackets); the whole reply."""
    token = base64.b64encode(CREDENTIALS.encode()).decode()
    request = (f"{line} HTTP/1.1\r\nhost: {host}\r\nproxy-authorization: Basic {token}\r\nconnection: close\r\n"
               f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection((lan, wide.proxy_port), timeout=15) as raw:
        raw.sendall(request)
        reply = b""
        while len(reply) < 65536 and (chunk := raw.recv(4096)):
            reply += chunk
    return reply


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.0.0.2", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]", "localhost", "api.localhost",
    "2130706433", "0x7f.1", "LAN",
])
def test_a_lan_client_is_never_relayed_to_our_api(wide: OmniRouteProcess, lan: str, host: str) -> None:
    host = lan if host == "LAN" else host
    url = f"http://{host}:{wide.api_port}/api/keys"
    reply = _raw(wide, lan, f"POST {url}", f"{host}:{wide.api_port}", json.dumps(ADMIN_KEY).encode())
    assert reply.startswith(b"HTTP/1.1 403"), reply
    assert REFUSED.encode() in reply and b"sk-omni-" not in reply
    assert _keys(wide) == []  # no key was created


def test_a_lan_client_is_never_relayed_to_other_loopback_services(
    wide: OmniRouteProcess, lan: str, loopback_service: int
) -> None:
    HITS.clear()
    with _lan_proxy(wide, lan) as client:
        for url in (f"http://127.0.0.1:{loopback_service}/secret",
                    f"http://{LOOPBACK_NAME}:{loopback_service}/secret"):  # a name real DNS points home
            answer = client.get(url)
            assert answer.status_code == 403 and REFUSED in answer.text, (url, answer.text)
        # The control: the same service is there, and this machine's own clients may use it.
        with httpx.Client(proxy=f"http://{CREDENTIALS}@127.0.0.1:{wide.proxy_port}", trust_env=False) as local:
            assert local.get(f"http://127.0.0.1:{loopback_service}/control").text == "ok"
    assert HITS == ["/control"]


@pytest.mark.parametrize("target", ["127.0.0.1:{api}", "localhost:{api}", "[::1]:{api}", "{lan}:{api}", "127.0.0.1:22"])
def test_a_lan_connect_tunnel_into_this_machine_is_refused(wide: OmniRouteProcess, lan: str, target: str) -> None:
    target = target.format(api=wide.api_port, lan=lan)
    reply = _raw(wide, lan, f"CONNECT {target}", target)
    assert reply.startswith(b"HTTP/1.1 403"), reply
    assert REFUSED.encode() in reply


def test_a_lan_client_needs_proxy_credentials(wide: OmniRouteProcess, lan: str, loopback_service: int) -> None:
    for credentials in (None, "lan-user:wrong"):
        with _lan_proxy(wide, lan, credentials) as client:
            answer = client.get("http://example.invalid/")
        assert answer.status_code == 407, answer.text


def test_the_api_never_counts_a_call_through_our_proxy_as_local(wide: OmniRouteProcess) -> None:
    """Even from this machine: the API sees our proxy's socket, not the caller's."""
    with httpx.Client(proxy=f"http://{CREDENTIALS}@127.0.0.1:{wide.proxy_port}", trust_env=False) as via_proxy:
        bridge = via_proxy.get(f"http://127.0.0.1:{wide.api_port}/api/tools/agent-bridge/agents")
        keys = via_proxy.post(f"http://127.0.0.1:{wide.api_port}/api/keys", json=ADMIN_KEY)
    for refused in (bridge, keys):  # directly from this machine, both would be served (bootstrap)
        assert refused.status_code == 401 and "another machine" in refused.json()["error"]["message"]
    assert _keys(wide) == []
    with wide.api() as direct:  # the control: the same calls made directly are local
        assert direct.get("/api/tools/agent-bridge/agents").status_code == 200


def test_a_lan_agent_call_is_still_routed_through_our_own_hop(
    wide: OmniRouteProcess, lan: str, mock_provider: MockProvider
) -> None:
    """Our rewrite to 127.0.0.1:<api-port> is not the client's destination: it keeps working."""
    wide.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
    wide.map_models("codex", {"*": "mock/gpt-mapped"})
    http_client = httpx.Client(
        proxy=f"http://{CREDENTIALS}@{lan}:{wide.proxy_port}", verify=wide.ssl_context(), trust_env=False
    )
    client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-agent-own", http_client=http_client,
                           max_retries=0)
    messages = [{"role": "user", "content": "from the LAN"}]
    reply = client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
    assert reply.choices[0].message.content == "mock reply from gpt-mapped: from the LAN"
    stream = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).endswith("from the LAN")


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(("proxy", "bridge", "args", "said"), [
    (True, False, [], "the HTTP proxy listener would be open"),
    (True, True, ["--proxy-auth", CREDENTIALS, "--allow-open-v1"], "the DNS-mode listener cannot authenticate"),
    (False, False, [], "/v1 model calls would be open"),
    (True, False, ["--proxy-auth", CREDENTIALS], "set REQUIRE_API_KEY=true"),
])
def test_a_wide_listener_never_starts_open_silently(proxy: bool, bridge: bool, args: list[str], said: str) -> None:
    process = OmniRouteProcess(proxy=proxy, bridge=bridge, args=["--host", "0.0.0.0", *args])
    try:
        with pytest.raises(RuntimeError) as failed:
            process.start(timeout=60)
    finally:
        process.close()
    assert "omniroute exited with 2" in str(failed.value)
    assert said in str(failed.value), str(failed.value)


@pytest.mark.parametrize(("args", "env"), [
    (["--proxy-auth", CREDENTIALS], {"REQUIRE_API_KEY": "true"}),
    (["--allow-open-proxy", "--allow-open-v1"], {}),
])
def test_a_wide_listener_starts_once_closed_or_explicitly_open(args: list[str], env: dict[str, str]) -> None:
    with OmniRouteProcess(bridge=False, args=["--host", "0.0.0.0", *args], env=env) as process, process.api() as api:
        assert api.get("/health").status_code == 200


# --------------------------------------------------------------------------- DNS-mode listener


@pytest.fixture(scope="module")
def stand_in() -> Iterator[TLSUpstream]:
    with stand_in_upstream() as server:
        yield server


def test_the_dns_mode_listener_never_relays_a_lan_client_into_this_machine(lan: str, stand_in: TLSUpstream) -> None:
    """Its upstream comes from the SNI: a name real DNS points at loopback (here the stand-in on
    127.0.0.N:443) is refused, and so is ``localhost``; no byte reaches the loopback service."""
    with FakeDNS(None, {LOOPBACK_NAME: stand_in.host}) as dns, OmniRouteProcess(
        proxy=False, env=dns.env(), args=["--host", "0.0.0.0", "--allow-open-proxy", "--allow-open-v1"]
    ) as process:
        trust = ssl.create_default_context(cafile=str(stand_in.ca_file))
        trust.check_hostname = False
        for sni in (LOOPBACK_NAME, "localhost"):
            stand_in.clear()
            with (
                socket.create_connection((lan, process.bridge_port), timeout=15) as raw,
                pytest.raises((ssl.SSLError, ConnectionError)),
                trust.wrap_socket(raw, server_hostname=sni) as tls,
            ):
                tls.sendall(f"GET /v1/models HTTP/1.1\r\nhost: {sni}\r\nconnection: close\r\n\r\n".encode())
                tls.recv(4096)
            assert stand_in.requests_to("/v1/models") == []
        # The control: from this machine the same name reaches the stand-in (loopback is local).
        with (
            socket.create_connection(("127.0.0.1", process.bridge_port), timeout=15) as raw,
            trust.wrap_socket(raw, server_hostname=LOOPBACK_NAME) as tls,
        ):
            tls.sendall(f"GET /v1/models HTTP/1.1\r\nhost: {LOOPBACK_NAME}\r\nconnection: close\r\n\r\n".encode())
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")
