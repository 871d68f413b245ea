"""`BENCHMARKS.md` from a run's figures: the targets with their verdicts, the tables, and the
analysis written by people kept below its marker."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from omniroute.memory import CHECK_EVERY_S

KEEP_MARKER = "<!-- analysis: everything below this line is kept when the benchmark rewrites this file -->"
# When "at rest" is read: after the load, once OmniRoute's quiet collector (`omniroute.memory`)
# has seen two quiet intervals; every process's RSS is read at that moment.
QUIET_WAIT_S = 2 * CHECK_EVERY_S + 2.0
QUIET_NOTE = f"after {QUIET_WAIT_S:g} s without traffic (the quiet collection: a full collection and a heap trim)"


def _ms(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _round_spread(ours: dict[str, Any], ref: dict[str, Any], key: str = "round_p50") -> str:
    """' (rounds alone: 0.91–1.12 ms)': the lowest and highest added p50 of the rounds."""
    added = [a - b for a, b in zip(ours.get(key) or [], ref.get(key) or []) if a is not None and b is not None]
    if len(added) < 2:
        return ""
    return f" (rounds alone: {_ms(min(added))}–{_ms(max(added))} ms)"


def _list(values: list[float] | None) -> str:
    return ", ".join(_ms(v) for v in values) if values else "—"


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**PASS**" if ok else "**MISS**")


def _targets(r: dict[str, Any]) -> list[tuple[str, str, str]]:
    lat, thr, mem = r.get("latency", {}), r.get("throughput", {}), r.get("memory", {})
    chat, stream, mitm = lat.get("chat", {}), lat.get("stream", {}), lat.get("mitm", {})
    g = lambda group, arm, key: group.get(arm, {}).get(key)
    rows: list[tuple[str, str, str]] = []
    added = _sub(g(chat, "ours", "p50"), g(chat, "direct", "p50"))
    if added is not None and added <= 0:  # a proxy cannot be faster than the call it makes: noise
        rows.append(("/v1 non-streamed added p50 ≤ 1.0 ms", (f"{_ms(added)} ms: below zero, the machine's load "
                      "swamped the difference"), _verdict(None)))
        added = None
    else:
        spread = _round_spread(chat.get("ours", {}), chat.get("direct", {}))
        rows.append(("/v1 non-streamed added p50 ≤ 1.0 ms", f"{_ms(added)} ms{spread}",
                     _verdict(None if added is None else added <= 1.0)))
    lite = _sub(g(chat, "litellm", "p50"), g(chat, "direct", "p50"))
    if lite is not None and added:
        rows.append(("… ≥ 15× less than LiteLLM's added p50", f"LiteLLM {_ms(lite)} ms = {lite / added:.1f}× ours",
                     _verdict(lite / added >= 15 if added > 0 else True)))
    ttfb = _sub(g(stream, "ours_sse", "ttfb_p50"), g(stream, "direct_sse", "ttfb_p50"))
    spread = _round_spread(stream.get("ours_sse", {}), stream.get("direct_sse", {}), "round_ttfb_p50")
    rows.append(("streamed added TTFB p50 ≤ 1.5 ms", f"{_ms(ttfb)} ms{spread}",
                 _verdict(None if ttfb is None else ttfb <= 1.5)))
    slow, delay = lat.get("delayed", {}), r["meta"]["options"].get("delayed_ms")
    slow_added = _sub(g(slow, "ours_delayed", "p50"), g(slow, "direct_delayed", "p50"))
    if slow_added is not None:
        slow_ttfb = _sub(g(slow, "ours_sse_delayed", "ttfb_p50"), g(slow, "direct_sse_delayed", "ttfb_p50"))
        before = _sub(g(slow, "before_delayed", "p50"), g(slow, "direct_delayed", "p50"))
        rows.append((f"the same two against a mock that answers after {delay:g} ms",
                     f"added p50 {_ms(slow_added)} ms (before {_ms(before)}), TTFB {_ms(slow_ttfb)} ms", "reported"))
    per_event = _per_event(stream, "ours_sse", "direct_sse")
    rows.append(("per-event overhead ≤ 10 µs", f"{_ms(per_event, 1)} µs",
                 _verdict(None if per_event is None else per_event <= 10)))
    cpu = g(thr, "ours", "cpu_ms_per_request")
    rows.append(("CPU per /v1 request ≤ 1.2 ms (64 clients)", f"{_ms(cpu)} ms",
                 _verdict(None if cpu is None else cpu <= 1.2)))
    ours_rps, pk_rps = g(thr, "ours", "rps"), g(thr, "portkey", "rps")
    if pk_rps:
        rows.append(("throughput at 64 clients ≥ Portkey's gateway's",
                     f"{_ms(ours_rps, 0)} vs {_ms(pk_rps, 0)} req/s = {_ratio(ours_rps, pk_rps)}",
                     _verdict(None if not ours_rps else ours_rps >= pk_rps)))
    ours_m = _sub(g(mitm, "ours_mitm_mapped", "p50"), g(mitm, "direct_tls", "p50"))
    bare_m = _sub(g(mitm, "mitmdump", "p50"), g(mitm, "direct_tls", "p50"))
    rows.append(("MITM mapped added p50 ≤ 1.2 × bare mitmdump's",
                 f"{_ms(ours_m)} ms vs {_ms(bare_m)} ms = {_ratio(ours_m, bare_m)}",
                 _verdict(None if ours_m is None or not bare_m else ours_m <= 1.2 * bare_m)))
    lite_rps = g(thr, "litellm", "rps")
    if lite_rps:
        rows.append(("throughput vs LiteLLM's (one worker each)",
                     f"{_ms(ours_rps, 0)} vs {_ms(lite_rps, 0)} req/s = {_ratio(ours_rps, lite_rps)}", "reported"))
    for name, stats in thr.items():
        if name.startswith("ours_x") and ours_rps:
            rows.append((f"scaling: {name[6:]} API instances (--workers), client-side balanced",
                         f"{_ms(stats['rps'], 0)} vs {_ms(ours_rps, 0)} req/s = {_ratio(stats['rps'], ours_rps)}",
                         "reported"))
    scaled = (r.get("scale_out") or {}).get("counts", {})
    if scaled.get("1", {}).get("rps"):
        rates = ", ".join(f"{n}: {_ms(s['rps'], 0)}" for n, s in scaled.items())
        rows.append(("scale-out behind nginx, shared PostgreSQL + Redis (req/s by instances)", rates, "reported"))
    flows = mem.get("with_flows_mb")
    busy = mem.get("busy_flows_mb")
    at_end = f"; {_ms(busy, 0)} MB right after the load" if busy is not None else ""
    rows.append(("RSS ≤ 200 MB with 10,000 captured flows",
                 f"{_ms(flows, 0)} MB with {mem.get('flows', '?')} flows, at rest{at_end}",
                 _verdict(None if flows is None or mem.get("flows", 0) < 10_000 else flows <= 200)))
    start = r.get("startup", {})
    for kind in ("cold", "warm"):
        values, cpu = start.get(f"{kind}_s") or [], start.get(f"{kind}_cpu_s") or []
        med = statistics.median(values) if values else None
        med_cpu = statistics.median(cpu) if cpu else None
        label = "start-up ≤ 2 s, " + ("fresh home (CA + database created)" if kind == "cold" else "existing home")
        rows.append((label, f"{_ms(med)} s wall, {_ms(med_cpu)} s CPU (median of {len(values)})",
                     _verdict(None if med is None else med <= 2.0)))
    return rows


def _per_event(group: dict[str, Any], ours: str, ref: str) -> float | None:
    """µs added per event: (last − first byte) of ours minus the direct call's, over the events."""
    a, b = group.get(ours, {}), group.get(ref, {})
    diff = _sub(a.get("body_p50"), b.get("body_p50"))
    events = a.get("events") or 0
    return None if diff is None or not events else 1000 * diff / events


LAT_ROWS = [  # (label, group, ours arm, reference arm for "direct")
    ("/v1/chat/completions non-streamed", "chat", "ours", "direct"),
    ("/v1/chat/completions streamed (total)", "stream", "ours_sse", "direct_sse"),
    ("/v1/messages → OpenAI upstream", "messages", "ours_messages", "direct"),
    ("MITM mapped (HTTPS via HTTP_PROXY → engine)", "mitm", "ours_mitm_mapped", "direct_tls"),
    ("MITM passthrough (unmapped → TLS upstream)", "mitm", "ours_mitm_passthrough", "direct_tls"),
    ("MITM mapped, capture off (inspector_enabled=false)", "mitm", "noinsp_mitm_mapped", "direct_tls"),
    ("MITM passthrough, capture off", "mitm", "noinsp_mitm_passthrough", "direct_tls"),
    ("Responses over WebSocket", "ws", "ours_ws", "direct_ws"),
    ("/v1/chat/completions non-streamed, delayed mock", "delayed", "ours_delayed", "direct_delayed"),
    ("/v1/chat/completions streamed (total), delayed mock", "delayed", "ours_sse_delayed", "direct_sse_delayed"),
]
PEERS = {"chat": ("litellm", None), "stream": ("litellm_sse", None), "mitm": (None, "mitmdump"),
         "delayed": (None, None)}
OTHERS = {"chat": ("before", "portkey"), "stream": ("before_sse",),  # more rows, no ratio column of their own
          "delayed": ("before_delayed", "portkey_delayed")}


def _latency_table(r: dict[str, Any]) -> list[str]:
    lat = r.get("latency", {})
    out = [("| path (concurrency 1) | ours p50 / p99 | direct p50 / p99 | added p50 / p99 | ours / direct | "
           "ours / bare mitmdump (added) | ours / LiteLLM (added) | errors |"), "|---|---|---|---|---|---|---|---|"]
    for label, group, ours, ref in LAT_ROWS:
        arms = lat.get(group, {})
        a, d = arms.get(ours), arms.get(ref)
        if not a or not d:
            continue
        lite_arm, mitm_arm = PEERS.get(group, (None, None))
        added = _sub(a["p50"], d["p50"])
        vs_mitm = _ratio(added, _sub(arms.get(mitm_arm, {}).get("p50"), d["p50"])) if mitm_arm in arms else "—"
        vs_lite = _ratio(added, _sub(arms.get(lite_arm, {}).get("p50"), d["p50"])) if lite_arm in arms else "—"
        out.append(f"| {label} | {_ms(a['p50'])} / {_ms(a['p99'])} | {_ms(d['p50'])} / {_ms(d['p99'])} | "
                   f"{_ms(added)} / {_ms(_sub(a['p99'], d['p99']))} | {_ratio(a['p50'], d['p50'])} | {vs_mitm} | "
                   f"{vs_lite} | {a['errors']} |")
    for group, (lite_arm, mitm_arm) in PEERS.items():
        arms = lat.get(group, {})
        for peer in (lite_arm, mitm_arm, *OTHERS.get(group, ())):
            if peer and peer in arms:
                ref = next(ref for _, g, _, ref in LAT_ROWS if g == group)
                p = arms[peer]
                out.append(f"| *{peer}* ({group}) | {_ms(p['p50'])} / {_ms(p['p99'])} | — | "
                           f"{_ms(_sub(p['p50'], arms[ref]['p50']))} / {_ms(_sub(p['p99'], arms[ref]['p99']))} | "
                           f"{_ratio(p['p50'], arms[ref]['p50'])} | — | — | {p['errors']} |")
    return out


def _stream_table(r: dict[str, Any]) -> list[str]:
    lat = r.get("latency", {})
    out = ["| stream | TTFB p50 / p99 | added TTFB p50 | events | last−first byte p50 | per-event overhead |",
           "|---|---|---|---|---|---|"]
    for group, ours, ref in (("stream", "ours_sse", "direct_sse"), ("stream", "before_sse", "direct_sse"),
                             ("stream", "litellm_sse", "direct_sse"),
                             ("delayed", "ours_sse_delayed", "direct_sse_delayed"),
                             ("ws", "ours_ws", "direct_ws")):
        arms = lat.get(group, {})
        if ours not in arms or ref not in arms:
            continue
        for name in (ref, ours):
            a = arms[name]
            added = "—" if name == ref else _ms(_sub(a["ttfb_p50"], arms[ref]["ttfb_p50"]))
            pe = "—" if name == ref else f"{_ms(_per_event(arms, name, ref), 1)} µs"
            out.append(f"| {name} | {_ms(a['ttfb_p50'])} / {_ms(a['ttfb_p99'])} ms | {added} ms | {a['events']:.0f} | "
                       f"{_ms(a['body_p50'])} ms | {pe} |")
    return list(dict.fromkeys(out))  # the direct row appears once per group


def _throughput_table(r: dict[str, Any]) -> list[str]:
    thr = r.get("throughput", {})
    c = r["meta"]["options"]["concurrency"]
    ours = thr.get("ours", {}).get("rps")
    out = [f"| target ({c} clients) | req/s | p50 ms | p99 ms | CPU ms / request | ours /v1 ÷ this | errors |",
           "|---|---|---|---|---|---|---|"]
    for name, s in thr.items():
        out.append(f"| {name} | {_ms(s['rps'], 0)} | {_ms(s['p50'])} | {_ms(s['p99'])} | "
                   f"{_ms(s.get('cpu_ms_per_request'))} | {_ratio(ours, s['rps'])} | {s['errors']} |")
    return out


def _scale_out_table(r: dict[str, Any]) -> list[str]:
    scale = r.get("scale_out")
    if not scale:
        return ["Not measured in this run."]
    if "error" in scale:
        return [f"Not measured: {scale['error']}"]
    counts = scale["counts"]
    one = counts.get("1", {}).get("rps")
    out = ["N instances (`DATABASE_URL` = one PostgreSQL, `REDIS_URL` = one Redis, same `secret.key`) behind",
           (f"one nginx ({scale.get('nginx', '?')}, 1 worker, keep-alive upstreams) on loopback; "
            f"{scale['concurrency']} clients; counts interleaved in rounds. CPU per request counts every"),
           "instance and nginx. On 2 cores more instances than cores cannot add CPU: the figure to read",
           "here is that state sharing holds up (0 errors, requests spread) and what each instance costs.",
           "",
           "| instances | req/s | × one instance | p50 ms | p99 ms | CPU ms / request | errors |",
           "|---|---|---|---|---|---|---|"]
    for n, s in counts.items():
        out.append(f"| {n} | {_ms(s['rps'], 0)} | {_ratio(s['rps'], one)} | {_ms(s['p50'])} | {_ms(s['p99'])} | "
                   f"{_ms(s.get('cpu_ms_per_request'))} | {s['errors']} |")
    return out


def write_report(r: dict[str, Any], path: Path, extra: list[str] | None = None) -> None:
    m, mem, st = r["meta"], r.get("memory", {}), r.get("startup", {})
    lines = [
        "# OmniRoute benchmarks",
        "",
        "Generated by `benchmarks/` — rerun with the command below. Every figure on this page comes",
        "from one run, with the arms of each comparison interleaved in rounds, because the machine is",
        "shared: absolute milliseconds drift with other people's work, side-by-side ratios hold better.",
        "",
        f"- **Command:** `{m['command']}`",
        f"- **When:** {m['started']} → {m.get('finished', '?')}",
        (f"- **Machine:** {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB RAM, Python {m['python']}, "
        f"mitmproxy {m['mitmproxy']}, httpx {m['httpx']}"),
        (f"- **Load average** (shared machine): {' '.join(m['loadavg_start'])} at start, "
        f"{' '.join(m.get('loadavg_end', ['?']))} at the end — on {m['nproc']} CPUs, so the load generator,"
        " the mock and the targets competed with other work for the cores."),
        (f"- **Setup:** mock provider (own process) with a fixed {m['options']['delay_ms']:g} ms delay, no delay "
        f"between stream events (a second one answering after {m['options'].get('delayed_ms', 0):g} ms for the "
        "*delayed mock* rows); load from separate processes (asyncio httpx / websockets clients, keep-alive, "
        f"2 processes at concurrency > 1); {m['options']['requests']} timed requests per arm at concurrency 1 "
        f"in {m['options']['rounds']} interleaved rounds; {m['options']['throughput_requests']} requests per "
        "throughput arm; every load bounded in count and time, loopback only."),
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in _targets(r)],
        "",
        "## Added latency (ratios side by side)",
        "",
        "Added = ours − direct (difference of the percentiles). *ours / bare mitmdump* and *ours / LiteLLM*",
        "compare added latency on the same path (MITM rows against bare mitmdump forwarding the same HTTPS",
        "call to the TLS mock; /v1 rows against LiteLLM's proxy). Direct for MITM rows is HTTPS to the TLS mock.",
        "",
        *_latency_table(r),
        "",
        "## Streams",
        "",
        *_stream_table(r),
        "",
        "## Throughput",
        "",
        *_throughput_table(r),
        "",
        "CPU per request: utime+stime of the target's process tree (/proc/<pid>/stat) over the run, divided",
        "by the requests served (warm-up included). For MITM rows the OmniRoute process does both proxy and",
        "engine work.",
        "",
        "## Scale-out: instances behind a load balancer, sharing PostgreSQL and Redis",
        "",
        *_scale_out_table(r),
        "",
        "## Memory and start-up",
        "",
        "| figure | value |",
        "|---|---|",
        f"| OmniRoute RSS idle (configured, no traffic) | {_ms(mem.get('ours_idle_mb'), 0)} MB |",
        f"| OmniRoute RSS after {mem.get('requests', '?')} /v1 requests | {_ms(mem.get('after_requests_mb'), 0)} MB |",
        f"| OmniRoute RSS with {mem.get('flows', '?')} captured flows in the ring, right after the load | {_ms(mem.get('busy_flows_mb'), 0)} MB |",
        f"| … at rest, {QUIET_NOTE} | {_ms(mem.get('with_flows_mb'), 0)} MB |",
        f"| OmniRoute with capture off (inspector_enabled=false), at the end of the MITM runs, at rest | {_ms(mem.get('capture_off_after_mb'), 0)} MB |",
        f"| bare mitmdump RSS idle / at the end | {_ms(mem.get('mitmdump_idle_mb'), 0)} / {_ms(mem.get('mitmdump_after_mb'), 0)} MB |",
        f"| LiteLLM RSS idle / at the end | {_ms(mem.get('litellm_idle_mb'), 0)} / {_ms(mem.get('litellm_after_mb'), 0)} MB |",
        f"| start-up to ready, first instance of the run (fresh home) | {_ms(r.get('startup_first_s'))} s |",
        f"| start-up to ready, fresh home: wall / CPU | {_list(st.get('cold_s'))} s / {_list(st.get('cold_cpu_s'))} s |",
        f"| start-up to ready, existing home (the run's database): wall / CPU | {_list(st.get('warm_s'))} s / {_list(st.get('warm_cpu_s'))} s |",
        f"| bare mitmdump spawn → listening: wall / CPU | {_list(st.get('mitmdump_s'))} s / {_list(st.get('mitmdump_cpu_s'))} s |",
        "",
        "Start-up CPU seconds (utime+stime at the moment /health says ready) do not grow with the",
        "machine's load the way wall time does; on an idle machine wall ≈ CPU.",
        "",
    ]
    kept = r.get("kept_on")
    if kept:
        lines += [
            "## Kept on during this run",
            "",
            "Nothing was switched off for these figures; the measured instance (`ours`) ran with:",
            "",
            (f"- API keys required on `/v1` (`OMNIROUTE_REQUIRE_API_KEY=true`; every arm sends a key): a call "
             f"without one got HTTP {kept['no_key_status']}."),
            "- Host/Origin guard and the request-body limit (always on).",
            (f"- Usage rows: {kept['usage_rows']} written for the {kept['v1_requests']} /v1 calls and the mapped "
             "MITM calls it served (each one a row, written in batches off the loop)."),
            f"- Inspector capture on: {kept['captured_flows']} flows in the ring at the end.",
            f"- Routing with fallback and circuit breakers (`/api/resilience`: {', '.join(kept['resilience_keys'])}).",
            "",
        ]
    prof = r.get("profile", {})
    if prof:
        lines += ["## Profile under load (py-spy, OmniRoute process)", ""]
        for name, spots in prof.items():
            lines += [f"### {name} — % of samples", "", "| own time | % | inclusive (our code) | % |", "|---|---|---|---|"]
            own, inc = spots.get("own", []), spots.get("inclusive", [])
            for i in range(max(len(own), len(inc))):
                a = own[i] if i < len(own) else ("", "")
                b = inc[i] if i < len(inc) else ("", "")
                lines.append(f"| `{a[0]}` | {a[1]} | `{b[0]}` | {b[1]} |")
            lines.append("")
    if r.get("notes"):
        lines += ["## Notes from this run", "", *[f"- {n}" for n in r["notes"]], ""]
    if extra:
        lines += extra
    # The analysis written by people (hot spots, suggestions) survives a rerun.
    kept = path.read_text().split(KEEP_MARKER, 1)[1] if path.exists() and KEEP_MARKER in path.read_text() else "\n"
    path.write_text("\n".join(lines) + "\n" + KEEP_MARKER + kept)
