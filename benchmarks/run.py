"""Orchestration: start every target, drive the load generator, gather figures, write the report.

Ratios come from one run with the arms interleaved (see `load.py`): the machine is shared, so
absolute numbers drift with other people's work while side-by-side ratios hold up better.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import targets as t
from benchmarks.detail import detail_tables
from benchmarks.figures import RoundTotals, summarize
from benchmarks.load import generate_load
from benchmarks.options import Options, machine, parse
from benchmarks.report import QUIET_WAIT_S, write_report
from benchmarks.scale_out import run_scale_out
from benchmarks.startup import timed_start
from tests.support.harness import OmniRouteProcess

MODEL = "gpt-4o-mini"
OURS_MODEL = f"mock/{MODEL}"
SLOW_MODEL = f"slow/{MODEL}"  # the provider in front of the delayed mock
# ~40 words: the mock echoes them back as ~45 word-sized stream events.
PROMPT = " ".join(f"word{i}" for i in range(40))


@dataclass
class Bench:
    opts: Options
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="omniroute-bench-")))
    procs: list[Any] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    v1_requests: int = 0  # /v1 calls served by `ours` so far (for "RSS after 10,000 requests")

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    # -- targets ------------------------------------------------------------------------------
    def start(self) -> None:
        logs = self.work
        self.mock, self.mock_url = t.start_mock(logs, self.opts.delay_ms, 0)
        self.procs.append(self.mock)
        self.slow_url: str | None = None  # the same mock, answering after `delayed_ms`
        if self.opts.delayed_ms > 0:
            self.slow, self.slow_url = t.start_mock(logs, self.opts.delayed_ms, 0)
            self.procs.append(self.slow)
        self.upstream, self.up = t.start_upstream(logs, self.work / "upstream", self.opts.delay_ms)
        self.up_ca_copy = str(self.work / "upstream-ca.pem")  # outlives the upstream process's files
        Path(self.up_ca_copy).write_bytes(Path(self.up["ca_file"]).read_bytes())
        self.procs.append(self.upstream)
        self.mitm, self.mitm_port, self.mitm_ca = t.start_mitmdump(logs, self.work, self.up["ca_file"])
        self.procs.append(self.mitm)
        # API keys required on /v1 (the key is sent by every /v1 arm): nothing is switched off for speed.
        env = {"OMNIROUTE_UPSTREAM_DNS": "127.0.0.1", "OMNIROUTE_UPSTREAM_DNS_PORT": str(self.up["dns_port"]),
               "OMNIROUTE_INSPECTOR_RING_SIZE": str(max(self.opts.flows, 1000)), "OMNIROUTE_REQUIRE_API_KEY": "true"}
        began = time.perf_counter()
        self.ours = OmniRouteProcess(env=env).start(timeout=180)
        self.results["startup_first_s"] = time.perf_counter() - began
        self.procs.append(self.ours)
        # The same product with capture switched off by its own setting: what the Inspector costs.
        self.bare = OmniRouteProcess(env={**env, "OMNIROUTE_INSPECTOR_ENABLED": "false"}).start(timeout=180)
        self.procs.append(self.bare)
        self.extra: list[OmniRouteProcess] = []
        for _ in range(self.opts.workers - 1):
            self.extra.append(OmniRouteProcess(proxy=False, bridge=False).start(timeout=180))
            self.procs.append(self.extra[-1])
        self.before: OmniRouteProcess | None = None
        if self.opts.baseline:
            src = t.baseline_tree(self.opts.baseline, self.work)
            self.before = OmniRouteProcess(proxy=False, bridge=False, env={**env, "PYTHONPATH": str(src)}).start(timeout=180)
            self.procs.append(self.before)
        self.keys: dict[int, str] = {}
        for proc in (self.ours, self.bare, *self.extra, *([self.before] if self.before else [])):
            self.configure(proc)
        self.portkey_url: str | None = None
        if self.opts.with_portkey:
            try:
                self.portkey, self.portkey_url = t.start_portkey(logs, self.mock_url, self.log)
                self.procs.append(self.portkey)
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                self.notes.append(f"Portkey's gateway could not be started: {str(exc).splitlines()[0]}")
        self.litellm_url: str | None = None
        if self.opts.with_litellm:
            try:
                self.litellm, self.litellm_url = t.start_litellm(logs, self.work, self.mock_url, self.log)
                self.procs.append(self.litellm)
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                self.notes.append(f"LiteLLM could not be started: {str(exc).splitlines()[0]}")

    def configure(self, proc: OmniRouteProcess) -> None:
        proc.add_provider("openai", "mock", f"{self.mock_url}/v1", api_key="sk-bench-0001")
        if self.slow_url:
            proc.add_provider("openai", "slow", f"{self.slow_url}/v1", api_key="sk-bench-0001")
        with proc.api() as api:  # a model-API key (scope write), sent by the arms as Authorization
            created = api.post("/api/keys", json={"label": "bench", "scope": "write"})
            created.raise_for_status()
            self.keys[proc.api_port] = created.json()["key"]
        if proc.proxy_port:
            proc.map_models("codex", {"*": OURS_MODEL})  # api.openai.com: mapped
            with proc.api() as api:  # api.anthropic.com stays unmapped: passthrough to the TLS mock
                api.post("/api/tools/agent-bridge/upstream-ca", json={"path": self.up["ca_file"]}).raise_for_status()

    def stop(self) -> None:
        t.stop_all(self.procs, self.log)

    # -- arms ---------------------------------------------------------------------------------
    def chat(self, stream: bool = False, model: str = MODEL) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}
        return {**body, "stream": True} if stream else body

    def auth(self, proc: OmniRouteProcess, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[proc.api_port]}", **(extra or {})}

    def arms(self) -> dict[str, dict[str, Any]]:
        ours, bare, up = self.ours, self.bare, self.up
        kind = "http"
        key = self.auth(ours)
        arms: dict[str, dict[str, Any]] = {
            "direct": {"urls": [f"{self.mock_url}/v1/chat/completions"], "body": self.chat()},
            "ours": {"urls": [f"{ours.api_url}/v1/chat/completions"], "body": self.chat(model=OURS_MODEL), "headers": key},
            "direct_sse": {"urls": [f"{self.mock_url}/v1/chat/completions"], "body": self.chat(True), "kind": "sse"},
            "ours_sse": {"urls": [f"{ours.api_url}/v1/chat/completions"], "body": self.chat(True, OURS_MODEL), "kind": "sse",
                         "headers": key},
            "ours_messages": {"urls": [f"{ours.api_url}/v1/messages"], "headers": self.auth(ours, {"anthropic-version": "2023-06-01"}),
                              "body": {"model": OURS_MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}},
            "direct_tls": {"urls": [f"https://{up['ip']}/v1/chat/completions"], "body": self.chat(), "cafile": up["ca_file"]},
            "mitmdump": {"urls": [f"https://{up['ip']}/v1/chat/completions"], "body": self.chat(),
                         "proxy": f"http://127.0.0.1:{self.mitm_port}", "cafile": str(self.mitm_ca)},
            "ours_mitm_mapped": {"urls": ["https://api.openai.com/v1/chat/completions"], "body": self.chat(),
                                 "proxy": ours.proxy_url, "cafile": str(ours.ca_cert)},
            "ours_mitm_passthrough": {"urls": ["https://api.anthropic.com/v1/chat/completions"], "body": self.chat(),
                                      "proxy": ours.proxy_url, "cafile": str(ours.ca_cert)},
            "noinsp_mitm_mapped": {"urls": ["https://api.openai.com/v1/chat/completions"], "body": self.chat(),
                                   "proxy": bare.proxy_url, "cafile": str(bare.ca_cert)},
            "noinsp_mitm_passthrough": {"urls": ["https://api.anthropic.com/v1/chat/completions"], "body": self.chat(),
                                        "proxy": bare.proxy_url, "cafile": str(bare.ca_cert)},
            "direct_ws": {"urls": [f"ws://127.0.0.1:{self.mock_url.rsplit(':', 1)[1]}/v1/responses"], "kind": "ws",
                          "body": {"model": MODEL, "input": PROMPT}},
            "ours_ws": {"urls": [f"ws://127.0.0.1:{ours.api_port}/v1/responses"], "kind": "ws",
                        "body": {"model": OURS_MODEL, "input": PROMPT}, "headers": key},
        }
        if self.before:
            arms["before"] = {**arms["ours"], "urls": [f"{self.before.api_url}/v1/chat/completions"],
                              "headers": self.auth(self.before)}
            arms["before_sse"] = {**arms["ours_sse"], "urls": arms["before"]["urls"], "headers": self.auth(self.before)}
        if self.portkey_url:
            # Portkey's streamed replies fail on Node 20 (`TypeError: immutable`, Portkey-AI/gateway#1389,
            # #1550), so it is measured on the non-streamed call only.
            arms["portkey"] = {"urls": [f"{self.portkey_url}/v1/chat/completions"], "body": self.chat(),
                               "headers": t.portkey_headers(self.mock_url)}
        if self.litellm_url:
            arms["litellm"] = {"urls": [f"{self.litellm_url}/v1/chat/completions"], "body": self.chat(),
                               "headers": {"authorization": f"Bearer {t.LITELLM_KEY}"}}
            arms["litellm_sse"] = {**arms["litellm"], "body": self.chat(True), "kind": "sse"}
        if self.slow_url:
            slow = f"{self.slow_url}/v1/chat/completions"
            arms["direct_delayed"] = {**arms["direct"], "urls": [slow]}
            arms["direct_sse_delayed"] = {**arms["direct_sse"], "urls": [slow]}
            arms["ours_delayed"] = {**arms["ours"], "body": self.chat(model=SLOW_MODEL)}
            arms["ours_sse_delayed"] = {**arms["ours_sse"], "body": self.chat(True, SLOW_MODEL)}
            if self.before:
                arms["before_delayed"] = {**arms["before"], "body": self.chat(model=SLOW_MODEL)}
            if self.portkey_url:
                arms["portkey_delayed"] = {**arms["portkey"], "headers": t.portkey_headers(self.slow_url)}
        if self.extra:
            urls = [p.api_url + "/v1/chat/completions" for p in (ours, *self.extra)]
            arms[f"ours_x{len(urls)}"] = {**arms["ours"], "urls": urls}
        for name, arm in arms.items():
            arm.setdefault("kind", kind)
            arm["name"] = name
        return arms

    # -- load ---------------------------------------------------------------------------------
    def load(self, names: list[str], requests: int, concurrency: int, rounds: int, max_seconds: float) -> dict[str, Any]:
        arms = self.arms()
        spec = {"arms": [arms[n] for n in names if n in arms], "requests": requests, "concurrency": concurrency,
                "processes": 2 if concurrency > 1 else 1, "rounds": rounds, "max_seconds": max_seconds,
                "warmup": max(5, concurrency)}
        raw = generate_load(spec, self.log)
        for name in ("ours", "ours_sse", "ours_messages", "ours_ws", "ours_delayed", "ours_sse_delayed"):
            if name in raw:
                self.v1_requests += len(raw[name]["samples"]) + raw[name]["warmup"]
        return raw

    def latency(self) -> None:
        o = self.opts
        groups = {
            "chat": ["direct", "ours", "before", "portkey", "litellm"],
            "stream": ["direct_sse", "ours_sse", "before_sse", "litellm_sse"],
            "messages": ["direct", "ours_messages"],
            "mitm": ["direct_tls", "mitmdump", "ours_mitm_mapped", "ours_mitm_passthrough",
                     "noinsp_mitm_mapped", "noinsp_mitm_passthrough"],
            "ws": ["direct_ws", "ours_ws"],
            # The same calls against an upstream that takes `delayed_ms`: each process idles
            # between request and reply, as it does against a real provider.
            "delayed": ["direct_delayed", "ours_delayed", "before_delayed", "portkey_delayed",
                        "direct_sse_delayed", "ours_sse_delayed"],
        }
        out: dict[str, Any] = {}
        arms = self.arms()
        for group, names in groups.items():
            if not any(name in arms for name in names):
                continue
            self.log(f"latency at concurrency 1: {group} ({', '.join(names)}), {o.requests} requests per arm")
            raw = self.load(names, o.requests, 1, o.rounds, o.max_seconds)
            out[group] = {name: summarize(r) for name, r in raw.items()}
        self.results["latency"] = out

    def throughput(self) -> None:
        o = self.opts
        names = ["direct", "ours", "before", "portkey", "litellm", "mitmdump", "ours_mitm_mapped", "ours_mitm_passthrough",
                 "noinsp_mitm_mapped", *[n for n in self.arms() if n.startswith("ours_x")]]
        pids = {"direct": self.mock.pid, "ours": self.ours.process.pid, "mitmdump": self.mitm.pid,
                "ours_mitm_mapped": self.ours.process.pid, "ours_mitm_passthrough": self.ours.process.pid,
                "noinsp_mitm_mapped": self.bare.process.pid}
        if self.litellm_url:
            pids["litellm"] = self.litellm.pid
        if self.portkey_url:
            pids["portkey"] = self.portkey.pid
        if self.before:
            pids["before"] = self.before.process.pid  # type: ignore[union-attr]
        names = [n for n in names if n in self.arms()]
        rounds = 1 if o.quick else 2  # interleaved, like the latency arms: drift hits all alike
        totals = {n: RoundTotals() for n in names}
        for r in range(rounds):
            for name in names:
                self.log(f"throughput at concurrency {o.concurrency}: {name} (round {r + 1}/{rounds})")
                watched = ([self.ours.process.pid, *(p.process.pid for p in self.extra)]
                           if name.startswith("ours_x") else [pids[name]])
                cpu0 = sum(t.cpu_seconds(p) for p in watched)
                raw = self.load([name], o.throughput_requests // rounds, o.concurrency, 1, o.max_seconds / rounds)[name]
                totals[name].add(raw, sum(t.cpu_seconds(p) for p in watched) - cpu0)
        out = {name: total.summary() for name, total in totals.items()}
        self.results["throughput"] = out

    def scale_out(self) -> None:
        o = self.opts
        counts = (1, 2) if o.quick else (1, 2, 4)
        self.log(f"scale-out: {', '.join(map(str, counts))} instances behind nginx (PostgreSQL + Redis shared)")
        self.results["scale_out"] = run_scale_out(
            self.work, self.mock_url, counts=counts, requests=o.throughput_requests,
            concurrency=o.concurrency, rounds=1 if o.quick else 2, max_seconds=o.max_seconds, log=self.log)

    # -- memory, start-up, profile ------------------------------------------------------------
    def captured(self) -> int:
        with self.ours.api() as api:
            return int(api.get("/api/tools/traffic-inspector/requests", params={"limit": 1}).json()["total"])

    def memory(self) -> None:
        o, mem = self.opts, self.results.setdefault("memory", {})
        missing = o.flows - self.v1_requests
        if missing > 0:
            self.log(f"memory: {missing} more /v1 requests to reach {o.flows}")
            self.load(["ours"], missing, o.concurrency, 1, 180)  # load() counts them
        mem["after_requests_mb"], mem["requests"] = t.rss_mb(self.ours.process.pid), self.v1_requests
        missing = o.flows - self.captured()
        if missing > 0:
            self.log(f"memory: {missing} more captured MITM flows to reach {o.flows}")
            self.load(["ours_mitm_mapped"], missing, o.concurrency, 1, 360)
        mem["busy_flows_mb"] = t.rss_mb(self.ours.process.pid)
        # At rest: OmniRoute gives memory back once a burst is over and the process is quiet
        # (`omniroute.memory`: within two of its 5 s intervals). Every process is read then.
        time.sleep(QUIET_WAIT_S)
        mem["with_flows_mb"], mem["flows"] = t.rss_mb(self.ours.process.pid), self.captured()
        mem["mitmdump_after_mb"] = t.rss_mb(self.mitm.pid)
        # Same product, capture off, after its own (fewer) MITM calls: what is not the ring.
        mem["capture_off_after_mb"] = t.rss_mb(self.bare.process.pid)  # type: ignore[union-attr]
        if self.litellm_url:
            mem["litellm_after_mb"] = t.rss_mb(self.litellm.pid)

    def kept_on(self) -> None:
        """What the measured instance still did for every call: the proof that nothing was
        switched off for the figures above."""
        with self.ours.api() as api:
            usage = api.get("/api/usage/call-logs", params={"limit": 1}).json()["total"]
            no_key = api.post("/v1/chat/completions", json=self.chat(model=OURS_MODEL)).status_code
            resilience = api.get("/api/resilience").json()
        self.results["kept_on"] = {
            "usage_rows": usage, "v1_requests": self.v1_requests, "no_key_status": no_key,
            "captured_flows": self.captured(), "resilience_keys": sorted(resilience)[:8],
        }

    def idle_memory(self) -> None:
        time.sleep(1.0)  # let start-up garbage settle
        mem = self.results.setdefault("memory", {})
        mem["ours_idle_mb"] = t.rss_mb(self.ours.process.pid)
        mem["mitmdump_idle_mb"] = t.rss_mb(self.mitm.pid)
        if self.litellm_url:
            mem["litellm_idle_mb"] = t.rss_mb(self.litellm.pid)

    def profile(self) -> None:
        from benchmarks.figures import hot_spots

        spy = t.VENV_BIN / "py-spy"
        if not spy.exists():
            self.notes.append("profile skipped: py-spy is not installed in .venv")
            return
        seconds = 6 if self.opts.quick else 15
        prof: dict[str, Any] = {}
        for name in ("ours", "ours_mitm_mapped"):
            out = self.work / f"profile-{name}.txt"
            self.log(f"profiling {name} with py-spy for {seconds}s")
            # The load runs in a thread; py-spy attaches once its clients are connected, so the
            # profile shows steady-state requests rather than 64 TLS handshakes.
            loader = threading.Thread(target=self.load, args=([name], 10**6, self.opts.concurrency, 1, seconds + 8))
            loader.start()
            time.sleep(4)
            spy_run = subprocess.run([str(spy), "record", "-p", str(self.ours.process.pid), "-d", str(seconds),
                                      "-r", "200", "-f", "raw", "-o", str(out), "--nonblocking"],
                                     check=False, capture_output=True, timeout=seconds + 60)
            loader.join(seconds + 130)
            if out.exists():
                prof[name] = hot_spots(out.read_text())
            else:
                self.notes.append(f"py-spy produced no profile for {name}: {spy_run.stderr.decode(errors='replace')[-300:]}")
        self.results["profile"] = prof

    def startup(self) -> None:
        """Spawn → /health ready (and the CPU seconds spent getting there, which the shared
        machine's load does not inflate): fresh home (CA and database created), the home of
        the run's instance (existing database with every usage row of the run), bare mitmdump."""
        n = 1 if self.opts.quick else 3  # an odd count: the median is one real start
        out: dict[str, list[float]] = {"cold_s": [], "cold_cpu_s": [], "warm_s": [], "warm_cpu_s": [],
                                       "mitmdump_s": [], "mitmdump_cpu_s": []}
        for _ in range(n):
            for kind, home in (("cold", None), ("warm", self.ours.home)):
                wall, cpu = timed_start(home)
                out[f"{kind}_s"].append(wall)
                out[f"{kind}_cpu_s"].append(cpu)
            began = time.perf_counter()
            work = Path(tempfile.mkdtemp(prefix="mitmdump-start-", dir=self.work))
            mitm, _, _ = t.start_mitmdump(work, work, self.up_ca_copy)
            try:
                out["mitmdump_s"].append(time.perf_counter() - began)
                out["mitmdump_cpu_s"].append(t.cpu_seconds(mitm.pid))
            finally:
                mitm.stop()
        self.results["startup"] = out

    # -- the whole run ------------------------------------------------------------------------
    def run(self) -> int:
        self.results["meta"] = machine(self.opts)
        try:
            self.log(f"starting targets (work dir {self.work})")
            self.start()
            self.idle_memory()
            self.latency()
            self.throughput()
            self.scale_out()
            self.memory()
            self.kept_on()
            self.profile()
            self.procs.remove(self.ours)
            self.ours.stop()  # its home stays for the warm start-up figure
            self.stop()
            self.log("start-up times (the other targets are stopped)")
            self.startup()
        finally:
            self.stop()
            if hasattr(self, "ours"):
                self.ours.close()
        self.results["meta"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
        self.results["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        self.results["notes"] = self.notes
        (self.work / "results.json").write_text(json.dumps(self.results, indent=1))
        write_report(self.results, self.opts.out, detail_tables(self.opts.quick, self.log) if self.opts.detail else None)
        self.log(f"wrote {self.opts.out} (raw figures: {self.work / 'results.json'})")
        return 0


def main(argv: list[str] | None = None) -> int:
    opts = parse(list(sys.argv[1:] if argv is None else argv))
    return Bench(opts).run()
