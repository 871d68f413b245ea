"""Does the Usage page stall model calls? ``python -m benchmarks.usage_load``.

A real ``omniroute run --demo`` over a database holding ``--rows`` usage rows (spread over 90
days, as months of traffic leave them, and analysed, as autovacuum does after such inserts: a
table the planner has never seen measures its guesses, not our queries). Concurrent clients
make model calls, half on ``/v1/chat/completions`` and half as Codex through the MITM proxy
(mapped to the in-process demo provider, so the figure is OmniRoute's own), while, in alternate
phases, one more client loads the Usage page's queries in a loop (``call-logs``, ``analytics``,
``charts``). The report: the p50/p99 of each kind of call in quiet phases and in Usage phases,
and how far each p99 moved: with every round's calls pooled (with a 90 % bootstrap interval over
the rounds), and round by round (a rare pause sets a pooled p99 on its own; the median of the
rounds' moves is what the page does each time).
Bounded in time: ``--seconds`` per phase, ``--rounds`` quiet/Usage pairs.

Two loads, because they answer different questions. ``--clients`` (closed loop) keeps the
machine saturated: every millisecond of CPU the page's queries take (in the database, in a
store thread) is taken from the calls, so the p99 moves by the page's CPU share even when
nothing waits on the event loop. ``--rate`` (open loop, below capacity) asks whether the page
stalls the calls: a blocked loop delays every call due meanwhile, and each is timed from when
it was due.

``--page-instance other`` loads the page from a second instance on the same database, so the
calls' process does none of the page's work: what the calls still lose then is the machine's
CPU, not anything they wait for in their own process.

``--pin`` gives OmniRoute a core of its own (CPU 0: every thread of the calls' instance, and of
the page's instance with ``--page-instance other``), and puts this process (the callers and the
page's client) and PostgreSQL on the other: what the calls lose then is what the page costs
OmniRoute, not CPU the load generator or the database server took from them. ``--page-nice N``
runs the page's own instance at niceness N, as a low-priority reader process would. The callers
still share their core with PostgreSQL, whose backends run the page's queries: a backend that
holds that core delays the callers' own wake-ups, and so the timing of calls OmniRoute answered
on time. ``--callers-rt`` times the calls from a real-time thread, which nothing on its core
delays: then a move is what the calls waited for in OmniRoute.

``--page-client process`` loads the page from a process of its own, as a browser would, instead
of from the event loop that times the calls; ``--page-rate R`` loads it at most R times a second
instead of one load after another: to compare trees whose page loads take different times at
the same page traffic.

Short phases and many rounds (``--seconds 2 --rounds 30``) spread the machine's own pauses (the
host taking the CPU, a neighbour's burst) over both kinds of phase alike; long phases let one
such pause land in one phase and set its p99. ``--control`` runs the same phases without the
page: the p99 moves it reports are what the machine's own noise moves them by, the floor any
move with the page is read against. The report also gives the calls' instance's garbage
collections a second (``/api/monitoring/health``), by generation: each stops its event loop;
and that loop's account from the kernel (``schedstat``) in each kind of phase: how long it ran,
and how long it was ready to run but waited for its core, a second.

``--page-cost N [--baseline REF]`` measures no calls: the CPU one page load costs, per endpoint,
in OmniRoute and in PostgreSQL (``benchmarks.usage_page_cost``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks import usage_page_cost
from benchmarks.usage_page import PageClient, fill, load_page
from tests.support.harness import OmniRouteProcess

CHAT = {"model": "demo/echo", "messages": [{"role": "user", "content": "hello"}]}
MITM_URL = "https://api.openai.com/v1/chat/completions"  # Codex's host: mapped to demo/echo
WARM_CONNECTIONS = 16


async def _model_calls(client: httpx.AsyncClient, url: str, until: float, out: list[float]) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        reply = await client.post(url, json=CHAT)
        reply.raise_for_status()
        out.append((time.perf_counter() - started) * 1000)


async def _paced_calls(client: httpx.AsyncClient, url: str, rate: float, until: float, out: list[float]) -> None:
    """Open loop: a call every 1/``rate`` s whether or not earlier ones are done, each timed
    from when it was due, so a stall shows in full instead of slowing the clients down."""
    interval = 1 / rate
    due = time.perf_counter()
    calls: list[asyncio.Task[None]] = []

    async def one(scheduled: float) -> None:
        reply = await client.post(url, json=CHAT)
        reply.raise_for_status()
        out.append((time.perf_counter() - scheduled) * 1000)

    while due < until:
        calls.append(asyncio.create_task(one(due)))
        due += interval
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    await asyncio.gather(*calls)


@dataclass
class Phase:
    v1: list[float] = field(default_factory=list)
    mitm: list[float] = field(default_factory=list)
    pages: list[float] = field(default_factory=list)
    # The calls' event loop (the instance's main thread), from the kernel's schedstat: ms it ran,
    # and ms it was ready to run but waited for its core (what another task on that core cost it).
    loop_ran_ms: float = 0.0
    loop_waited_ms: float = 0.0
    loop_seconds: float = 0.0  # how long that account covers (0 without one)

    def extend(self, other: Phase) -> None:
        self.v1 += other.v1
        self.mitm += other.mitm
        self.pages += other.pages
        self.loop_ran_ms += other.loop_ran_ms
        self.loop_waited_ms += other.loop_waited_ms
        self.loop_seconds += other.loop_seconds

    def loop_per_second(self) -> dict[str, float]:
        return {"ranMsPerS": round(self.loop_ran_ms / self.loop_seconds, 2),
                "waitedForCpuMsPerS": round(self.loop_waited_ms / self.loop_seconds, 2)} if self.loop_seconds else {}


def _loop_schedstat(pid: int) -> tuple[int, int] | None:
    """ns the process's main thread has run, ns it has waited on a run queue; None where the
    kernel keeps no such account (not Linux)."""
    try:
        ran, waited, _slices = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    except OSError:
        return None
    return int(ran), int(waited)


async def phase(api: httpx.AsyncClient, mitm: httpx.AsyncClient, page: httpx.AsyncClient | PageClient | None,
                clients: int, seconds: float, rate: float = 0, page_rate: float = 0) -> Phase:
    """``clients`` closed-loop callers of each kind, or with ``rate``, calls at that many per
    second of each kind; with ``page``, the Usage page's queries in a loop as well."""
    out = Phase()
    until = time.perf_counter() + seconds
    if rate:
        tasks = [_paced_calls(api, "/v1/chat/completions", rate, until, out.v1),
                 _paced_calls(mitm, MITM_URL, rate, until, out.mitm)]
    else:
        tasks = [_model_calls(api, "/v1/chat/completions", until, out.v1) for _ in range(clients - clients // 2)]
        tasks += [_model_calls(mitm, MITM_URL, until, out.mitm) for _ in range(clients // 2)]
    if isinstance(page, PageClient):
        tasks.append(page.load(until, out.pages))
    elif page is not None:
        tasks.append(load_page(page, until, out.pages, page_rate))
    await asyncio.gather(*tasks)
    return out


async def gc_collections(api: httpx.AsyncClient) -> list[int]:
    """The calls' instance's garbage collections so far, by generation."""
    collections: list[int] = (await api.get("/api/monitoring/health")).json()["memory"]["gcCollections"]
    return collections


async def measure(omni: OmniRouteProcess, args: argparse.Namespace, page_url: str | None = None
                  ) -> tuple[list[tuple[Phase, Phase]], list[float]]:
    """Alternate quiet and Usage phases on the same clients: as agents do, they keep their
    connections (through the proxy, a new one costs a TLS handshake that would show as a stall).
    One (quiet, Usage) pair per round. The page is loaded from ``page_url`` (another instance on
    the same database) when given, else from the instance that serves the calls. Also: its
    garbage collections a second over the rounds, by generation."""
    limits = httpx.Limits(max_connections=max(args.clients, 64) + 1)
    async with (
        httpx.AsyncClient(base_url=omni.api_url, timeout=60, limits=limits, trust_env=False) as api,
        httpx.AsyncClient(proxy=omni.proxy_url, verify=omni.ssl_context(), timeout=60, limits=limits,
                          trust_env=False, headers={"authorization": "Bearer sk-agent-bench-0001"}) as mitm,
        httpx.AsyncClient(base_url=page_url or omni.api_url, timeout=60, trust_env=False) as page_here,
        PageClient(page_url or omni.api_url, args.page_client_nice, args.page_rate)
        if args.page_client == "process" else contextlib.nullcontext(page_here) as page,
    ):
        # Warm up: connections (as many as a stall could need at once), the demo transport,
        # the first queries' plans.
        await asyncio.gather(*(client.post(url, json=CHAT) for client, url in
                               ((api, "/v1/chat/completions"), (mitm, MITM_URL)) for _ in range(WARM_CONNECTIONS)))
        await phase(api, mitm, page, args.clients, 3.0, args.rate * 2)
        busy = None if args.control else page
        assert omni.process is not None
        pid = omni.process.pid

        async def timed(page_in_phase: httpx.AsyncClient | PageClient | None, page_rate: float = 0) -> Phase:
            was, started = _loop_schedstat(pid), time.perf_counter()
            out = await phase(api, mitm, page_in_phase, args.clients, args.seconds, args.rate, page_rate)
            if was is not None and (now := _loop_schedstat(pid)) is not None:
                out.loop_seconds = time.perf_counter() - started
                out.loop_ran_ms, out.loop_waited_ms = ((after - before) / 1e6 for after, before in zip(now, was))
            return out

        before, started = await gc_collections(api), time.perf_counter()
        rounds = [(await timed(None), await timed(busy, args.page_rate)) for _ in range(args.rounds)]
        elapsed = time.perf_counter() - started
        return rounds, [round((after - was) / elapsed, 2) for was, after in zip(before, await gc_collections(api))]


def _pct(values: list[float], q: int) -> float | None:
    if not values:
        return None
    return round(statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0], 2)


def _p99_moved(calm: list[float], loaded: list[float]) -> float:
    return (_pct(loaded, 99) or 0) - (_pct(calm, 99) or 0)


def _p99_moved_interval(rounds: list[tuple[Phase, Phase]], kind: str, draws: int = 1000) -> list[float]:
    """A 90 % interval for the pooled p99 move, by the bootstrap: the rounds drawn again with
    replacement (each round's quiet and Usage phases together, as they were measured), the
    move computed over each draw. How far the host's noise alone could carry the figure."""
    pick = random.Random(16)
    moves = []
    for _ in range(draws):
        drawn = [rounds[pick.randrange(len(rounds))] for _ in rounds]
        moves.append(_p99_moved([ms for calm, _ in drawn for ms in getattr(calm, kind)],
                                [ms for _, busy in drawn for ms in getattr(busy, kind)]))
    cuts = statistics.quantiles(moves, n=20)
    return [round(cuts[0], 2), round(cuts[-1], 2)]


CALLS_CPU, REST_CPU = 0, 1


def pin_process(pid: int, cpu: int) -> None:
    """Every thread of ``pid`` (and of its children) onto ``cpu``; threads started later inherit it."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), {cpu})
        children = task / "children"
        for child in children.read_text().split() if children.exists() else ():
            pin_process(int(child), cpu)


def renice(pid: int, nice: int) -> None:
    """Every thread of ``pid`` at niceness ``nice``: the scheduler lets the calls' threads go first."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


@contextlib.contextmanager
def callers_first() -> Iterator[None]:
    """This thread (the callers' loop, which times every call) at real-time priority while the
    rounds run: what shares its core (PostgreSQL with ``--pin``, the page's client) cannot then
    delay a call's timing, so a move is what OmniRoute's calls waited, not the instrument. The
    processes and threads it starts keep the normal policy (``SCHED_RESET_ON_FORK``)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(1))
    except PermissionError:
        raise SystemExit("--callers-rt needs root or CAP_SYS_NICE (real-time priority)") from None
    try:
        yield
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.pin:
        if len(os.sched_getaffinity(0)) < 2:
            raise SystemExit("--pin needs two CPUs")
        os.sched_setaffinity(0, {REST_CPU})  # this process, and what it starts, until moved
    with tempfile.TemporaryDirectory(prefix="omniroute-usage-bench-") as tmp:
        home = Path(tmp)
        pg = None
        if args.db == "postgresql":
            from tests.support.servers import PostgresServer

            pg = PostgresServer().start()
            url = pg.url
        else:
            url = f"sqlite:///{home / 'omniroute.db'}"
        try:
            fill_s = fill(url, args.rows)
            env = {"DATABASE_URL": url, "OMNIROUTE_LOG_LEVEL": "warning"}
            with (
                OmniRouteProcess(home, demo=True, bridge=False, env=env) as omni,
                OmniRouteProcess(home / "page", demo=True, bridge=False, proxy=False, env=env)
                if args.page_instance == "other" else contextlib.nullcontext() as other,
            ):
                omni.map_models("codex", {"*": "demo/echo"})
                for proc in (omni, other) if args.pin else ():
                    if proc is not None and proc.process is not None:
                        pin_process(proc.process.pid, CALLS_CPU)  # OmniRoute's processes share its core
                if other is not None and other.process is not None and args.page_nice:
                    renice(other.process.pid, args.page_nice)
                with callers_first() if args.callers_rt else contextlib.nullcontext():
                    rounds, gc_per_s = asyncio.run(measure(omni, args, other.api_url if other else None))
        finally:
            if pg is not None:
                pg.stop()
    quiet, busy = Phase(), Phase()
    for calm_phase, busy_phase in rounds:
        quiet.extend(calm_phase)
        busy.extend(busy_phase)
    report: dict[str, Any] = {"db": args.db, "rows": args.rows, "fillSeconds": round(fill_s, 1),
                              "load": f"{args.rate:g} calls/s of each kind" if args.rate else
                              f"{args.clients} clients in a closed loop", "pageInstance": args.page_instance, "pageNice": args.page_nice,
                              "pageClient": args.page_client, "pageClientNice": args.page_client_nice,
                              "pageRate": args.page_rate or "as fast as they come", "control": args.control,
                              "callersRealTime": args.callers_rt,
                              "pinned": f"OmniRoute on CPU {CALLS_CPU}, the callers and the database on CPU {REST_CPU}"
                              if args.pin else "no"}
    for kind in ("v1", "mitm"):
        calm, loaded = getattr(quiet, kind), getattr(busy, kind)
        # One rare pause (a full garbage collection, the host taking the CPU) sets the pooled p99.
        moved = [_p99_moved(getattr(q, kind), getattr(b, kind)) for q, b in rounds]
        report[kind] = {
            "quiet": {"calls": len(calm), "p50Ms": _pct(calm, 50), "p99Ms": _pct(calm, 99)},
            "usagePage": {"calls": len(loaded), "p50Ms": _pct(loaded, 50), "p99Ms": _pct(loaded, 99)},
            "p99MovedMs": round(_p99_moved(calm, loaded), 2),
            "p99MovedInterval90Ms": _p99_moved_interval(rounds, kind) if len(rounds) > 1 else None,
            "p99MovedByRoundMs": [round(m, 2) for m in moved],
            "p99MovedMedianMs": round(statistics.median(moved), 2),
        }
    report["callsLoop"] = {"quiet": quiet.loop_per_second(), "usagePage": busy.loop_per_second()}
    report["gcCollectionsPerSecond"] = gc_per_s  # the calls' instance, generations 0, 1, 2
    report["pageLoads"] = len(busy.pages)
    report["pageLoadP50Ms"] = _pct(busy.pages, 50)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--clients", type=int, default=8, help="closed loop: callers, half of them MITM")
    parser.add_argument("--rate", type=float, default=0,
                        help="open loop instead: /v1 and MITM calls per second, each")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2, help="quiet/Usage pairs, alternating")
    parser.add_argument("--page-instance", choices=("same", "other"), default="same",
                        help="load the page from the calls' instance, or from a second one on the same database")
    parser.add_argument("--page-nice", type=int, default=0, metavar="N",
                        help="with --page-instance other: run the page's instance at niceness N")
    parser.add_argument("--page-client", choices=("loop", "process"), default="loop",
                        help="load the page from the callers' own event loop, or from a process of its own")
    parser.add_argument("--page-client-nice", type=int, default=0, metavar="N",
                        help="with --page-client process: its niceness")
    parser.add_argument("--page-rate", type=float, default=0, metavar="R",
                        help="at most R page loads a second (default: one after another, as fast as they come)")
    parser.add_argument("--pin", action="store_true",
                        help="OmniRoute's instances alone on CPU 0; callers, page client and PostgreSQL on CPU 1")
    parser.add_argument("--callers-rt", action="store_true",
                        help="time the calls from a real-time (SCHED_FIFO) thread: what shares the callers' "
                             "core cannot delay their timing (needs root or CAP_SYS_NICE)")
    parser.add_argument("--control", action="store_true",
                        help="no page in the Usage phases either: the p99 moves are then this machine's noise")
    parser.add_argument("--page-cost", type=int, default=0, metavar="N",
                        help="no model traffic: the CPU of one page load, each request N times a round "
                             "(benchmarks.usage_page_cost)")
    parser.add_argument("--baseline", metavar="REF", help="with --page-cost: compare with this git ref, side by side")
    args = parser.parse_args()
    print(json.dumps(usage_page_cost.run(args) if args.page_cost else run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
