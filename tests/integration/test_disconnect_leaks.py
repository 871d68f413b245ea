"""A client that hangs up mid-request leaks nothing: no asyncio task, no upstream connection,
no file descriptor, and its usage row is still written (status 499).

The process-level test (``test_faults_runtime.py::test_client_disconnects_mid_stream_leak_nothing``)
sees only file descriptors from outside. Here the runtime serves its API on a real loopback
port from an event loop in a thread of the test process, so the test can also list that
loop's tasks and this process's sockets to the upstream. Clients and the mock provider talk
to it over real TCP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.harness import wait_until
from tests.support.mock_provider import MockProvider

from .served_runtime import ServedRuntime

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")

MSG = [{"role": "user", "content": "hang up on me"}]
# (client format, connection): the second pair is translated both ways.
ROUTES = [("openai-chat", "oa"), ("anthropic", "an"), ("openai-chat", "an"), ("anthropic", "oa")]


def upstream_sockets(port: int) -> int:
    """Open client-side TCP connections to ``port`` (OmniRoute's, to the mock)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            remote, state = int(parts[2].split(":")[-1], 16), parts[3]
            if remote == port and state in ("01", "08"):  # ESTABLISHED, CLOSE_WAIT
                count += 1
    return count


def fd_count() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedRuntime, MockProvider]]:
    with MockProvider() as mock, ServedRuntime(tmp_path_factory.mktemp("served") / "home") as served:
        with httpx.Client(base_url=served.url, timeout=30, trust_env=False) as api:
            for name, provider, path in (("oa", "openai", "/v1"), ("an", "anthropic", "")):
                body = {"provider": provider, "name": name, "url": mock.url + path, "apiKey": f"sk-{name}-leak-0001"}
                assert api.post("/api/providers", json=body).status_code == 201
        yield served, mock


def _request(fmt: str, connection: str, model: str) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"model": f"{connection}/{model}", "messages": MSG, "stream": True}
    if fmt == "anthropic":
        body["max_tokens"] = 16
        return "/v1/messages", body
    return "/v1/chat/completions", body


def _settle(served: ServedRuntime, mock: MockProvider) -> tuple[list[str], int, int]:
    """Complete one stream per route, then the steady state: tasks, upstream sockets, fds."""
    mock.clear_faults()
    with httpx.Client(base_url=served.url, timeout=30, trust_env=False) as client:
        for fmt, connection in ROUTES:
            path, body = _request(fmt, connection, "warm")
            assert client.post(path, json=body).status_code == 200
    time.sleep(0.5)
    return served.tasks(), upstream_sockets(mock.port), fd_count()


def _call_logs(served: ServedRuntime, model: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=served.url, timeout=30, trust_env=False) as api:
        items = api.get("/api/usage/call-logs", params={"limit": 1000}).json()["items"]
    return [row for row in items if row["modelRequested"].endswith(f"/{model}")]


def _assert_nothing_left(served: ServedRuntime, mock: MockProvider, baseline: tuple[list[str], int, int],
                         model: str, hung_up: int) -> None:
    tasks, sockets, fds = baseline
    wait_until(lambda: len(served.tasks()) <= len(tasks), 10.0,
               lambda: f"tasks {served.tasks()} vs baseline {tasks}")
    wait_until(lambda: upstream_sockets(mock.port) <= sockets, 10.0,
               lambda: f"{upstream_sockets(mock.port)} upstream connections open, baseline {sockets}")
    wait_until(lambda: fd_count() <= fds, 10.0, lambda: f"{fd_count()} fds open, baseline {fds}")
    wait_until(lambda: len(_call_logs(served, model)) == hung_up, 10.0,
               lambda: f"usage rows {_call_logs(served, model)}")
    rows = _call_logs(served, model)
    assert {(row["status"], row["error"]) for row in rows} == {(499, "client disconnected")}


def test_hang_up_mid_stream_leaves_no_task_connection_or_descriptor(served: Any) -> None:
    runtime, mock = served
    baseline = _settle(runtime, mock)
    mock.add_fault(event_delay_ms=300, model="hangup-stream")  # a ~10 s stream
    for fmt, connection in ROUTES * 3:
        path, body = _request(fmt, connection, "hangup-stream")
        with (httpx.Client(base_url=runtime.url, timeout=30, trust_env=False) as client,
              client.stream("POST", path, json=body) as response):
            assert response.status_code == 200
            chunks = response.iter_raw()
            assert next(chunks)  # the first event has arrived: the upstream stream is live
        # Leaving the block closed our connection in the middle of the stream.
    _assert_nothing_left(runtime, mock, baseline, "hangup-stream", len(ROUTES) * 3)


def test_hang_up_before_the_first_byte_cancels_the_upstream_call(served: Any) -> None:
    runtime, mock = served
    baseline = _settle(runtime, mock)
    mock.add_fault(delay_ms=5000, model="hangup-wait")  # the upstream thinks for 5 s
    for fmt, connection in ROUTES:
        path, body = _request(fmt, connection, "hangup-wait")
        with pytest.raises(httpx.ReadTimeout), httpx.Client(base_url=runtime.url, timeout=0.5, trust_env=False) as c:
            c.post(path, json=body)
    started = time.monotonic()
    _assert_nothing_left(runtime, mock, baseline, "hangup-wait", len(ROUTES))
    # Cancelled, not waited out: everything was gone well before the upstream would answer.
    assert time.monotonic() - started < 4.0
