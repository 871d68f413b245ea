"""What the Traffic Inspector's capture costs: latency added to a proxied call, and memory.

``python -m omniroute.bench.capture_overhead [--requests 600] [--flows 10000] [--body-kb 100]
[--ring-size 1000] [--concurrency 4] [--baseline]``

Processes on loopback: the mock provider and a real ``omniroute run`` mapping agent codex (``*``)
to it, so each call is an agent call made through the HTTP_PROXY listener to
https://api.openai.com (TLS intercepted, rewritten, routed by the engine to the mock) with a
``--body-kb`` request body. ``--baseline`` adds a process started with
``OMNIROUTE_INSPECTOR_ENABLED=false`` for a memory comparison.

1. Latency: one process, capture switched off and on (``capture-modes/capture``, the runtime
   form of ``inspector_enabled``) between blocks of 10 sequential calls on one keep-alive client,
   so the same process, heap and connections serve both sides and machine load drifts over both
   alike. (Two processes, one started with ``inspector_enabled=false``, differ by ±1.5 ms from
   each other even with capture off in both: that is why.) Reported: p50/p99 of each side and the
   added p50 (target < 0.3 ms). Also, in this process, the time spent inside the capture hooks on
   a real mitmproxy flow (what runs before the flow is forwarded) vs the deferred body work.
2. Memory: ``--flows`` calls with ``--body-kb`` bodies through the capture-on process; its
   resident memory is sampled as they go. The ring keeps ``--ring-size`` rows, so memory must
   plateau once the ring is full instead of growing with the number of flows.

Prints markdown tables headed by the command line.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from omniroute.testing.harness import OmniRouteProcess

URL = "https://api.openai.com/v1/chat/completions"
BASE = "/api/tools/traffic-inspector"
EXTRA_ENV: dict[str, str] = {}  # for experiments (e.g. MALLOC_ARENA_MAX)


def _words(kb: int) -> str:
    vocab = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")
    out, size, i = [], 0, 0
    while size < kb * 1024:
        word = f"{vocab[i % len(vocab)]}{i}"
        out.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(out)


def _body(kb: int) -> bytes:
    return json.dumps({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are a benchmark."},
        {"role": "user", "content": _words(kb)}]}).encode()


def _start_mock() -> tuple[subprocess.Popen[str], str]:
    mock = subprocess.Popen([sys.executable, "-m", "omniroute.testing.mock_provider", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert mock.stdout is not None
    for line in mock.stdout:
        if "listening on" in line:
            return mock, line.rsplit(" ", 1)[-1].strip()
    raise RuntimeError("mock provider did not start")


def _omniroute(mock_url: str, enabled: bool, ring_size: int) -> OmniRouteProcess:
    env = {**EXTRA_ENV, "OMNIROUTE_INSPECTOR_ENABLED": "true" if enabled else "false",
           "OMNIROUTE_INSPECTOR_RING_SIZE": str(ring_size), "OMNIROUTE_LOG_LEVEL": "warning"}
    proc = OmniRouteProcess(bridge=False, env=env).start(timeout=300)
    proc.add_provider("openai", "bench", f"{mock_url}/v1", api_key="sk-bench-provider-0001")
    proc.map_models("codex", {"*": "bench/bench-model"})
    return proc


def _client(proc: OmniRouteProcess) -> httpx.Client:
    return httpx.Client(proxy=proc.proxy_url, verify=proc.ssl_context(), trust_env=False, timeout=60,
                        headers={"authorization": "Bearer sk-agent-bench-0001", "content-type": "application/json"})


def _call(client: httpx.Client, body: bytes) -> float:
    started = time.perf_counter()
    response = client.post(URL, content=body)
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"bench call failed: {response.status_code} {response.text[:300]}")
    return elapsed


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- in-process: the hooks themselves ----------------------------------------------------------
def hook_costs(body: bytes, rounds: int = 300) -> dict[str, float]:
    """p50 µs of the request hook (before forwarding) and of the deferred work, on real flows."""
    from mitmproxy.test import tflow, tutils

    from omniroute.inspector.capture import DEFER_DELAY, Capture
    from omniroute.inspector.masking import Masker
    from omniroute.inspector.ring import Ring

    class TimedCapture(Capture):
        def _complete_response(self, *args: Any) -> None:
            start = time.perf_counter()
            super()._complete_response(*args)
            capture_time.append(time.perf_counter() - start)

    capture = TimedCapture(Ring(1000), Masker(), 1024 * 1024)
    capture_time: list[float] = []
    hot, deferred = [], []
    for _ in range(rounds):
        flow = tflow.tflow(req=tutils.treq(host="api.openai.com", path="/v1/chat/completions",
                                           method=b"POST", content=body,
                                           headers=((b"authorization", b"Bearer sk-agent-bench-0001"),
                                                    (b"content-type", b"application/json"))))
        flow.response = tutils.tresp(content=b'{"choices": []}')
        # Inside a running loop the hook defers; time the hook and the deferred part apart.
        import asyncio

        async def once(flow: Any = flow) -> None:
            t0 = time.perf_counter()
            pending = capture.request(flow, "http-proxy", "codex")
            capture.response(flow, pending, None)
            t1 = time.perf_counter()
            await asyncio.sleep(DEFER_DELAY * 2)  # the loop runs the deferred work meanwhile
            hot.append((t1 - t0) * 1e6)
            deferred.append(capture_time[-1] * 1e6)

        asyncio.run(once())
    return {"hook_p50_us": statistics.median(hot), "deferred_p50_us": statistics.median(deferred)}


# -- phases -------------------------------------------------------------------------------------
def latency(proc: OmniRouteProcess, body: bytes, requests: int, gap_s: float = 0.0, block: int = 10) -> dict[str, Any]:
    """One process, capture switched on and off between blocks of calls (the `capture` mode):
    the same process, connections and heap serve both sides, so only capture differs."""
    samples: dict[str, list[float]] = {"on": [], "off": []}
    cycle_diffs: list[float] = []
    toggle = f"{BASE}/capture-modes/capture"
    with _client(proc) as client, proc.api() as api:
        for _ in range(20):  # warm up: TLS, connections, caches
            _call(client, body)
        for cycle in range(max(requests // block, 1)):
            medians = {}
            for side in (("on", "off") if cycle % 2 == 0 else ("off", "on")):  # neither always first
                api.post(toggle, json={"enabled": side == "on"}).raise_for_status()
                times = []
                for _ in range(block):
                    times.append(_call(client, body))
                    time.sleep(gap_s)  # an agent's think time; 0 = back to back
                samples[side] += times
                medians[side] = statistics.median(times)
            cycle_diffs.append(medians["on"] - medians["off"])
        api.post(toggle, json={"enabled": True}).raise_for_status()
    out: dict[str, Any] = {name: {"p50": statistics.median(v), "p99": _pct(v, 0.99), "n": len(v)}
                           for name, v in samples.items()}
    out["paired"] = statistics.median(cycle_diffs)  # adjacent blocks: slow drift cancels
    return out


def memory(proc: OmniRouteProcess, body: bytes, flows: int, concurrency: int) -> list[dict[str, Any]]:
    assert proc.process is not None
    pid = proc.process.pid
    with proc.api() as api:
        ring0 = api.get(f"{BASE}/requests", params={"limit": 1}).json()["total"]
    points = [{"flows": 0, "rss": _rss_mb(pid), "ring": ring0}]
    step = max(flows // 10, 1)
    clients = [_client(proc) for _ in range(concurrency)]
    done = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            while done < flows:
                batch = min(step, flows - done)
                list(pool.map(lambda i: _call(clients[i % concurrency], body), range(batch)))
                done += batch
                with proc.api() as api:
                    ring = api.get(f"{BASE}/requests", params={"limit": 1}).json()["total"]
                points.append({"flows": done, "rss": _rss_mb(pid), "ring": ring})
    finally:
        for client in clients:
            client.close()
    return points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="latency samples per side")
    parser.add_argument("--flows", type=int, default=10_000, help="flows for the memory phase")
    parser.add_argument("--body-kb", type=int, default=100)
    parser.add_argument("--ring-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="clients in the memory phase")
    parser.add_argument("--gap-ms", type=float, default=20.0,
                        help="pause between calls for the second latency run (the first is back to back)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run the memory phase on a process started with inspector_enabled=false")
    args = parser.parse_args(argv)
    body = _body(args.body_kb)
    command = "python -m omniroute.bench.capture_overhead " + shlex.join(sys.argv[1:] if argv is None else argv)

    mock, mock_url = _start_mock()
    procs: list[OmniRouteProcess] = []
    try:
        on = _omniroute(mock_url, True, args.ring_size)
        procs.append(on)
        hooks = hook_costs(body)
        lat = {gap: latency(on, body, args.requests, gap / 1000) for gap in (0, args.gap_ms)}
        mem = memory(on, body, args.flows, args.concurrency) if args.flows else []
        base: list[dict[str, Any]] = []
        if args.baseline and args.flows:
            off = _omniroute(mock_url, False, args.ring_size)
            procs.append(off)
            base = memory(off, body, args.flows, args.concurrency)
    finally:
        for proc in procs:
            proc.close()
        mock.terminate()
        mock.wait(10)
    _print(command, args, hooks, lat, mem, base)
    return 0


def _print(command: str, args: argparse.Namespace, hooks: dict[str, float], lats: dict[float, dict[str, Any]],
           mem: list[dict[str, Any]], base: list[dict[str, Any]]) -> None:
    print(f"\n`{command}`\n")
    n = next(iter(lats.values()))["on"]["n"]
    print(f"Latency: mapped agent call (codex → https://api.openai.com through the HTTP_PROXY listener, "
          f"routed to the mock), {args.body_kb} KB request body, one process, capture switched off/on "
          f"between blocks of 10 sequential calls; {n} calls per side and run.\n")
    print("| calls | capture off p50 / p99 ms | capture on p50 / p99 ms | added p50 ms (target < 0.3) | adjacent-block median diff ms |")
    print("|---|---:|---:|---:|---:|")
    for gap, lat in lats.items():
        added = lat["on"]["p50"] - lat["off"]["p50"]
        label = "back to back" if not gap else f"{gap:g} ms apart"
        verdict = "PASS" if added < 0.3 else "FAIL"
        print(f"| {label} | {lat['off']['p50']:.3f} / {lat['off']['p99']:.3f} | {lat['on']['p50']:.3f} / "
              f"{lat['on']['p99']:.3f} | **{added:+.3f}** {verdict} | {lat['paired']:+.3f} |")
    print(f"\nIn-process, same body, real mitmproxy flows: capture hooks (before the flow is forwarded) "
          f"p50 {hooks['hook_p50_us']:.1f} µs; deferred body work (masking, encoding, JSON, context key) "
          f"p50 {hooks['deferred_p50_us']:.1f} µs, run after the flow is forwarded / the response relayed.\n")
    for title, points in (("capture on", mem), ("capture off (`inspector_enabled=false`), baseline", base)):
        if not points:
            continue
        print(f"Memory, {title}: {args.flows} flows of {args.body_kb} KB, ring size {args.ring_size}, "
              f"{args.concurrency} clients.\n")
        print("| flows | RSS MB | rows in ring |")
        print("|---:|---:|---:|")
        for point in points:
            print(f"| {point['flows']} | {point['rss']:.0f} | {point['ring']} |")
        tail = [p["rss"] for p in points[len(points) // 2:]]
        print(f"\nSecond half of the run: {min(tail):.0f}-{max(tail):.0f} MB "
              f"({tail[-1] - tail[0]:+.0f} MB over {points[-1]['flows'] - points[len(points) // 2]['flows']} flows).\n")


if __name__ == "__main__":
    sys.exit(main())
