"""The floor under `/v1`'s added latency on this machine: the least any Python relay adds.

``python -m benchmarks.relay_floor --requests 2000``

A bare asyncio relay (httptools parsing both ways, one keep-alive upstream connection per
client connection, no routing, no keys, no records) is measured side by side with OmniRoute's
`/v1` and the mock called directly, at concurrency 1, in interleaved rounds. What the relay adds
is the extra loopback hop and its wake-ups, which no Python proxy avoids; what OmniRoute adds
beyond it is its own work. Both figures set the issue's 1.0 ms target in proportion.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httptools

from benchmarks import targets as t
from benchmarks.load import generate_load
from benchmarks.side_by_side import PROMPT, start_with_key


class _Upstream(asyncio.Protocol):
    """One keep-alive connection to the upstream; one response at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.reply: asyncio.Future[tuple[int, bytes]] | None = None
        self.body: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(ConnectionError("upstream closed"))

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.body = []

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        assert self.reply is not None
        self.reply.set_result((self.parser.get_status_code(), b"".join(self.body)))


class _Relay(asyncio.Protocol):
    def __init__(self, host: str, port: int) -> None:
        self.origin = (host, port)
        self.parser = httptools.HttpRequestParser(self)
        self.upstream: _Upstream | None = None
        self.transport: asyncio.Transport | None = None
        self.url, self.headers, self.body = b"", [], []  # type: ignore[var-annotated]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", [], []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"authorization", b"content-type"):
            self.headers.append(b"%s: %s\r\n" % (name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        asyncio.get_running_loop().create_task(self.relay(self.url, b"".join(self.headers), b"".join(self.body)))

    async def relay(self, url: bytes, headers: bytes, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        if self.upstream is None or self.upstream.closed:  # the upstream's keep-alive ran out
            _, self.upstream = await loop.create_connection(_Upstream, *self.origin)
        upstream = self.upstream
        upstream.reply = loop.create_future()
        host = b"%s:%d" % (self.origin[0].encode(), self.origin[1])
        upstream.transport.write(b"POST %s HTTP/1.1\r\nhost: %s\r\n%scontent-length: %d\r\n\r\n%s"  # type: ignore[union-attr]
                                 % (url, host, headers, len(body), body))
        status, reply = await upstream.reply
        self.transport.write(b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"  # type: ignore[union-attr]
                             % (status, len(reply), reply))


async def serve(port: int, upstream: str) -> None:
    host, _, upstream_port = upstream.rpartition(":")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Relay(host, int(upstream_port)), "127.0.0.1", port)
    print("ready", flush=True)
    await server.serve_forever()


def run(requests: int, rounds: int, delay_ms: float) -> dict[str, float]:
    """Added p50 (ms) of the bare relay and of OmniRoute's `/v1`, over the mock called directly."""
    work = Path(tempfile.mkdtemp(prefix="omniroute-floor-"))
    mock, mock_url = t.start_mock(work, delay_ms, 0)
    port = t.free_port()
    relay = subprocess.Popen([sys.executable, "-m", "benchmarks.relay_floor", "--serve", str(port),
                              "--upstream", mock_url.removeprefix("http://")], stdout=subprocess.PIPE)
    ours = None
    try:
        assert relay.stdout is not None and relay.stdout.readline().strip() == b"ready"
        ours, key = start_with_key({"OMNIROUTE_REQUIRE_API_KEY": "true"}, mock_url)
        body = {"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": PROMPT}]}
        upstream_key = {"authorization": "Bearer sk-bench"}
        arms = [
            {"name": "direct", "urls": [f"{mock_url}/v1/chat/completions"], "body": body, "headers": upstream_key},
            {"name": "relay", "urls": [f"http://127.0.0.1:{port}/v1/chat/completions"], "body": body,
             "headers": upstream_key},
            {"name": "ours", "urls": [f"{ours.api_url}/v1/chat/completions"], "body": {**body, "model": "mock/gpt-4o-mini"},
             "headers": {"authorization": f"Bearer {key}"}},
        ]
        for arm in arms:
            arm["kind"] = "http"
        raw = generate_load({"arms": arms, "requests": requests, "concurrency": 1, "processes": 1, "rounds": rounds,
                             "max_seconds": 600, "warmup": 20}, lambda _: None)
        for name, result in raw.items():
            if result["errors"]:
                raise SystemExit(f"{name}: {result['errors'][0]}")
        p50 = {name: 1000 * statistics.median(s[0] for s in result["samples"]) for name, result in raw.items()}
        return {"relay": p50["relay"] - p50["direct"], "ours": p50["ours"] - p50["direct"]}
    finally:
        if ours is not None:
            ours.close()
        relay.kill()
        mock.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.relay_floor", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="calls per arm, over all rounds")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--delay-ms", type=float, default=5.0,
                        help="the mock's delay (5 ms: as the bench's delayed-mock rows)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)  # the relay's own process
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve, args.upstream))
        return 0
    added = run(args.requests, args.rounds, args.delay_ms)
    print("| `/v1/chat/completions`, concurrency 1 | added p50 over the mock called directly |\n|---|---|")
    print(f"| bare asyncio relay (the floor) | {added['relay']:.2f} ms |")
    print(f"| OmniRoute | {added['ours']:.2f} ms |")
    print(f"| OmniRoute's own work (the difference) | {added['ours'] - added['relay']:.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
