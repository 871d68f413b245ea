"""Soak: many mixed requests with injected faults; every answer accounted for, nothing leaks.

``python -m benchmarks.soak --requests 50000 --fault-rate 0.05 [--concurrency 32]``

Three processes: the mock provider, OmniRoute (``omniroute run``) and this load driver, all
on loopback. Requests mix OpenAI chat and Anthropic messages, streamed and not. A fraction
``--fault-rate`` asks a fault connection for a fault model (``fail-429``, ``fail-500``,
``fail-503``, ``reset-2``, ``malformed-json``, ``malformed-sse``, mock shortcuts). Fault
connections are separate from the healthy ones, and resilience is set so a fault never
spills over onto healthy requests (no cooldown, breaker threshold out of reach): the run
measures robustness, not the breaker.

Each request is classified: *answered* (200 and a complete body or stream), *failed in
format* (an error object / error event in the client's own format), or *bad* (anything
else: transport error, truncated stream, internal error). Usage rows are read from the
database after the run: one row per request, answered ones with status 200. File descriptors
and RSS of the OmniRoute process are sampled every ``--sample-every`` requests. Bounded by
``--requests`` and ``--max-seconds``. Exit status 0 only when every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.harness import OmniRouteProcess

FAULT_MODELS = ("fail-429", "fail-500", "fail-503", "reset-2", "malformed-json", "malformed-sse")
MSG = [{"role": "user", "content": "soak test request with a few words"}]
NO_SPILL = {  # faults must not cool down or trip what healthy requests use
    "providerBreaker": {"apikey": {"failureThreshold": 10_000, "resetTimeoutMs": 1000, "degradationThreshold": 10_000}},
    "connectionCooldown": {"apikey": {"baseCooldownMs": 0, "rateLimitCooldownMs": 0}},
}


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    samples: list[dict[str, float]] = field(default_factory=list)


def proc_sample(pid: int, done: int, started: float) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return {"requests": done, "fds": len(list(Path(f"/proc/{pid}/fd").iterdir())),
            "rss_mib": round(rss_kb / 1024, 1), "seconds": round(time.monotonic() - started, 1)}


def classify(fmt: str, stream: bool, status: int, raw: bytes) -> str:
    """answered | failed | bad (see the module docstring)."""
    text = raw.decode("utf-8", "replace")
    if "Traceback" in text or "internal error" in text:
        return "bad"
    if status != 200 or not stream:
        try:
            body = json.loads(raw)
        except ValueError:
            return "bad"
        if status == 200:
            ok = body.get("choices") if fmt == "openai-chat" else body.get("type") == "message"
            return "answered" if ok else "bad"
        if fmt == "anthropic":
            return "failed" if body.get("type") == "error" and body["error"].get("message") else "bad"
        return "failed" if isinstance(body.get("error"), dict) and body["error"].get("message") else "bad"
    events = [block for block in text.split("\n\n") if block.strip()]
    if not events:
        return "bad"
    last = events[-1]
    if fmt == "openai-chat":
        if last.strip() != "data: [DONE]":
            return "bad"
        return "failed" if len(events) > 1 and '"error"' in events[-2] else "answered"
    if "event: error" in last:
        return "failed"
    return "answered" if "event: message_stop" in last else "bad"


async def one(client: httpx.AsyncClient, rng: random.Random, fault_rate: float, tally: Tally) -> None:
    fmt = rng.choice(("openai-chat", "anthropic"))
    stream = rng.random() < 0.5
    faulty = rng.random() < fault_rate
    model = f"{'fa' if faulty else 'ok'}-{'oa' if rng.random() < 0.5 else 'an'}/" + (
        rng.choice(FAULT_MODELS) if faulty else "soak-model")
    body: dict[str, Any] = {"model": model, "messages": MSG, "stream": stream}
    path = "/v1/chat/completions"
    if fmt == "anthropic":
        path, body["max_tokens"] = "/v1/messages", 32
    try:
        async with client.stream("POST", path, json=body) as response:
            raw = await response.aread()
        outcome = classify(fmt, stream, response.status_code, raw)
        tally.statuses[response.status_code] += 1
        if outcome == "bad" and len(tally.bad) < 20:
            tally.bad.append(f"{model} {fmt} stream={stream} {response.status_code}: {raw[-300:]!r}")
    except httpx.HTTPError as exc:
        outcome = "bad"
        if len(tally.bad) < 20:
            tally.bad.append(f"{model} {fmt} stream={stream}: {exc.__class__.__name__}: {exc}")
    tally.outcomes[f"{outcome}{'-fault' if faulty else ''}"] += 1


async def drive(api_url: str, pid: int, args: argparse.Namespace) -> Tally:
    tally = Tally()
    rng = random.Random(args.seed)
    started = time.monotonic()
    deadline = started + args.max_seconds
    issued = 0
    keepalive = args.concurrency if args.keepalive else 0
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=keepalive)
    async with httpx.AsyncClient(base_url=api_url, timeout=60, limits=limits, trust_env=False) as client:
        async def worker() -> None:
            nonlocal issued
            while issued < args.requests and time.monotonic() < deadline:
                issued += 1
                await one(client, rng, args.fault_rate, tally)
                done = sum(tally.outcomes.values())
                if done % args.sample_every == 0:
                    tally.samples.append(proc_sample(pid, done, started))

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    tally.samples.append(proc_sample(pid, sum(tally.outcomes.values()), started))
    return tally


def start_mock() -> tuple[subprocess.Popen[str], str]:
    mock = subprocess.Popen([sys.executable, "-m", "tests.support.mock_provider", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    assert mock.stdout is not None
    line = mock.stdout.readline().strip()  # "mock provider listening on http://127.0.0.1:PORT"
    if "listening on" not in line:
        mock.kill()
        raise SystemExit(f"soak: mock provider did not start: {line!r}")
    return mock, line.rsplit(" ", 1)[1]


def usage_rows(db: Path) -> Counter[int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return Counter({status: n for status, n in conn.execute("SELECT status, count(*) FROM usage_logs GROUP BY status")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--sample-every", type=int, default=2500)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=20128)
    parser.add_argument("--no-keepalive", dest="keepalive", action="store_false",
                        help="a new connection per request (tells server-side closes from stale reuse)")
    parser.add_argument("--home", type=Path, default=None, help="keep OmniRoute's home (db, log) here")
    args = parser.parse_args(argv)
    mock, mock_url = start_mock()
    proc = OmniRouteProcess(args.home, proxy=False, bridge=False)
    try:
        proc.start(timeout=120)
        with proc.api() as api:
            for name, provider, suffix in (("ok-oa", "openai", "/v1"), ("ok-an", "anthropic", ""),
                                           ("fa-oa", "openai", "/v1"), ("fa-an", "anthropic", "")):
                api.post("/api/providers", json={"provider": provider, "name": name, "url": mock_url + suffix,
                                                 "apiKey": f"sk-soak-{name}-0001"}).raise_for_status()
            api.patch("/api/resilience", json=NO_SPILL).raise_for_status()
        assert proc.process is not None
        pid = proc.process.pid
        started = time.monotonic()
        tally = asyncio.run(drive(proc.api_url, pid, args))
        elapsed = time.monotonic() - started
        rows: Counter[int] = Counter()
        total = sum(tally.outcomes.values())
        for _ in range(300):  # the writer drains its queue off the hot path; bounded wait
            rows = usage_rows(proc.home / "omniroute.db")
            if sum(rows.values()) >= total:
                break
            time.sleep(0.1)
    finally:
        proc.close()
        mock.terminate()
        mock.wait(10)
    answered = tally.outcomes["answered"] + tally.outcomes["answered-fault"]
    bad = tally.outcomes["bad"] + tally.outcomes["bad-fault"]
    warm, last = tally.samples[min(1, len(tally.samples) - 1)], tally.samples[-1]
    report = {
        "requests": total, "seconds": round(elapsed, 1), "rps": round(total / elapsed, 1),
        "outcomes": dict(tally.outcomes), "statuses": dict(sorted(tally.statuses.items())),
        "usage_rows": sum(rows.values()), "usage_rows_status_200": rows.get(200, 0),
        "usage_rows_by_status": dict(sorted(rows.items())), "answered": answered,
        "samples": tally.samples, "bad_examples": tally.bad,
    }
    checks = {
        "every request answered or failed in its format": bad == 0,
        "usage rows == requests": sum(rows.values()) == total,
        "usage rows with status 200 == answered requests": rows.get(200, 0) == answered,
        "fds flat (last <= after warm-up + 8)": last["fds"] <= warm["fds"] + 8,
        "RSS flat (last <= after warm-up * 1.25 + 16 MiB)": last["rss_mib"] <= warm["rss_mib"] * 1.25 + 16,
    }
    report["checks"] = checks
    print(json.dumps(report, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
