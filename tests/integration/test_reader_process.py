"""The Usage page's reads run in a reader process of their own, at a lower priority, through a
real `omniroute run`: its Python takes nothing from the interpreter that carries the agents'
calls (`omniroute/db/read_worker.py`). If the reader dies, the next read starts a new one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from omniroute.db.read_worker import READER_NICE
from tests.support.harness import OmniRouteProcess, wait_until

PAGE = (("/api/usage/call-logs", {"limit": 5}), ("/api/usage/analytics", {"period": "week"}),
        ("/api/usage/charts", {"period": "week", "by": "model"}), ("/api/usage/logs", {"status": "ok"}))
CHAT = {"model": "demo/echo", "messages": [{"role": "user", "content": "hello reader"}]}


@pytest.fixture(scope="module")
def omni() -> Iterator[OmniRouteProcess]:
    with OmniRouteProcess(demo=True, proxy=False, bridge=False) as process:
        yield process


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def opened(pid: int) -> set[str]:
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            names.add(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    return names


def read_page(api: httpx.Client) -> None:
    for path, params in PAGE:
        reply = api.get(path, params=params)
        assert reply.status_code == 200, (path, reply.text)


def reader_of(omni: OmniRouteProcess) -> int:
    assert omni.process is not None
    database = str(omni.home / "omniroute.db")
    found: list[int] = []

    def the_reader() -> bool:
        found[:] = [pid for pid in children(omni.process.pid) if database in opened(pid)]  # type: ignore[union-attr]
        return len(found) == 1

    wait_until(the_reader, 30, "a reader process with the database open")
    return found[0]


def test_the_usage_pages_reads_run_in_a_lower_priority_process(omni: OmniRouteProcess) -> None:
    with omni.api() as api:
        assert api.post("/v1/chat/completions", json=CHAT).status_code == 200
        read_page(api)
        reader = reader_of(omni)
        assert os.getpriority(os.PRIO_PROCESS, reader) >= READER_NICE
        logs = api.get("/api/usage/call-logs", params={"limit": 5}).json()
        assert logs["total"] >= 1 and logs["items"][0]["modelRequested"] == "demo/echo"
        week = api.get("/api/usage/analytics", params={"period": "week"}).json()
        assert week["totals"]["requests"] >= 1 and any("echo" in model for model in week["byModel"]), week


def test_a_dead_reader_is_replaced_and_no_read_fails(omni: OmniRouteProcess) -> None:
    with omni.api() as api:
        read_page(api)
        first = reader_of(omni)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: first not in children(omni.process.pid), 10, "the reader to be gone")  # type: ignore[union-attr]
        read_page(api)
        assert reader_of(omni) != first
        bad = api.get("/api/usage/call-logs", params={"status": "sometimes"})
        assert bad.status_code == 422 and "'ok' (< 400)" in bad.text
    assert "the reader process stopped" in omni.log()
