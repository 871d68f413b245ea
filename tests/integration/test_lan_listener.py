"""A listener beyond loopback: never a relay into this machine, never open by accident.

The LAN is a network namespace the test run makes (``lan_namespace.py``): OmniRoute listens on
0.0.0.0 here, and the LAN client runs in the namespace and dials this machine's end of a veth
pair, so every listener sees a peer that is not one of this machine's addresses, exactly as a
connection from another machine. "This machine's own address" is that end of the pair, which
exists before OmniRoute starts. No test traffic goes anywhere but loopback and the pair (the
namespace has no other route). Skipped where the machine cannot make a namespace (not root).
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

from tests.support.fake_upstream import FakeDNS, TLSUpstream
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

from .bridge_support import stand_in_upstream
from .lan_namespace import LanHost, lan_host

CREDENTIALS = "lan-user:lan-secret-0001"
REFUSED = "does not relay clients from other machines to this machine"
ADMIN_KEY = {"label": "stolen", "scope": "admin"}
LOOPBACK_NAME = "sneaky.example"  # real DNS (the stand-in) answers 127.0.0.1


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
def other_machine() -> Iterator[LanHost]:
    with lan_host() as machine:
        yield machine


@pytest.fixture(scope="module")
def lan(other_machine: LanHost) -> str:
    """This machine's address on the LAN: what a client on another machine dials."""
    return other_machine.host_address


@pytest.fixture(scope="module")
def wide(lan: str) -> Iterator[OmniRouteProcess]:
    with FakeDNS(None, {LOOPBACK_NAME: "127.0.0.1"}) as dns, OmniRouteProcess(
        bridge=False, env=dns.env(), args=["--host", "0.0.0.0", "--proxy-auth", CREDENTIALS, "--allow-open-v1"]
    ) as process:
        yield process


def _lan_get(proxy: str, url: str) -> tuple[int, str]:
    """On the other machine: ``GET url`` through the HTTP proxy at ``proxy``; status and body."""
    with httpx.Client(proxy=proxy, trust_env=False, timeout=30) as client:
        answer = client.get(url)
    return answer.status_code, answer.text


def _proxy_at(wide: OmniRouteProcess, lan: str, credentials: str | None = CREDENTIALS) -> str:
    userinfo = f"{credentials}@" if credentials else ""
    return f"http://{userinfo}{lan}:{wide.proxy_port}"


def _keys(wide: OmniRouteProcess) -> list[object]:
    with wide.api() as api:  # this machine, no admin key yet: the bootstrap may list them
        listed = api.get("/api/keys")
    listed.raise_for_status()
    body = listed.json()
    return body["keys"] if isinstance(body, dict) else body


def _exchange(address: tuple[str, int], request: bytes) -> bytes:
    """On the other machine: ``request`` on a fresh socket to ``address``; the whole reply."""
    with socket.create_connection(address, timeout=15) as raw:
        raw.sendall(request)
        reply = b""
        while len(reply) < 65536 and (chunk := raw.recv(4096)):
            reply += chunk
            if reply.startswith(b"HTTP/1.1 200") and b"\r\n\r\n" in reply:
                break  # a tunnel is open: nothing more comes until the client speaks
    return reply


def _raw(machine: LanHost, wide: OmniRouteProcess, lan: str, line: str, host: str, body: bytes = b"") -> bytes:
    """One request from the other machine to the proxy at the LAN address, as bytes on a socket
    (httpx writes an IPv6 absolute-form target without its brackets); the whole reply."""
    token = base64.b64encode(CREDENTIALS.encode()).decode()
    request = (f"{line} HTTP/1.1\r\nhost: {host}\r\nproxy-authorization: Basic {token}\r\nconnection: close\r\n"
               f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
    return machine.run(_exchange, (lan, wide.proxy_port), request)


@pytest.mark.parametrize("host", [
    "127.0.0.1", "127.0.0.2", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]", "localhost", "api.localhost",
    "2130706433", "0x7f.1", "LAN",
])
def test_a_lan_client_is_never_relayed_to_our_api(
    wide: OmniRouteProcess, other_machine: LanHost, lan: str, host: str
) -> None:
    host = lan if host == "LAN" else host
    url = f"http://{host}:{wide.api_port}/api/keys"
    reply = _raw(other_machine, wide, lan, f"POST {url}", f"{host}:{wide.api_port}", json.dumps(ADMIN_KEY).encode())
    assert reply.startswith(b"HTTP/1.1 403"), reply
    assert REFUSED.encode() in reply and b"sk-omni-" not in reply
    assert _keys(wide) == []  # no key was created


def test_a_lan_client_is_never_relayed_to_other_loopback_services(
    wide: OmniRouteProcess, other_machine: LanHost, lan: str, loopback_service: int
) -> None:
    HITS.clear()
    for url in (f"http://127.0.0.1:{loopback_service}/secret",
                f"http://{LOOPBACK_NAME}:{loopback_service}/secret"):  # a name real DNS points home
        status, text = other_machine.run(_lan_get, _proxy_at(wide, lan), url)
        assert status == 403 and REFUSED in text, (url, text)
    # The control: the same service is there, and this machine's own clients may use it.
    with httpx.Client(proxy=f"http://{CREDENTIALS}@127.0.0.1:{wide.proxy_port}", trust_env=False) as local:
        assert local.get(f"http://127.0.0.1:{loopback_service}/control").text == "ok"
    assert HITS == ["/control"]


@pytest.mark.parametrize("target", [
    "127.0.0.1:{api}", "localhost:{api}", "[::1]:{api}", "{lan}:{api}",
    "127.0.0.1:22",
])
def test_a_lan_connect_tunnel_into_this_machine_is_refused(
    wide: OmniRouteProcess, other_machine: LanHost, lan: str, target: str
) -> None:
    target = target.format(api=wide.api_port, lan=lan)
    reply = _raw(other_machine, wide, lan, f"CONNECT {target}", target)
    assert reply.startswith(b"HTTP/1.1 403"), reply
    assert REFUSED.encode() in reply


def test_a_lan_client_needs_proxy_credentials(wide: OmniRouteProcess, other_machine: LanHost, lan: str) -> None:
    for credentials in (None, "lan-user:wrong"):
        status, text = other_machine.run(_lan_get, _proxy_at(wide, lan, credentials), "http://example.invalid/")
        assert status == 407, text


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


def _agent_calls(proxy: str, trust: ssl.SSLContext, text: str) -> tuple[str | None, str]:
    """On the other machine: an agent's (the OpenAI SDK's) call and streamed call through the
    proxy; the reply and the streamed text."""
    with httpx.Client(proxy=proxy, verify=trust, trust_env=False) as http_client:
        client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-agent-own", http_client=http_client,
                               max_retries=0)
        messages = [{"role": "user", "content": text}]
        reply = client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
        stream = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)  # type: ignore[arg-type]
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    return reply.choices[0].message.content, streamed


def test_a_lan_agent_call_is_still_routed_through_our_own_hop(
    wide: OmniRouteProcess, other_machine: LanHost, lan: str, mock_provider: MockProvider
) -> None:
    """Our rewrite to 127.0.0.1:<api-port> is not the client's destination: it keeps working."""
    wide.add_provider("openai", "mock", f"{mock_provider.url}/v1", api_key="sk-test-provider-key-0001")
    wide.map_models("codex", {"*": "mock/gpt-mapped"})
    reply, streamed = other_machine.run(_agent_calls, _proxy_at(wide, lan), wide.ssl_context(), "from the LAN")
    assert reply == "mock reply from gpt-mapped: from the LAN"
    assert streamed.endswith("from the LAN")


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


def _tls_get(address: tuple[str, int], trust: ssl.SSLContext, sni: str) -> bytes | ssl.SSLError | ConnectionError:
    """TLS with ``sni`` over a fresh connection to ``address``, then one request; the reply's
    first bytes, or the error that ended the handshake or the request once connected."""
    with socket.create_connection(address, timeout=15) as raw:
        try:
            with trust.wrap_socket(raw, server_hostname=sni) as tls:
                tls.sendall(f"GET /v1/models HTTP/1.1\r\nhost: {sni}\r\nconnection: close\r\n\r\n".encode())
                return tls.recv(4096)
        except (ssl.SSLError, ConnectionError) as exc:
            return exc


def test_the_dns_mode_listener_never_relays_a_lan_client_into_this_machine(
    other_machine: LanHost, lan: str, stand_in: TLSUpstream
) -> None:
    """Its upstream comes from the SNI: a name real DNS points at loopback (here the stand-in on
    127.0.0.N:443) is refused, and so is ``localhost``; no byte reaches the loopback service."""
    with FakeDNS(None, {LOOPBACK_NAME: stand_in.host}) as dns, OmniRouteProcess(
        proxy=False, env=dns.env(), args=["--host", "0.0.0.0", "--allow-open-proxy", "--allow-open-v1"]
    ) as process:
        trust = ssl.create_default_context(cafile=str(stand_in.ca_file))
        trust.check_hostname = False
        for sni in (LOOPBACK_NAME, "localhost"):
            stand_in.clear()
            ended = other_machine.run(_tls_get, (lan, process.bridge_port), trust, sni)
            assert isinstance(ended, (ssl.SSLError, ConnectionError)), (sni, ended)
            assert stand_in.requests_to("/v1/models") == []
        # The control: from this machine the same name reaches the stand-in (loopback is local).
        reply = _tls_get(("127.0.0.1", process.bridge_port), trust, LOOPBACK_NAME)
        assert isinstance(reply, bytes) and reply.startswith(b"HTTP/1.1 200"), reply
