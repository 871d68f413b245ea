"""The engine's added latency over calling the provider directly.

``python -m benchmarks.engine_overhead [--requests 2000] [--stream-requests 300]
[--delay-ms 5] [--event-delay-ms 1] [--profile report.txt]``

Three processes on loopback: the mock provider (fixed ``--delay-ms`` before the first byte,
``--event-delay-ms`` between stream events), a real ``omniroute run`` with one OpenAI
connection to it, and a load generator (its own process, an async httpx client, concurrency 1)
that alternates the same request sent directly to the mock and through OmniRoute. Reported:

* non-streamed ``/v1/chat/completions``: p50/p99 total latency of each path and the
  difference (target: added p50 < 1 ms);
* streamed (passthrough, the client not asking for usage, so the engine also strips the
  usage it requests for its own log): time to first byte, and per-event overhead =
  (time from first to last byte through OmniRoute − directly) / events (target < 0.1 ms);
* the same stream translated (Anthropic client, OpenAI provider), for reference;
* CPU time per request of each process (Linux /proc), steadier than latency on a busy machine;
* the engine alone: ``Router.dispatch`` CPU per call against an in-memory upstream
  (`benchmarks.engine_inprocess`).

Prints a markdown table headed by the command line. ``--profile FILE`` instead samples the
request path in-process with pyinstrument (``pip install pyinstrument``) and writes the report.
This module runs the processes, the load and the report; the in-process measurements are in
`benchmarks.engine_inprocess`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from benchmarks.engine_inprocess import ENGINE_EVENTS, engine_only, profile
from tests.support.harness import OmniRouteProcess

MODEL = "bench-model"
CONNECTION = "bench"
# ~40 words: the mock echoes it, so a streamed reply is ~45 events.
PROMPT = " ".join(f"word{i}" for i in range(40))


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str  # OmniRoute path; the direct call always goes to the mock's chat completions
    body: dict[str, Any]
    stream: bool
    requests: int


@dataclass(slots=True)
class Sample:
    total_ms: float
    ttfb_ms: float  # first body byte
    body_ms: float  # first to last body byte
    events: int


# --------------------------------------------------------------------------- load generator


def _direct_body(scenario: Scenario) -> dict[str, Any]:
    """The provider-side equivalent of the scenario's request (what OmniRoute sends on)."""
    return {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "stream": scenario.stream}


async def _one(client: httpx.AsyncClient, url: str, payload: bytes, headers: dict[str, str]) -> Sample:
    started = time.perf_counter()
    first = last = 0.0
    events = 0
    async with client.stream("POST", url, content=payload, headers=headers) as response:
        async for chunk in response.aiter_raw():
            last = time.perf_counter()
            if not first:
                first = last
            events += chunk.count(b"data:")
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    end = time.perf_counter()
    return Sample((end - started) * 1000, (first - started) * 1000, (last - first) * 1000, events)


async def _load(scenario: Scenario, mock_url: str, api_url: str, warmup: int) -> dict[str, list[Sample]]:
    headers = {"content-type": "application/json"}
    direct = json.dumps(_direct_body(scenario)).encode()
    routed = json.dumps(scenario.body).encode()
    targets = (("direct", f"{mock_url}/v1/chat/completions", direct), ("omniroute", api_url + scenario.path, routed))
    samples: dict[str, list[Sample]] = {"direct": [], "omniroute": []}
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    async with httpx.AsyncClient(timeout=60.0, trust_env=False, limits=limits) as client:
        for i in range(warmup + scenario.requests):
            # Alternate which path goes first, so neither always follows the other's work.
            for name, url, payload in targets if i % 2 else targets[::-1]:
                sample = await _one(client, url, payload, headers)
                if i >= warmup:
                    samples[name].append(sample)
    return samples


def _worker(scenario: Scenario, mock_url: str, api_url: str, warmup: int) -> dict[str, list[Sample]]:
    return asyncio.run(_load(scenario, mock_url, api_url, warmup))


# --------------------------------------------------------------------------- processes


class _MockProcess:
    def __init__(self, delay_ms: float, event_delay_ms: float) -> None:
        self.args = [sys.executable, "-m", "tests.support.mock_provider", "--port", "0",
                     "--delay-ms", str(delay_ms), "--event-delay-ms", str(event_delay_ms)]
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if "listening on " not in line:
            self.process.kill()
            raise RuntimeError(f"mock provider did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[1]
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


# --------------------------------------------------------------------------- report


def cpu_seconds(pid: int, tid: int | None = None) -> float | None:
    """User + system CPU time so far of a process, or of one of its threads (Linux /proc);
    None elsewhere."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(pids: dict[str, int]) -> dict[str, float | None]:
    # OmniRoute's main thread runs the event loop (requests); its other threads do the
    # off-path work (usage rows, inspector writes).
    omni = pids["OmniRoute"]
    return {"OmniRoute": cpu_seconds(omni), "OmniRoute loop": cpu_seconds(omni, omni),
            "mock": cpu_seconds(pids["mock"])}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _report(results: list[tuple[Scenario, dict[str, list[Sample]], dict[str, float]]],
            args: argparse.Namespace, engine: dict[str, float] | None = None) -> str:
    lines = [
        f"`{shlex.join(['python', '-m', 'benchmarks.engine_overhead', *sys.argv[1:]])}`",
        "",
        (f"mock: {args.delay_ms} ms before the first byte, {args.event_delay_ms} ms between events; "
         "concurrency 1; loopback; times in ms"),
        "",
        _row(["scenario", "metric", "n", "direct p50", "direct p99", "OmniRoute p50", "OmniRoute p99",
              "added p50", "added p99", "target"]),
        _row(["---"] * 10),
    ]

    def add(scenario: Scenario, metric: str, direct: list[float], routed: list[float], target: str,
            per: float = 1.0) -> None:
        d50, d99, r50, r99 = (_pct(direct, 0.5), _pct(direct, 0.99), _pct(routed, 0.5), _pct(routed, 0.99))
        lines.append(_row([
            scenario.name, metric, str(len(routed)), f"{d50 / per:.3f}", f"{d99 / per:.3f}",
            f"{r50 / per:.3f}", f"{r99 / per:.3f}", f"**{(r50 - d50) / per:.3f}**",
            f"{(r99 - d99) / per:.3f}", target,
        ]))

    cpu_lines = [
        "",
        ("CPU time per request (both processes' user+system time over the whole scenario, warm-up "
         "included; the mock served both paths, so its share of one path is about half):"),
        "",
        _row(["scenario", "OmniRoute CPU ms / request", "of which event loop", "other threads",
              "mock CPU ms / request (both paths)"]),
        _row(["---"] * 5),
    ]
    for scenario, samples, cpu in results:
        total = len(samples["omniroute"]) + args.warmup
        if cpu:
            whole, loop = cpu.get("OmniRoute", 0.0), cpu.get("OmniRoute loop", 0.0)
            cpu_lines.append(_row([scenario.name, f"{whole * 1000 / total:.3f}", f"{loop * 1000 / total:.3f}",
                                   f"{(whole - loop) * 1000 / total:.3f}", f"{cpu.get('mock', 0) * 1000 / total:.3f}"]))
        direct, routed = samples["direct"], samples["omniroute"]
        if not scenario.stream:
            add(scenario, "total", [s.total_ms for s in direct], [s.total_ms for s in routed], "< 1 ms")
            continue
        add(scenario, "time to first byte", [s.ttfb_ms for s in direct], [s.ttfb_ms for s in routed], "")
        events = statistics.median(s.events for s in direct)
        add(scenario, f"per event ({events:.0f} events)", [s.body_ms for s in direct],
            [s.body_ms for s in routed], "< 0.1 ms" if "translated" not in scenario.name else "", per=events)
    engine_lines = [] if not engine else [
        "",
        (f"Engine alone (Router.dispatch against an in-memory upstream, {args.engine_requests} calls, "
         "CPU time, no sockets/ASGI/web framework):"),
        "",
        _row(["call", "engine CPU µs / call", f"per event ({ENGINE_EVENTS} events)"]),
        _row(["---"] * 3),
        _row(["chat, non-streamed", f"{engine['json']:.0f}", ""]),
        _row(["chat, streamed (passthrough)", f"{engine['stream']:.0f}", f"{engine['stream'] / ENGINE_EVENTS:.1f}"]),
    ]
    return "\n".join(lines + (cpu_lines if len(cpu_lines) > 5 else []) + engine_lines)


def scenarios(requests: int, stream_requests: int) -> list[Scenario]:
    routed = f"{CONNECTION}/{MODEL}"
    chat = {"model": routed, "messages": [{"role": "user", "content": PROMPT}]}
    anthropic = {"model": routed, "max_tokens": 1024, "messages": [{"role": "user", "content": PROMPT}]}
    return [
        Scenario("chat, non-streamed", "/v1/chat/completions", {**chat, "stream": False}, False, requests),
        Scenario("chat, streamed", "/v1/chat/completions", {**chat, "stream": True}, True, stream_requests),
        Scenario("anthropic→openai, streamed (translated)", "/v1/messages", {**anthropic, "stream": True},
                 True, stream_requests),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_overhead", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="non-streamed requests per path")
    parser.add_argument("--stream-requests", type=int, default=300, help="streamed requests per path")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    parser.add_argument("--event-delay-ms", type=float, default=1.0)
    parser.add_argument("--only", choices=["json", "sse", "translated"], help="run one scenario")
    parser.add_argument("--engine-requests", type=int, default=2000,
                        help="calls for the engine-only figure (0: skip it)")
    parser.add_argument("--profile", type=Path,
                        help="instead of timing: profile the request path in-process with pyinstrument "
                             "(first chosen scenario) and write the report here")
    args = parser.parse_args(argv)
    chosen = scenarios(min(args.requests, 100_000), min(args.stream_requests, 100_000))
    if args.only:
        chosen = [chosen[["json", "sse", "translated"].index(args.only)]]

    with _MockProcess(args.delay_ms, args.event_delay_ms) as mock:
        if args.profile:
            provider = {"provider": "openai", "name": CONNECTION, "url": f"{mock.url}/v1",
                        "apiKey": "sk-bench-0001"}
            asyncio.run(profile(chosen[0].path, chosen[0].body, provider, chosen[0].requests, args.profile))
            print(f"profile of {chosen[0].name}: {args.profile}")
            return 0
        with OmniRouteProcess(proxy=False, bridge=False) as process:
            process.add_provider("openai", CONNECTION, f"{mock.url}/v1", api_key="sk-bench-0001")
            results = []
            # The load comes from another process, so its client work is not on OmniRoute's
            # or the mock's CPU time; spawn: no inherited threads or sockets.
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                assert process.process is not None
                pids = {"OmniRoute": process.process.pid, "mock": mock.pid}
                for scenario in chosen:
                    before = _cpu(pids)
                    samples = pool.apply(_worker, (scenario, mock.url, process.api_url, args.warmup))
                    after = _cpu(pids)
                    cpu = {name: end - start for name, start in before.items()
                           if start is not None and (end := after[name]) is not None}
                    results.append((scenario, samples, cpu))
    engine = asyncio.run(engine_only(min(args.engine_requests, 100_000), PROMPT)) if args.engine_requests else None
    print(_report(results, args, engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
