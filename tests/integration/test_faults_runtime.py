"""The running process under faults: storms, timeouts, resets, garbage upstream, a locked
database, a taken port, a corrupt CA, and ``kill -9`` at bad moments.

Every answer is either a success or an error in the client's own format (never a 500
"internal error", never a stack trace); nothing recorded is lost or corrupted.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.harness import OmniRouteProcess, free_port, wait_until
from tests.support.inspector_support import BASE, proxied_http
from tests.support.mock_provider import MockProvider

MSG = [{"role": "user", "content": "fault test"}]
OMNIROUTE = str(Path(sys.executable).parent / "omniroute")



def fd_count(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


@pytest.fixture(scope="module")
def env() -> Iterator[tuple[OmniRouteProcess, MockProvider, httpx.Client]]:
    with MockProvider() as mock, OmniRouteProcess(proxy=False, bridge=False) as proc, proc.api() as api:
        for name, provider, path, extra in (("oa", "openai", "/v1", {}), ("an", "anthropic", "", {}),
                                            ("short", "openai", "/v1", {"timeoutSeconds": 1.0})):
            body = {"provider": provider, "name": name, "url": mock.url + path, "apiKey": f"sk-{name}-00001", **extra}
            assert api.post("/api/providers", json=body).status_code == 201
        yield proc, mock, api


@pytest.fixture(autouse=True)
def fresh(env: Any) -> Iterator[None]:
    _, mock, api = env
    mock.clear_faults()
    mock.clear()
    yield
    mock.clear_faults()
    api.post("/api/resilience/reset", json={})


def check_answer(response: httpx.Response, fmt: str) -> None:
    """A success, or an error in ``fmt``'s own shape that is not our own crash."""
    assert "Traceback" not in response.text
    if response.status_code == 200:
        return
    body = response.json()
    if fmt == "anthropic":
        assert body["type"] == "error" and body["error"]["message"]
    else:
        assert body["error"]["message"] and body["error"]["type"]
    assert "internal error" not in response.text, response.text


def call(api: httpx.Client, fmt: str, model: str, stream: bool = False, **headers: str) -> httpx.Response:
    api.post("/api/resilience/reset", json={})  # each call meets the upstream, not a cooldown
    path = "/v1/messages" if fmt == "anthropic" else "/v1/chat/completions"
    body: dict[str, Any] = {"model": model, "messages": MSG, "stream": stream}
    if fmt == "anthropic":
        body["max_tokens"] = 16
    response = api.post(path, json=body, headers=headers)
    response.read()
    return response


# --------------------------------------------------------------------------- storms


@pytest.mark.parametrize("status", [429, 500, 503])
def test_error_storm_every_request_is_answered_in_its_format(env: Any, status: int) -> None:
    proc, mock, _ = env
    mock.add_fault(status, retry_after=1 if status == 429 else None, model=f"storm-{status}")
    jobs = [(fmt, stream) for fmt in ("openai-chat", "anthropic") for stream in (False, True)] * 15

    def one(job: tuple[str, bool]) -> tuple[int, str]:
        fmt, stream = job
        with httpx.Client(base_url=proc.api_url, timeout=30, trust_env=False) as client:
            path = "/v1/messages" if fmt == "anthropic" else "/v1/chat/completions"
            body = {"model": f"oa/storm-{status}", "messages": MSG, "stream": stream, "max_tokens": 16}
            response = client.post(path, json=body)
        check_answer(response, fmt)
        return response.status_code, fmt

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, jobs))
    assert len(results) == len(jobs)
    # The first calls reach the upstream; then cooldown/breaker answer 503 without asking it.
    assert {code for code, _ in results} <= {status, 503}
    assert len(mock.requests) <= len(jobs)


# --------------------------------------------------------------------------- timeouts, resets, garbage


def test_connect_refused_is_a_clear_502(env: Any) -> None:
    _, _, api = env
    dead = free_port()  # nothing listens there
    created = api.post("/api/providers", json={"provider": "openai", "name": "dead", "url": f"http://127.0.0.1:{dead}/v1"})
    try:
        for fmt in ("openai-chat", "anthropic"):
            response = call(api, fmt, "dead/m")
            assert response.status_code == 502
            check_answer(response, fmt)
            assert "connect" in response.text
    finally:
        api.delete(f"/api/providers/{created.json()['id']}")


def test_connect_timeout_is_a_clear_error(env: Any) -> None:
    """A listener whose accept queue is full never completes the handshake."""
    _, _, api = env
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(8):  # bounded: fill the backlog so later SYNs go unanswered
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        created = api.post("/api/providers", json={"provider": "openai", "name": "blackhole",
                                                   "url": f"http://127.0.0.1:{port}/v1", "timeoutSeconds": 1.0})
        try:
            started = time.monotonic()
            response = call(api, "openai-chat", "blackhole/m")
            assert time.monotonic() - started < 20
            assert response.status_code in (502, 504)
            check_answer(response, "openai-chat")
        finally:
            api.delete(f"/api/providers/{created.json()['id']}")
            for filler in fillers:
                filler.close()


@pytest.mark.parametrize("stream", [False, True])
def test_read_timeout_is_504_in_format(env: Any, stream: bool) -> None:
    _, mock, api = env
    mock.add_fault(delay_ms=3000, model="sleepy")
    for fmt in ("openai-chat", "anthropic"):
        response = call(api, fmt, "short/sleepy", stream)
        assert response.status_code == 504, response.text
        check_answer(response, fmt)
        assert "timeout" in response.text.lower()


def test_slow_upstream_is_waited_for(env: Any) -> None:
    _, mock, api = env
    mock.add_fault(delay_ms=1500, event_delay_ms=50, model="slowpoke")
    for stream in (False, True):
        response = call(api, "openai-chat", "oa/slowpoke", stream)
        assert response.status_code == 200, response.text
        assert ("[DONE]" in response.text) if stream else response.json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize("mode", ["fin", "rst"])
@pytest.mark.parametrize("stream", [False, True])
def test_reset_before_the_first_byte_is_502_in_format(env: Any, mode: str, stream: bool) -> None:
    _, mock, api = env
    mock.add_fault(reset_after=0, reset_mode=mode, model="resetter")  # type: ignore[arg-type]
    for fmt in ("openai-chat", "anthropic"):
        response = call(api, fmt, "oa/resetter", stream)
        assert response.status_code == 502, response.text
        check_answer(response, fmt)


@pytest.mark.parametrize("fmt", ["openai-chat", "anthropic"])
def test_reset_after_the_first_byte_ends_the_stream_with_an_error_event(env: Any, fmt: str) -> None:
    _, mock, api = env
    mock.add_fault(reset_after=3, reset_mode="rst", model="midway")
    response = call(api, fmt, "oa/midway", True)
    assert response.status_code == 200
    text = response.text
    assert "error" in text.split("\n\n")[-2] or "error" in text.split("\n\n")[-3]
    assert "Traceback" not in text


@pytest.mark.parametrize("fmt", ["openai-chat", "anthropic"])
def test_malformed_upstream_json_is_a_clear_502(env: Any, fmt: str) -> None:
    _, mock, api = env
    mock.add_fault(malformed="json", model="garbled")
    for connection in ("oa", "an"):
        response = call(api, fmt, f"{connection}/garbled")
        assert response.status_code == 502, response.text
        check_answer(response, fmt)
        assert "malformed" in response.text


@pytest.mark.parametrize("fmt", ["openai-chat", "anthropic"])
def test_malformed_upstream_sse_never_crashes_the_stream(env: Any, fmt: str) -> None:
    _, mock, api = env
    mock.add_fault(malformed="sse", model="garbled-sse")
    for connection in ("oa", "an"):
        response = call(api, fmt, f"{connection}/garbled-sse", True)
        assert response.status_code in (200, 502), response.text
        assert "Traceback" not in response.text and "internal error" not in response.text


# --------------------------------------------------------------------------- disconnects and fds


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
def test_client_disconnects_mid_stream_leak_nothing(env: Any) -> None:
    proc, mock, api = env
    pid = proc.process.pid
    assert call(api, "openai-chat", "oa/warm", True).status_code == 200
    time.sleep(0.5)
    baseline = fd_count(pid)
    mock.add_fault(event_delay_ms=300, model="longstream")
    for i in range(10):
        fmt = "anthropic" if i % 2 else "openai-chat"
        with httpx.Client(base_url=proc.api_url, timeout=30, trust_env=False) as client:
            path = "/v1/messages" if fmt == "anthropic" else "/v1/chat/completions"
            body = {"model": "oa/longstream", "messages": MSG, "stream": True, "max_tokens": 16}
            with client.stream("POST", path, json=body) as response:
                next(response.iter_raw())  # the first event, then hang up
    # The mock sees every upstream connection closed; our fds return to the baseline.
    wait_until(lambda: fd_count(pid) <= baseline, 10.0, f"fds back to {baseline} (now {fd_count(pid)})")
    logs = api.get("/api/usage/call-logs", params={"model": "oa/longstream", "limit": 50}).json()
    wait_until(lambda: api.get("/api/usage/call-logs", params={"model": "oa/longstream"}).json()["total"] == 10,
               10.0, "a usage row per disconnected stream")
    assert all(item["status"] == 499 for item in logs["items"])


# --------------------------------------------------------------------------- database locked


def test_locked_database_requests_served_and_usage_rows_written_later(env: Any) -> None:
    proc, _, api = env
    before = api.get("/api/usage/call-logs", params={"limit": 1}).json()["total"]
    lock = sqlite3.connect(proc.home / "omniroute.db", timeout=10, isolation_level=None)
    statuses: list[int] = []
    try:
        lock.execute("BEGIN EXCLUSIVE")
        lock.execute("CREATE TABLE IF NOT EXISTS _lock_probe (x)")  # hold a write lock
        started = time.monotonic()
        for i in range(20):
            statuses.append(call(api, "anthropic" if i % 3 else "openai-chat", "oa/locked", bool(i % 2)).status_code)
        assert time.monotonic() - started < 15, "requests must not wait for the database"
        time.sleep(2.0)  # the writer retries meanwhile
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert statuses == [200] * 20
    wait_until(lambda: api.get("/api/usage/call-logs", params={"limit": 1}).json()["total"] == before + 20,
               15.0, "the queued usage rows")
    assert api.get("/api/usage/call-logs", params={"model": "oa/locked"}).json()["total"] == 20


# --------------------------------------------------------------------------- start-up problems


def test_taken_listener_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        proc = OmniRouteProcess(tmp_path / "home", proxy=False, bridge=False)
        proc.api_port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as failed:
            proc.start(timeout=60)
    output = proc.log().strip()
    assert "Traceback" not in output
    last = output.splitlines()[-1]
    assert str(proc.api_port) in last and "already in use" in last and "--api-port" in last
    assert proc.process is None or proc.process.poll() is not None
    assert "exited with 2" in str(failed.value)


def test_corrupt_ca_named_and_fixed_by_cert_regenerate(tmp_path: Path) -> None:
    home = tmp_path / "home"
    OmniRouteProcess(home, proxy=False, bridge=False).start(timeout=60).stop()
    key = home / "certs" / "mitmproxy-ca.pem"
    key.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\ngarbage\n-----END RSA PRIVATE KEY-----\n")
    broken = OmniRouteProcess(home, proxy=False, bridge=False)
    with pytest.raises(RuntimeError):
        broken.start(timeout=60)
    output = broken.log().strip()
    assert "Traceback" not in output and str(key) in output and "omniroute cert regenerate" in output
    fixed = subprocess.run([OMNIROUTE, "cert", "regenerate", "--home", str(home)], capture_output=True, check=False,
                           text=True, timeout=60)
    assert fixed.returncode == 0, fixed.stderr
    OmniRouteProcess(home, proxy=False, bridge=False).start(timeout=60).stop()


# --------------------------------------------------------------------------- kill -9


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_kill_9_during_a_recording_session_keeps_what_was_recorded(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with MockProvider() as mock:
        proc = OmniRouteProcess(home, bridge=False).start(timeout=60)
        with proc.api() as api:
            session = api.post(f"{BASE}/sessions", json={"name": "crash"}).json()
        with proxied_http(proc) as http:
            for i in range(20):
                assert http.post(f"{mock.url}/v1/chat/completions",
                                 json={"model": f"rec-{i}", "messages": MSG}).status_code == 200
        with proc.api() as api:
            wait_until(lambda: api.get(f"{BASE}/sessions/{session['id']}").json()["request_count"] >= 20,
                       15.0, "the first 20 rows recorded")
        stop = threading.Event()

        def traffic() -> None:  # still recording when the process dies
            with proxied_http(proc, timeout=5) as http:
                for i in range(200):
                    if stop.is_set():
                        return
                    try:
                        http.post(f"{mock.url}/v1/chat/completions", json={"model": f"late-{i}", "messages": MSG})
                    except httpx.HTTPError:
                        return

        worker = threading.Thread(target=traffic, daemon=True)
        worker.start()
        time.sleep(0.5)
        proc.stop(signal.SIGKILL)
        stop.set()
        worker.join(10)
        assert integrity(home / "omniroute.db") == "ok"
        again = OmniRouteProcess(home, bridge=False).start(timeout=60)
        try:
            with again.api() as api:
                kept = api.get(f"{BASE}/sessions/{session['id']}").json()
                har = api.get(f"{BASE}/sessions/{session['id']}/export.har").json()
            assert kept["request_count"] >= 20 and len(har["log"]["entries"]) >= 20
            models = {json.loads(e["request"]["postData"]["text"])["model"] for e in har["log"]["entries"]}
            assert {f"rec-{i}" for i in range(20)} <= models
        finally:
            again.close()
        assert integrity(home / "omniroute.db") == "ok"


def test_kill_9_during_the_first_migration_then_a_clean_start(tmp_path: Path) -> None:
    for round_, delay in enumerate((0.15, 0.3, 0.6, 1.0)):
        home = tmp_path / f"home-{round_}"
        proc = OmniRouteProcess(home, proxy=False, bridge=False)
        env = {"OMNIROUTE_HOSTS_FILE": str(home / "hosts"), "PATH": "/usr/bin:/bin"}
        home.mkdir(parents=True)
        killed = subprocess.Popen(proc.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**__import__("os").environ, **env})
        deadline = time.monotonic() + 20
        while not (home / "omniroute.db").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        db = home / "omniroute.db"
        if db.exists():
            assert integrity(db) == "ok"
        proc.start(timeout=60)
        try:
            with proc.api() as api:
                assert api.get("/api/combos").status_code == 200
                assert api.post("/api/providers", json={"provider": "openai", "name": "after",
                                                        "url": "http://127.0.0.1:9/v1"}).status_code == 201
        finally:
            proc.close()
        assert integrity(db) == "ok"
