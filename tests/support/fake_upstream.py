"""Stand-ins for the real internet in bridge tests: a TLS upstream and an upstream DNS server.

``TLSUpstream`` serves the mock provider over HTTPS on ``127.0.0.N:443`` (we run tests as
root) with a leaf certificate for real hostnames (``api.anthropic.com``, ...) signed by a test
CA of its own, so OmniRoute reaches it only once told to trust that CA (the upstream-CA
setting). ``FakeDNS`` is a UDP DNS server answering every A query with that address, which
OmniRoute uses as its "real" upstream DNS (``OMNIROUTE_UPSTREAM_DNS``/``_PORT``).
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from omniroute.bridge.ca import CertificateAuthority
from tests.support.mock_provider import MockProvider, listening_socket

DEFAULT_NAMES = (
    "api.anthropic.com", "api.openai.com", "chatgpt.com", "llm.zed.dev", "api.zed.dev",
    "login.microsoftonline.com", "bypass.example.test", "loop.example.test",
    "unknown.example.test", "openrouter.ai", "api2.cursor.sh", "cloudcode-pa.googleapis.com",
)


class NoLoopbackAlias(RuntimeError):
    """No free 127.0.0.N:443 (not root, or every address taken)."""


def _free_loopback_443(first: int = 2, last: int = 250) -> socket.socket:
    """A socket listening on the first free 127.0.0.N:443, kept until the server serves on it:
    a probe that let go of the address would race parallel test workers to it."""
    # Port 443 is what OmniRoute dials for SNI-routed and CONNECT-ed hosts, so the stand-in
    # needs it; parallel test modules each take their own loopback address.
    for n in range(first, last):
        try:
            return listening_socket(f"127.0.0.{n}", 443)
        except OSError as exc:  # taken (bound and listening elsewhere), or not allowed
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise NoLoopbackAlias("binding port 443 needs root") from None
    raise NoLoopbackAlias("no free 127.0.0.N:443")


class TLSUpstream(MockProvider):
    """The mock provider over TLS on 127.0.0.N:443, with its own CA."""

    def __init__(self, names: Iterable[str] = DEFAULT_NAMES, *, first_address: int = 2, **kwargs: Any) -> None:
        """``first_address``: the lowest N of 127.0.0.N to try (the benchmark starts high, out
        of the way of parallel test runs). The leaf names ``names`` and the address itself."""
        self._reserved: socket.socket | None = _free_loopback_443(first_address)
        host = self._reserved.getsockname()[0]
        self._tmp = tempfile.TemporaryDirectory(prefix="omniroute-upstream-ca-")
        self.ca = CertificateAuthority(Path(self._tmp.name) / "ca")
        self.ca.ensure()
        cert_pem, key_pem = self.ca.issue_leaf([*names, host])
        self.cert_pem = cert_pem
        self.cert_file = Path(self._tmp.name) / "leaf.pem"
        self.key_file = Path(self._tmp.name) / "leaf.key"
        self.cert_file.write_bytes(cert_pem)
        self.key_file.write_bytes(key_pem)
        super().__init__(host=host, port=443, **kwargs)

    @property
    def ca_file(self) -> Path:
        return self.ca.cert_path

    @property
    def leaf_der(self) -> bytes:
        return ssl.PEM_cert_to_DER_cert(self.cert_pem.decode())

    def _socket(self) -> socket.socket:
        sock, self._reserved = self._reserved, None
        if sock is None:
            raise RuntimeError("the stand-in upstream's address was given up (stopped or started before)")
        return sock

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        # uvicorn builds its SSL context when serving starts, from these two fields.
        self._server.config.ssl_certfile = str(self.cert_file)
        self._server.config.ssl_keyfile = str(self.key_file)
        super()._run(sock)

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        if self._reserved is not None:  # never started
            self._reserved.close()
            self._reserved = None
        self._tmp.cleanup()


class FakeDNS:
    """UDP DNS on 127.0.0.1: A queries get ``answers[name]`` (or ``default``); AAAA none."""

    def __init__(self, default: str | None, answers: Mapping[str, str] | None = None, ttl: int = 1) -> None:
        self.default = default
        self.answers = {k.lower().rstrip("."): v for k, v in (answers or {}).items()}
        self.ttl = ttl
        self.queries: list[tuple[str, str]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"fake-dns:{self.port}", daemon=True)
        self._stopped = threading.Event()

    def start(self) -> Self:
        self._sock.settimeout(0.2)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001, S112 - garbage in, nothing out, like a real server
                continue
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
            ip = self.answers.get(name, self.default)
            if ip is None:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.A:
                reply.answer.append(dns.rrset.from_text(question.name, self.ttl, "IN", "A", ip))
            self._sock.sendto(reply.to_wire(), peer)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(2)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """What to give OmniRoute so it resolves passthrough hosts here."""
        return {"OMNIROUTE_UPSTREAM_DNS": "127.0.0.1", "OMNIROUTE_UPSTREAM_DNS_PORT": str(self.port)}


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``host`` (SNI, Host header, certificate name) over a TCP connection to ``address``.

    What an agent does once the hosts file points its API host at OmniRoute.
    """

    def __init__(self, host: str, address: tuple[str, int], context: ssl.SSLContext, timeout: float = 30) -> None:
        super().__init__(host, 443, context=context, timeout=timeout)
        self._address = address
        self._context = context
        self.peer_der: bytes | None = None

    def connect(self) -> None:
        raw = socket.create_connection(self._address, self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)
        self.peer_der = self.sock.getpeercert(binary_form=True)
