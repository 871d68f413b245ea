"""What the Traffic Inspector's capture costs: latency added to a proxied call, and memory.

``python -m benchmarks.capture_overhead [--requests 600] [--flows 10000] [--body-kb 100]
[--ring-size 1000] [--concurrency 4] [--via proxy|v1] [--baseline] [--against DIR]``

Processes on loopback: the mock provider and a real ``omniroute run`` mapping agent codex (``*``)
to it, so each call is an agent call made through the HTTP_PROXY listener to
https://api.openai.com (TLS intercepted, rewritten, routed by the engine to the mock) with a
``--body-kb`` request body. ``--baseline`` adds a process started with
``OMNIROUTE_INSPECTOR_ENABLED=false`` for a memory comparison. ``--against DIR`` compares two
versions side by side in one run: DIR is another source tree (``git archive <rev> | tar -x -C
DIR``), run with ``PYTHONPATH=DIR``; its calls and this tree's take turns block by block, so
both see the same machine load.

1. Latency: one process, capture switched off and on (``capture-modes/capture``, the runtime
   form of ``inspector_enabled``) between blocks of 10 sequential calls on one keep-alive client,
   so the same process, heap and connections serve both sides and machine load drifts over both
   alike. (Two processes, one started with ``inspector_enabled=false``, differ by ±1.5 ms from
   each other even with capture off in both: that is why.) Reported: p50/p99 of each side and the
   added p50 (target < 0.3 ms). Also, in a fresh interpreter per tree, the time spent inside the
   capture hooks on a real mitmproxy flow (what runs before the flow is forwarded), the deferred
   step after the response, and the first read of the finished row (what the list API does).
2. Memory: ``--flows`` calls with ``--body-kb`` bodies through the capture-on process (agent
   calls through the proxy, or with ``--via v1`` plain ``/v1`` calls, whose rows the inspector
   keeps too); its resident memory is sampled as they go. The ring keeps ``--ring-size`` rows, so memory must
   plateau once the ring is full instead of growing with the number of flows.

Prints markdown tables headed by the command line.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.harness import REPO_ROOT, OmniRouteProcess

URL = "https://api.openai.com/v1/chat/completions"
V1_PATH = "/v1/chat/completions"
V1_MODEL = "bench/bench-model"  # the mock's provider as registered below; codex's calls map to it
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


def _body(kb: int, model: str = "gpt-4o") -> bytes:
    return json.dumps({"model": model, "messages": [
        {"role": "system", "content": "You are a benchmark."},
        {"role": "user", "content": _words(kb)}]}).encode()


def _start_mock() -> tuple[subprocess.Popen[str], str]:
    mock = subprocess.Popen([sys.executable, "-m", "tests.support.mock_provider", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert mock.stdout is not None
    for line in mock.stdout:
        if "listening on" in line:
            return mock, line.rsplit(" ", 1)[-1].strip()
    raise RuntimeError("mock provider did not start")


def _tree_env(tree: Path | None) -> dict[str, str]:
    return {"PYTHONPATH": str(tree)} if tree is not None else {}


def _omniroute(mock_url: str, enabled: bool, ring_size: int, tree: Path | None = None) -> OmniRouteProcess:
    env = {**EXTRA_ENV, "OMNIROUTE_INSPECTOR_ENABLED": "true" if enabled else "false",
           "OMNIROUTE_INSPECTOR_RING_SIZE": str(ring_size), "OMNIROUTE_LOG_LEVEL": "warning",
           **_tree_env(tree)}
    proc = OmniRouteProcess(bridge=False, env=env).start(timeout=300)
    proc.add_provider("openai", "bench", f"{mock_url}/v1", api_key="sk-bench-provider-0001")
    proc.map_models("codex", {"*": V1_MODEL})
    return proc


def _client(proc: OmniRouteProcess, via: str = "proxy") -> httpx.Client:
    headers = {"authorization": "Bearer sk-agent-bench-0001", "content-type": "application/json"}
    if via == "v1":  # a plain /v1 client: its calls get inspector rows too (source "api")
        return httpx.Client(base_url=proc.api_url, trust_env=False, timeout=60, headers=headers)
    return httpx.Client(proxy=proc.proxy_url, verify=proc.ssl_context(), trust_env=False, timeout=60,
                        headers=headers)


def _call(client: httpx.Client, body: bytes) -> float:
    started = time.perf_counter()
    response = client.post(URL if client.base_url.is_relative_url else V1_PATH, content=body)
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
    """p50 µs of the hooks (before forwarding), of the deferred step after the response, and of
    the first read of the finished row (``to_dict``, as the list API does), on real flows."""
    import asyncio

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
    hot, deferred, read = [], [], []

    async def once(flow: Any) -> None:
        t0 = time.perf_counter()
        pending = capture.request(flow, "http-proxy", "codex")
        capture.response(flow, pending, None)
        t1 = time.perf_counter()
        await asyncio.sleep(DEFER_DELAY * 2)  # the loop runs the deferred step meanwhile
        t2 = time.perf_counter()
        pending.row.to_dict()
        read.append((time.perf_counter() - t2) * 1e6)
        hot.append((t1 - t0) * 1e6)
        deferred.append(capture_time[-1] * 1e6)

    for _ in range(rounds):
        flow = tflow.tflow(req=tutils.treq(host="api.openai.com", path="/v1/chat/completions",
                                           method=b"POST", content=body,
                                           headers=((b"authorization", b"Bearer sk-agent-bench-0001"),
                                                    (b"content-type", b"application/json"))))
        flow.response = tutils.tresp(content=b'{"choices": []}')
        asyncio.run(once(flow))
    return {"hook_p50_us": statistics.median(hot), "deferred_p50_us": statistics.median(deferred),
            "read_p50_us": statistics.median(read)}


def hook_costs_of(tree: Path | None, body_kb: int) -> dict[str, float]:
    """``hook_costs`` of a source tree, in a fresh interpreter (the tree's own ``hook_costs``)."""
    code = ("import json, sys; from benchmarks.capture_overhead import _body, hook_costs; "
            "print(json.dumps(hook_costs(_body(int(sys.argv[1])))))")
    env = {**os.environ, **_tree_env(tree)}
    out = subprocess.run([sys.executable, "-c", code, str(body_kb)], cwd=tree or REPO_ROOT, env=env,
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- phases -------------------------------------------------------------------------------------
def latency(procs: dict[str, OmniRouteProcess], body: bytes, requests: int, gap_s: float = 0.0,
            block: int = 10) -> dict[str, dict[str, Any]]:
    """Per process, capture switched on and off between blocks of calls (the `capture` mode):
    the same process, connections and heap serve both sides, so only capture differs. With
    several processes (trees), their blocks take turns too."""
    toggle = f"{BASE}/capture-modes/capture"
    samples = {name: {"on": [], "off": []} for name in procs}
    cycle_diffs: dict[str, list[float]] = {name: [] for name in procs}
    clients = {name: _client(proc) for name, proc in procs.items()}
    apis = {name: proc.api() for name, proc in procs.items()}
    try:
        for name, client in clients.items():
            for _ in range(20):  # warm up: TLS, connections, caches
                _call(client, body)
        for cycle in range(max(requests // block, 1)):
            names = list(procs) if cycle % 2 == 0 else list(reversed(procs))
            for name in names:
                medians = {}
                for side in (("on", "off") if cycle % 2 == 0 else ("off", "on")):  # neither always first
                    apis[name].post(toggle, json={"enabled": side == "on"}).raise_for_status()
                    times = []
                    for _ in range(block):
                        times.append(_call(clients[name], body))
                        time.sleep(gap_s)  # an agent's think time; 0 = back to back
                    samples[name][side] += times
                    medians[side] = statistics.median(times)
                cycle_diffs[name].append(medians["on"] - medians["off"])
        for api in apis.values():
            api.post(toggle, json={"enabled": True}).raise_for_status()
    finally:
        for closable in (*clients.values(), *apis.values()):
            closable.close()
    out: dict[str, dict[str, Any]] = {}
    for name, sides in samples.items():
        out[name] = {side: {"p50": statistics.median(v), "p99": _pct(v, 0.99), "n": len(v)}
                     for side, v in sides.items()}
        out[name]["paired"] = statistics.median(cycle_diffs[name])  # adjacent blocks: slow drift cancels
    return out


def memory(procs: dict[str, OmniRouteProcess], body: bytes, flows: int,
           concurrency: int, via: str = "proxy") -> dict[str, list[dict[str, Any]]]:
    """``flows`` calls per process, in steps that take turns between processes; RSS per step."""
    def sample(name: str, done: int) -> dict[str, Any]:
        proc = procs[name]
        assert proc.process is not None
        with proc.api() as api:
            ring = api.get(f"{BASE}/requests", params={"limit": 1}).json()["total"]
        return {"flows": done, "rss": _rss_mb(proc.process.pid), "ring": ring}

    points = {name: [sample(name, 0)] for name in procs}
    step = max(flows // 10, 1)
    clients = {name: [_client(proc, via) for _ in range(concurrency)] for name, proc in procs.items()}
    done = 0
    try:
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            while done < flows:
                batch = min(step, flows - done)
                for name in procs:
                    pool_clients = clients[name]
                    list(pool.map(lambda i, c=pool_clients: _call(c[i % concurrency], body), range(batch)))
                for name in procs:
                    points[name].append(sample(name, done + batch))
                done += batch
    finally:
        for client in (c for cs in clients.values() for c in cs):
            client.close()
    return points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="latency samples per side")
    parser.add_argument("--flows", type=int, default=10_000, help="flows for the memory phase")
    parser.add_argument("--body-kb", type=int, default=100)
    parser.add_argument("--ring-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="clients in the memory phase")
    parser.add_argument("--via", choices=("proxy", "v1"), default="proxy",
                        help="memory phase: agent calls through the proxy, or plain /v1 calls to our API")
    parser.add_argument("--gap-ms", type=float, default=20.0,
                        help="pause between calls for the second latency run (the first is back to back)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run the memory phase on a process started with inspector_enabled=false")
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="another source tree (with omniroute/ and addons/) to measure side by side")
    args = parser.parse_args(argv)
    body = _body(args.body_kb)
    command = "python -m benchmarks.capture_overhead " + shlex.join(sys.argv[1:] if argv is None else argv)
    here = os.environ.get("PYTHONPATH") or str(REPO_ROOT)
    trees: dict[str, Path | None] = {here: None}
    if args.against is not None:
        if not (args.against / "omniroute" / "__init__.py").is_file():
            parser.error(f"--against {args.against}: no omniroute package there")
        trees[str(args.against.resolve())] = args.against.resolve()

    mock, mock_url = _start_mock()
    procs: dict[str, OmniRouteProcess] = {}
    try:
        for name, tree in trees.items():
            procs[name] = _omniroute(mock_url, True, args.ring_size, tree)
        hooks = {name: hook_costs_of(tree, args.body_kb) for name, tree in trees.items()}
        lat = {gap: latency(procs, body, args.requests, gap / 1000) for gap in (0, args.gap_ms)}
        mem_body = _body(args.body_kb, V1_MODEL) if args.via == "v1" else body
        mem = memory(procs, mem_body, args.flows, args.concurrency, args.via) if args.flows else {}
        if args.baseline and args.flows:
            procs["capture off"] = _omniroute(mock_url, False, args.ring_size, trees[here])
            mem.update(memory({"capture off": procs["capture off"]}, mem_body, args.flows, args.concurrency,
                              args.via))
    finally:
        for proc in procs.values():
            proc.close()
        mock.terminate()
        mock.wait(10)
    _print(command, args, hooks, lat, mem)
    return 0


def _print(command: str, args: argparse.Namespace, hooks: dict[str, dict[str, float]],
           lats: dict[float, dict[str, dict[str, Any]]], mem: dict[str, list[dict[str, Any]]]) -> None:
    print(f"\n`{command}`\n")
    first = next(iter(next(iter(lats.values())).values()))
    print(f"Latency: mapped agent call (codex → https://api.openai.com through the HTTP_PROXY listener, "
          f"routed to the mock), {args.body_kb} KB request body, one process per tree, capture switched "
          f"off/on between blocks of 10 sequential calls; {first['on']['n']} calls per side and run.\n")
    print("| tree | calls | capture off p50 / p99 ms | capture on p50 / p99 ms | added p50 ms (target < 0.3) "
          "| adjacent-block median diff ms |")
    print("|---|---|---:|---:|---:|---:|")
    for gap, per_tree in lats.items():
        label = "back to back" if not gap else f"{gap:g} ms apart"
        for tree, lat in per_tree.items():
            added = lat["on"]["p50"] - lat["off"]["p50"]
            verdict = "PASS" if added < 0.3 else "FAIL"
            print(f"| {tree} | {label} | {lat['off']['p50']:.3f} / {lat['off']['p99']:.3f} | "
                  f"{lat['on']['p50']:.3f} / {lat['on']['p99']:.3f} | **{added:+.3f}** {verdict} | "
                  f"{lat['paired']:+.3f} |")
    print("\nIn-process, same body, real mitmproxy flows, p50 µs: the capture hooks (before the flow is "
          "forwarded), the deferred step (after the response is relayed) and the first read of the "
          "finished row (`to_dict`, as the list API does).\n")
    print("| tree | hooks | deferred step | first read |")
    print("|---|---:|---:|---:|")
    for tree, cost in hooks.items():
        read = cost.get("read_p50_us")
        print(f"| {tree} | {cost['hook_p50_us']:.1f} | {cost['deferred_p50_us']:.1f} | "
              f"{'-' if read is None else f'{read:.1f}'} |")
    if not mem:
        return
    calls = "plain /v1 calls" if args.via == "v1" else "agent calls through the proxy"
    print(f"\nMemory: {args.flows} {calls} of {args.body_kb} KB per process, ring size {args.ring_size}, "
          f"{args.concurrency} clients; steps take turns between processes. RSS MB (rows in ring).\n")
    names = list(mem)
    print("| flows | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * len(names))
    for i, point in enumerate(mem[names[0]]):
        cells = [f"{mem[n][i]['rss']:.0f} ({mem[n][i]['ring']})" for n in names]
        print(f"| {point['flows']} | " + " | ".join(cells) + " |")
    print()
    for name, points in mem.items():
        tail = [p["rss"] for p in points[len(points) // 2:]]
        print(f"- {name}: second half {min(tail):.0f}-{max(tail):.0f} MB "
              f"({tail[-1] - tail[0]:+.0f} MB over {points[-1]['flows'] - points[len(points) // 2]['flows']} flows)")


if __name__ == "__main__":
    sys.exit(main())
