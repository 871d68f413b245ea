"""Exhaustion: idle and slowloris clients on every listener, and live inspector listeners
(docs/RELIABILITY.md, "Limits"). A real `omniroute run` with small limits, loopback only."""

from __future__ import annotations

import select
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.harness import OmniRouteProcess
from tests.support.inspector_support import BASE

HEADER_TIMEOUT_S = 1
MAX_LISTENERS = 20
QUEUE = 4
IDLE, SLOWLORIS = 50, 20
# Far past the header timeout; without one, every socket is still open here.
CLOSE_BUDGET_S = 20.0


@pytest.fixture(scope="module")
def proc() -> Iterator[OmniRouteProcess]:
    env = {
        "OMNIROUTE_HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
        "OMNIROUTE_INSPECTOR_MAX_LISTENERS": str(MAX_LISTENERS),
        "OMNIROUTE_INSPECTOR_LISTENER_QUEUE": str(QUEUE),
    }
    with OmniRouteProcess(demo=True, env=env) as proc:
        yield proc


def _open(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        socks.append(sock)
    return socks


def _closed_by_server(sock: socket.socket) -> bool:
    """Read what is there; True once the server has closed (EOF or reset)."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


@pytest.mark.parametrize("listener", ["api", "http-proxy", "agent-bridge"])
def test_idle_and_slowloris_clients_are_closed_at_the_header_timeout(proc: OmniRouteProcess, listener: str) -> None:
    port = {"api": proc.api_port, "http-proxy": proc.proxy_port, "agent-bridge": proc.bridge_port}[listener]
    idle = _open(port, IDLE)
    slow = _open(port, SLOWLORIS)
    for sock in slow:  # a request line, then headers one byte at a time, forever
        sock.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    open_socks = set(idle + slow)
    deadline = time.monotonic() + CLOSE_BUDGET_S
    try:
        while open_socks and time.monotonic() < deadline:
            for sock in slow:
                if sock in open_socks:
                    try:
                        sock.send(b"X")
                    except OSError:
                        open_socks.discard(sock)
            readable, _, _ = select.select(list(open_socks), [], [], 0.3)
            open_socks -= {sock for sock in readable if _closed_by_server(sock)}
        assert not open_socks, (
            f"{len(open_socks & set(idle))} idle and {len(open_socks & set(slow))} slowloris "
            f"connections to the {listener} listener still open after {CLOSE_BUDGET_S} s"
        )
    finally:
        for sock in idle + slow:
            sock.close()
    with proc.api() as api:  # and the listener still serves
        assert api.get("/health").status_code == 200


def test_a_keep_alive_client_is_not_cut_by_the_header_timeout(proc: OmniRouteProcess) -> None:
    with httpx.Client(base_url=proc.api_url, trust_env=False) as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
            time.sleep(HEADER_TIMEOUT_S * 1.5)  # idle between requests: the keep-alive timeout's job


def _listener(proc: OmniRouteProcess) -> ClientConnection:
    return connect(f"ws://127.0.0.1:{proc.api_port}{BASE}/ws", open_timeout=10)


def _ingest(proc: OmniRouteProcess, rows: int) -> None:
    token = (proc.home / "inspector-ingest.token").read_text().strip()
    batch = [{"id": str(uuid.uuid4()), "source": "http-proxy", "timestamp": "2026-01-02T03:04:05.000Z",
              "method": "POST", "host": "api.example-llm.com", "path": "/v1/chat/completions", "status": 200,
              "requestHeaders": {}, "requestSize": 0, "responseHeaders": {}, "responseSize": 0}
             for _ in range(rows)]
    with proc.api() as api:
        response = api.post(f"{BASE}/internal/ingest", json=batch, headers={"x-inspector-ingest-token": token})
        assert response.status_code == 204, response.text


def test_live_listeners_are_capped_and_a_slow_one_is_dropped(proc: OmniRouteProcess) -> None:
    sockets: list[ClientConnection] = []
    try:
        refused = 0
        for _ in range(200):
            ws = _listener(proc)
            sockets.append(ws)
            try:
                first = ws.recv(timeout=10)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1013, closed
                assert "OMNIROUTE_INSPECTOR_MAX_LISTENERS" in closed.rcvd.reason
                refused += 1
            else:
                assert '"type": "snapshot"' in str(first)
        assert refused == 200 - MAX_LISTENERS
        # None of the accepted listeners reads: a burst past twice their queue drops them all,
        # and their slots are free again.
        _ingest(proc, 3 * QUEUE)
        accepted = [ws for ws in sockets if ws.close_code is None][:MAX_LISTENERS]
        for ws in accepted:
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    ws.recv(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1013
            assert "too slow" in info.value.rcvd.reason
        fresh = _listener(proc)
        sockets.append(fresh)
        assert '"type": "snapshot"' in str(fresh.recv(timeout=10))
    finally:
        for ws in sockets:
            ws.close()
