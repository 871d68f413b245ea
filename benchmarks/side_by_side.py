"""CPU per `/v1` call of this tree against a git ref of it, side by side in one run.

``python -m benchmarks.side_by_side --baseline main --requests 3000 [--stream]``

Both instances get the same settings (API keys required), provider and key, and serve the same
load in interleaved rounds; the figure is utime+stime of each instance's process divided by
the calls it served. CPU time grows far less with the machine's load than latency does, so
this is the figure to compare one change by on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import targets as t
from benchmarks.load import generate_load
from tests.support.harness import OmniRouteProcess

PROMPT = " ".join(f"word{i}" for i in range(40))


def start_with_key(env: dict[str, str], mock_url: str) -> tuple[OmniRouteProcess, str]:
    """An instance serving the mock as provider ``mock``, and a write key for its `/v1`."""
    proc = OmniRouteProcess(proxy=False, bridge=False, env=env).start(180)
    proc.add_provider("openai", "mock", f"{mock_url}/v1", api_key="sk-bench")
    with proc.api() as api:
        created = api.post("/api/keys", json={"label": "bench", "scope": "write"})
        created.raise_for_status()
    return proc, created.json()["key"]


def run(baseline: str, requests: int, stream: bool, concurrency: int, rounds: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="omniroute-side-"))
    mock, mock_url = t.start_mock(work, 0, 0)
    env = {"OMNIROUTE_REQUIRE_API_KEY": "true"}
    procs: dict[str, tuple[OmniRouteProcess, str]] = {}
    try:
        procs["this tree"] = start_with_key(env, mock_url)
        procs[baseline] = start_with_key({**env, "PYTHONPATH": str(t.baseline_tree(baseline, work))}, mock_url)
        body: dict[str, Any] = {"model": "mock/gpt-4o-mini", "max_tokens": 64, "stream": stream,
                                "messages": [{"role": "user", "content": PROMPT}]}
        cpu = dict.fromkeys(procs, 0.0)
        served = dict.fromkeys(procs, 0)
        for _ in range(rounds):
            for name, (proc, key) in procs.items():
                arm = {"name": name, "urls": [f"{proc.api_url}/v1/chat/completions"], "body": body,
                       "kind": "sse" if stream else "http", "headers": {"authorization": f"Bearer {key}"}}
                pid = proc.process.pid  # type: ignore[union-attr]
                before = t.cpu_seconds(pid)
                raw = generate_load({"arms": [arm], "requests": requests // rounds, "concurrency": concurrency,
                                     "processes": 1, "rounds": 1, "max_seconds": 120, "warmup": concurrency},
                                    lambda _: None)[name]
                if raw["errors"]:
                    raise SystemExit(f"{name}: {raw['errors'][0]}")
                cpu[name] += t.cpu_seconds(pid) - before
                served[name] += len(raw["samples"]) + raw["warmup"]
        return {name: 1000 * cpu[name] / served[name] for name in procs}
    finally:
        for proc, _ in procs.values():
            proc.close()
        mock.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.side_by_side", description=__doc__)
    parser.add_argument("--baseline", default="main", help="the git ref to compare with")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stream", action="store_true", help="streamed calls (the mock's 37 events)")
    args = parser.parse_args(argv)
    figures = run(args.baseline, args.requests, args.stream, args.concurrency, args.rounds)
    print("| tree | CPU ms per /v1 call |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
