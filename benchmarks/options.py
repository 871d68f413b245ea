"""What a benchmark run was asked to do (the command line), and the machine it ran on."""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.harness import REPO_ROOT


@dataclass
class Options:
    quick: bool = False
    requests: int = 1000  # timed requests per arm at concurrency 1
    concurrency: int = 64
    with_litellm: bool = False
    with_portkey: bool = False
    baseline: str | None = None  # a git ref served side by side as "before"
    workers: int = 1
    delay_ms: float = 0.0  # the targets' method: a loopback mock that answers at once
    delayed_ms: float = 5.0  # a second mock: /v1 against an upstream that takes this long (0: off)
    out: Path = REPO_ROOT / "BENCHMARKS.md"
    command: str = "./scripts/bench"
    flows: int = 10_000  # captured flows / requests before the memory figures
    throughput_requests: int = 4000
    max_seconds: float = 30.0  # per arm (all rounds together); every load is bounded in time
    rounds: int = 7
    detail: bool = False


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="bench", description="OmniRoute benchmarks side by side.")
    parser.add_argument("--quick", action="store_true", help="small counts (~1-2 min), for development")
    parser.add_argument("--requests", type=int, help="timed requests per arm at concurrency 1")
    parser.add_argument("--concurrency", type=int, default=64, help="clients for the throughput runs")
    parser.add_argument("--with-litellm", action="store_true", help="also measure LiteLLM's proxy")
    parser.add_argument("--with-portkey", action="store_true", help="also measure Portkey's AI gateway (npm, Node)")
    parser.add_argument("--baseline", metavar="REF",
                        help="also serve /v1 from this git ref of OmniRoute (e.g. main), as 'before'")
    parser.add_argument("--workers", type=int, default=1, help="OmniRoute API instances for scaling")
    parser.add_argument("--delay-ms", type=float, default=0.0,
                        help="mock provider delay for every arm (the targets are set for 0)")
    parser.add_argument("--delayed-ms", type=float, default=5.0,
                        help="also time /v1 against a second mock with this delay (0: off)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument("--with-detail", action="store_true",
                        help="also run engine_overhead and capture_overhead and append their tables")
    args = parser.parse_args(argv)
    prog = os.environ.get("OMNIROUTE_BENCH_PROG", "python -m benchmarks")
    opts = Options(quick=args.quick, concurrency=args.concurrency, with_litellm=args.with_litellm,
                   with_portkey=args.with_portkey, baseline=args.baseline,
                   workers=max(1, args.workers), delay_ms=args.delay_ms, delayed_ms=args.delayed_ms, out=args.out,
                   detail=args.with_detail,
                   command=" ".join([prog, *argv]))
    if opts.quick:
        opts.requests, opts.flows, opts.throughput_requests = 100, 1000, 600
        opts.max_seconds, opts.rounds = 10.0, 2
    if args.requests:
        opts.requests = args.requests
    return opts


def machine(opts: Options) -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
    try:
        import mitmproxy.version as mv

        mitm = mv.VERSION
    except ImportError:
        mitm = "?"
    return {"nproc": os.cpu_count(), "cpu": model, "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "mitmproxy": mitm, "httpx": httpx.__version__,
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": opts.command,
            "options": {"quick": opts.quick, "requests": opts.requests, "concurrency": opts.concurrency,
                        "throughput_requests": opts.throughput_requests, "flows": opts.flows,
                        "workers": opts.workers, "delay_ms": opts.delay_ms, "delayed_ms": opts.delayed_ms,
                        "rounds": opts.rounds,
                        "with_litellm": opts.with_litellm}}
