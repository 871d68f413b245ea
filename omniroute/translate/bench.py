"""Micro-benchmark of the translation layer: ``python -m omniroute.translate.bench``.

Reports, for every format pair that is available:
* per-event stream cost — an upstream stream (thinking, 400 text deltas, two tool calls with
  argument deltas, usage) is framed, decoded and re-encoded one upstream event per ``feed``
  (as it arrives from the network); cost = total time / upstream events (target < 30 µs);
* per-request cost — a 50-message conversation with tools, tool calls, tool results and an
  image translated with ``translate_request``.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

from . import StreamTranslator, available_formats, get_format, translate_request
from .base import response_events
from .ir import (
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    Sampling,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

CORE = ["openai-chat", "anthropic", "openai-responses"]


def conversation(n_messages: int = 50) -> IRRequest:
    tools = [
        Tool(f"tool_{i}", f"Tool number {i} does a thing with files.",
             {"type": "object", "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
              "required": ["path"]})  # fmt: skip
        for i in range(12)
    ]
    msgs: list[Message] = [Message("user", [TextPart("Refactor the project. " * 20),
                                            ImagePart(data="iVBORw0KGgo=" * 20, media_type="image/png")])]  # fmt: skip
    i = 0
    while len(msgs) < n_messages:
        call = ToolCallPart(f"call_{i:06d}", f"tool_{i % 12}", json.dumps({"path": f"src/mod{i}.py", "limit": 200}))
        msgs.append(Message("assistant", [TextPart(f"Looking at module {i}."), call]))
        msgs.append(Message("user", [ToolResultPart(call.id, [TextPart("def f():\n    return 1\n" * 15)])]))
        i += 1
    return IRRequest(model="bench-model", system=[TextPart("You are a coding agent. " * 40)],
                     messages=msgs[:n_messages], tools=tools, sampling=Sampling(max_tokens=4096))  # fmt: skip


def answer() -> IRResponse:
    content = [
        ThinkingPart("Let me think about this carefully. " * 10),
        TextPart("Here is the plan: " + "word " * 400),
        ToolCallPart("call_a", "tool_1", json.dumps({"path": "src/a.py", "content": "x = 1\n" * 60})),
        ToolCallPart("call_b", "tool_2", json.dumps({"path": "src/b.py", "limit": 10})),
    ]
    return IRResponse("resp_bench", "bench-model", content, FinishReason.TOOL_CALLS, Usage(5000, 900, 4000, 0, 120))


def upstream_events(fmt: str) -> list[bytes]:
    """The answer as ``fmt`` wire bytes, one element per upstream event (5-char deltas)."""
    enc = get_format(fmt).StreamEncoder("bench-model")
    frames: list[bytes] = []
    for ev in response_events(answer(), chunk=5):
        frames.extend(enc.feed(ev))
    frames.extend(enc.finish())
    return frames


def bench_stream(src: str, dst: str, repeat: int) -> tuple[float, int]:
    frames = upstream_events(src)
    best = float("inf")
    for _ in range(repeat):
        t = StreamTranslator(src, dst, "client-model")
        start = time.perf_counter()
        for frame in frames:
            t.feed(frame)
        t.finish()
        best = min(best, time.perf_counter() - start)
    return best / len(frames) * 1e6, len(frames)


def bench_request(src: str, dst: str, repeat: int) -> float:
    body = get_format(src).request_from_ir(conversation())
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(10):
            translate_request(src, dst, body)
        best = min(best, (time.perf_counter() - start) / 10)
    return best * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--all", action="store_true", help="include every available format")
    args = parser.parse_args(argv)
    formats = [f.value for f in available_formats()] if args.all else CORE
    print("| source → target | stream µs/event | events | request (50 msgs) µs |")
    print("|---|---:|---:|---:|")
    worst = 0.0
    for src, dst in itertools.product(formats, repeat=2):
        try:
            per_event, n = bench_stream(src, dst, args.repeat)
            per_req = bench_request(src, dst, args.repeat)
        except Exception as exc:  # a format that cannot express the sample: say so, go on
            print(f"| {src} → {dst} | n/a ({type(exc).__name__}: {exc}) | | |")
            continue
        worst = max(worst, per_event)
        print(f"| {src} → {dst} | {per_event:.1f} | {n} | {per_req:.0f} |")
    verdict = "meets" if worst < 30 else "MISSES"
    print(f"\nworst per-event cost {worst:.1f} µs ({verdict} the 30 µs target)")


if __name__ == "__main__":
    main()
