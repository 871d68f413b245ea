"""The in-process half of `benchmarks.engine_overhead`: no OmniRoute subprocess.

* `engine_only`: ``Router.dispatch`` CPU per call against an in-memory upstream, the engine's
  own cost with no sockets, ASGI server or web framework (and no usage rows: those are written
  off the request path).
* `profile`: the whole request path (ASGI app, engine, upstream client over a real socket to
  the mock provider) sampled by pyinstrument, to see where OmniRoute's own CPU time goes.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from omniroute.runtime import Runtime

# Content chunks of a streamed in-memory reply (plus the usage chunk when asked for).
ENGINE_EVENTS = 40
_ENGINE_MODEL = "canned/m"


def _runtime(home: Path) -> Runtime:
    from omniroute.config import Settings
    from omniroute.runtime import Runtime

    return Runtime.open(Settings(home=home, api_port=0, proxy_port=0, bridge_port=0, hosts_file=home / "hosts"))


def _canned(request: httpx.Request) -> httpx.Response:
    """An OpenAI upstream answering from memory with the request's own prompt: a reply, or a
    stream of ENGINE_EVENTS chunks, each chunk arriving on its own."""
    body = json.loads(request.content)
    model, prompt = body["model"], body["messages"][-1]["content"]
    usage = {"prompt_tokens": 40, "completion_tokens": 44, "total_tokens": 84}
    if not body.get("stream"):
        reply = {"id": "c1", "object": "chat.completion", "created": 1, "model": model, "usage": usage,
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": prompt}}]}
        return httpx.Response(200, content=json.dumps(reply).encode(), headers={"content-type": "application/json"})
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data: dict[str, Any] = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": model,
                                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if with_usage:
            data["usage"] = None
        return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": f"word{i} "}) for i in range(ENGINE_EVENTS - 2)]
    frames.append(chunk({}, "stop"))
    if with_usage:
        frames.append(b"data: " + json.dumps({"id": "c1", "object": "chat.completion.chunk", "choices": [],
                                              "usage": usage}).encode() + b"\n\n")
    frames.append(b"data: [DONE]\n\n")

    async def stream() -> AsyncIterator[bytes]:
        for frame in frames:  # built up front: the upstream's own cost stays out of the figure
            yield frame

    return httpx.Response(200, content=stream(), headers={"content-type": "text/event-stream"})


async def engine_only(requests: int, prompt: str) -> dict[str, float]:
    """CPU µs per ``Router.dispatch`` call, non-streamed (``json``) and streamed (``stream``)."""
    from omniroute.db.tables import ProviderConnection
    from omniroute.engine.calls import Call, CallContext

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="omniroute-bench-") as home:
        runtime = _runtime(Path(home))

        def add_connection(session: Any) -> str:
            row = ProviderConnection(provider="openai", name="canned", url="http://canned.invalid/v1")
            session.add(row)
            session.commit()
            return row.id

        connection_id = await runtime.services.store.run(add_connection)
        await runtime.services.store.call(runtime.services.registry.reload)
        runtime.services.pool.register_transport(connection_id, httpx.MockTransport(_canned))
        router, runtime.services.router.usage = runtime.services.router, None
        for stream in (False, True):
            async def once(stream: bool = stream) -> None:
                body = {"model": _ENGINE_MODEL, "messages": [{"role": "user", "content": prompt}], "stream": stream}
                reply = await router.dispatch(Call("openai-chat", body, _ENGINE_MODEL, stream, CallContext()))
                if reply.stream is not None:
                    async for _ in reply.stream:
                        pass

            for _ in range(min(200, requests)):
                await once()
            started = time.process_time()
            for _ in range(requests):
                await once()
            out["stream" if stream else "json"] = (time.process_time() - started) / requests * 1e6
        await runtime.stop()
    return out


async def profile(path: str, body: dict[str, Any], provider: dict[str, str], requests: int, report: Path) -> None:
    """Sample ``requests`` calls of ``body`` to ``path``, after registering ``provider`` (the
    `/api/providers` body of the mock's connection), and write pyinstrument's report."""
    from pyinstrument import Profiler

    from omniroute.api.app import create_app

    with tempfile.TemporaryDirectory(prefix="omniroute-bench-") as home:
        runtime = _runtime(Path(home))
        transport = httpx.ASGITransport(app=create_app(runtime.services), client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            (await client.post("/api/providers", json=provider)).raise_for_status()
            payload = json.dumps(body).encode()
            headers = {"content-type": "application/json"}

            async def run(n: int) -> None:
                for _ in range(n):
                    response = await client.post(path, content=payload, headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")

            await run(50)
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
            await run(requests)
            profiler.stop()
        await runtime.stop()
    # Flat: self time per function, the waits in select() included; read it without them.
    report.write_text(profiler.output_text(flat=True, show_all=True) + "\n\n"
                      + profiler.output_text(show_all=False))
