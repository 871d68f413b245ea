"""Load generator, run as its own process: ``python -m benchmarks.load < spec.json``.

It never shares a process (or a GIL) with what it measures. A spec names *arms* (one target
each: a URL, optional proxy and CA, a body, a kind), a request count and time budget per arm,
a concurrency and a number of worker processes. Arms are interleaved in rounds, so drift in
the shared machine's load hits every target alike. Output (stdout): one JSON object with the
raw samples per arm. Every run is bounded in count *and* time, and only talks to loopback.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

LOOPBACK = ("127.", "localhost", "[::1]")
_FIRST_ERRORS: dict[str, str] = {}  # per arm, for the report (single-process runs)
WS_DONE = {"response.completed", "response.failed", "response.incomplete", "error"}


@dataclass(slots=True)
class Arm:
    name: str
    urls: list[str]  # several: client i uses urls[i % n] (N instances, client-side balancing)
    body: dict[str, Any]
    kind: str = "http"  # http | sse | ws
    proxy: str | None = None
    cafile: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Sample:
    total: float  # seconds from send to the last byte
    ttfb: float  # seconds from send to the first body byte (first frame on WebSocket)
    events: int  # SSE events / WebSocket frames (0 for plain JSON)
    ok: bool


@dataclass(slots=True)
class ArmResult:
    samples: list[list[float]] = field(default_factory=list)  # [total, ttfb, events, ok]
    wall: float = 0.0  # seconds the timed requests took, summed over rounds
    warmup: int = 0  # untimed requests made before the clock started (they still cost CPU)
    errors: list[str] = field(default_factory=list)
    round_sizes: list[int] = field(default_factory=list)  # samples of each round, in order


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if not host.startswith(LOOPBACK[0]) and host not in ("localhost", "::1"):
        raise SystemExit(f"load: refusing non-loopback target {url}")


def _client(arm: Arm, connections: int) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=arm.cafile) if arm.cafile else True
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(proxy=arm.proxy, verify=verify, limits=limits, timeout=30.0, trust_env=False)


async def _http_once(client: httpx.AsyncClient, arm: Arm, url: str, payload: bytes) -> Sample:
    headers = {"content-type": "application/json", **arm.headers}
    start = time.perf_counter()
    ttfb = 0.0
    events = 0
    first = b""
    async with client.stream("POST", url, content=payload, headers=headers) as response:
        async for chunk in response.aiter_raw():
            if not ttfb:
                ttfb, first = time.perf_counter() - start, chunk
            if arm.kind == "sse":
                events += chunk.count(b"\n\n")
    total = time.perf_counter() - start
    if response.status_code != 200:  # counted as an error, with what the target said
        raise RuntimeError(f"HTTP {response.status_code}: {first[:200]!r}")
    return Sample(total, ttfb or total, events, True)


class _WSClient:
    """One persistent socket; each request is a `response.create` frame, read to completion."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.conn: Any = None

    async def once(self, payload: str) -> Sample:
        import websockets

        if self.conn is None:
            self.conn = await websockets.connect(self.url, additional_headers=self.headers, max_size=None)
        start = time.perf_counter()
        await self.conn.send(payload)
        ttfb, events, ok = 0.0, 0, False
        while True:
            frame = json.loads(await self.conn.recv())
            events += 1
            if not ttfb:
                ttfb = time.perf_counter() - start
            if frame.get("type") in WS_DONE:
                ok = frame.get("type") == "response.completed"
                break
        if not ok:
            raise RuntimeError(f"WebSocket {frame.get('type')}: {json.dumps(frame)[:200]}")
        return Sample(time.perf_counter() - start, ttfb, events, ok)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


async def _worker_loop(arm: Arm, clients: int, offset: int, count: int, warmup: int,
                       deadline_s: float, start_at: Any, out: list[Sample]) -> float:
    """Run `count` timed requests over `clients` concurrent clients; returns the wall time."""
    if arm.kind == "ws":
        body = json.dumps({"type": "response.create", **arm.body})
        socks = [_WSClient(arm.urls[(offset + i) % len(arm.urls)], arm.headers) for i in range(clients)]

        async def one(i: int) -> Sample:
            return await socks[i].once(body)
    else:
        payload = json.dumps(arm.body).encode()
        client = _client(arm, clients)

        async def one(i: int) -> Sample:
            return await _http_once(client, arm, arm.urls[(offset + i) % len(arm.urls)], payload)

    errors: list[str] = []
    try:
        # Warm-up opens every client's connection (and TLS tunnel) before the clock starts.
        async def warm(i: int) -> None:
            for _ in range(max(1, warmup // clients)):  # sequential: a socket serves one call at a time
                await one(i)

        await asyncio.gather(*(warm(i) for i in range(clients)))
        if start_at is not None:
            start_at()  # line up with the other worker processes
        remaining = [count]
        deadline = time.perf_counter() + deadline_s
        begin = time.perf_counter()

        async def client_task(i: int) -> None:
            while remaining[0] > 0 and time.perf_counter() < deadline:
                remaining[0] -= 1
                try:
                    out.append(await one(i))
                except Exception as exc:  # noqa: BLE001 - counted, reported, never fatal
                    errors.append(f"{type(exc).__name__}: {exc}")
                    out.append(Sample(0.0, 0.0, 0, False))

        await asyncio.gather(*(client_task(i) for i in range(clients)))
        return time.perf_counter() - begin
    finally:
        if arm.kind == "ws":
            await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
        else:
            await client.aclose()
        if errors:
            out.append(Sample(-1.0, 0.0, 0, False))  # marker; the text goes to stderr
            print(f"load: {arm.name}: {len(errors)} errors, first: {errors[0]}", file=sys.stderr)
            _FIRST_ERRORS.setdefault(arm.name, errors[0])


def _process_main(arm: Arm, clients: int, offset: int, count: int, warmup: int, deadline_s: float,
                  barrier: Any, conn: Any) -> None:
    samples: list[Sample] = []
    wall = asyncio.run(_worker_loop(arm, clients, offset, count, warmup, deadline_s, barrier.wait, samples))
    conn.send((wall, [[s.total, s.ttfb, s.events, s.ok] for s in samples]))
    conn.close()


def run_arm(arm: Arm, count: int, concurrency: int, processes: int, warmup: int, deadline_s: float) -> tuple[float, list[list[float]]]:
    """`count` requests at `concurrency`, spread over `processes` forked workers."""
    processes = max(1, min(processes, concurrency))
    if processes == 1:
        samples: list[Sample] = []
        wall = asyncio.run(_worker_loop(arm, concurrency, 0, count, warmup, deadline_s, None, samples))
        return wall, [[s.total, s.ttfb, s.events, s.ok] for s in samples]
    ctx = mp.get_context("fork")  # the parent has no event loop running here, so fork is safe
    barrier = ctx.Barrier(processes)
    pipes, procs = [], []
    for p in range(processes):
        clients = concurrency // processes + (1 if p < concurrency % processes else 0)
        share = count // processes + (1 if p < count % processes else 0)
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_process_main, args=(arm, clients, p * clients, share, warmup,
                                                      deadline_s, barrier, child), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    walls, merged = [], []
    for parent, proc in zip(pipes, procs):
        if parent.poll(deadline_s + 60):
            wall, rows = parent.recv()
            walls.append(wall)
            merged.extend(rows)
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    return (max(walls) if walls else 0.0), merged


def _warmups(concurrency: int, processes: int, warmup: int) -> int:
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (1 if p < concurrency % processes else 0) for p in range(processes)]
    return sum(c * max(1, warmup // c) for c in shares)


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    arms = [Arm(**a) for a in spec["arms"]]
    for arm in arms:
        # Through a proxy the URL names a real host (api.openai.com); the proxy, which is
        # loopback, routes it to the engine or to the local stand-in upstream.
        for url in [arm.proxy] if arm.proxy else arm.urls:
            _check_loopback(url)
    rounds = max(1, int(spec.get("rounds", 1)))
    per_round = max(1, int(spec["requests"]) // rounds)
    budget = float(spec.get("max_seconds", 60.0)) / rounds  # per arm per round
    results = {arm.name: ArmResult() for arm in arms}
    for _ in range(rounds):
        for arm in arms:
            result = results[arm.name]
            concurrency, processes = int(spec.get("concurrency", 1)), int(spec.get("processes", 1))
            result.warmup += _warmups(concurrency, processes, int(spec.get("warmup", 5)))
            try:
                wall, rows = run_arm(arm, per_round, int(spec.get("concurrency", 1)),
                                     int(spec.get("processes", 1)), int(spec.get("warmup", 5)), budget)
            except Exception as exc:  # noqa: BLE001 - a broken target is reported, not fatal
                result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            result.wall += wall
            result.round_sizes.append(sum(1 for row in rows if row[0] >= 0))
            for row in rows:
                if row[0] < 0:
                    result.errors.append(_FIRST_ERRORS.get(arm.name, "errors (see the bench log)"))
                else:
                    result.samples.append(row)
    return {name: asdict(r) for name, r in results.items()}


def generate_load(spec: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    """Run this module as its own process with ``spec``; the raw samples per arm."""
    timeout = float(spec.get("max_seconds", 60.0)) * len(spec["arms"]) + 120
    done = subprocess.run([sys.executable, "-m", "benchmarks.load"], check=False, input=json.dumps(spec),
                          capture_output=True, text=True, timeout=timeout)
    if done.stderr.strip():
        log(done.stderr.strip()[-800:])
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> int:
    spec = json.load(sys.stdin)
    json.dump(run_spec(spec), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
