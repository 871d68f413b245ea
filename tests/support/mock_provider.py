"""Mock LLM provider for tests, benchmarks and the demo: real wire formats, no network.

Run it: ``python -m tests.support.mock_provider --port N [--host 127.0.0.1] [--delay-ms D]``
(prints ``mock provider listening on http://HOST:PORT`` once ready). In tests use
:class:`MockProvider`, which serves :func:`create_app` from a background thread.

Endpoints (formats follow the real APIs, so the official SDKs parse them):

- OpenAI: ``POST /v1/chat/completions`` (JSON or SSE ending in ``data: [DONE]``;
  ``stream_options.include_usage`` adds the usage chunk), ``POST /v1/responses`` (JSON or SSE)
  and WebSocket ``/v1/responses`` (client sends ``{"type": "response.create", ...body}`` text
  frames, gets one event object per text frame; also at ``/backend-api/codex/responses``),
  ``POST /v1/embeddings``, ``GET /v1/models`` (Anthropic's shape when ``anthropic-version``
  is sent), ``GET /v1/models/{id}``.
- Anthropic: ``POST /v1/messages`` (JSON or SSE, ``?beta=true`` accepted),
  ``POST /v1/messages/count_tokens``.
- Gemini: ``POST /v1beta/models/{model}:generateContent | :streamGenerateContent | :countTokens``
  (``?alt=sse`` streams SSE, otherwise one JSON array), ``GET /v1beta/models``; Cloud Code
  (Antigravity) ``POST /v1internal:generateContent | :streamGenerateContent`` taking
  ``{model, project, request}`` and answering ``{"response": ...}`` per chunk.
- Ollama: ``POST /api/chat`` (NDJSON unless ``"stream": false``), ``GET /api/tags``.
- Control: ``GET|DELETE /_mock/requests``, ``GET|POST|DELETE /_mock/faults``,
  ``GET /_mock/health``. Control calls are not recorded; everything else is (404s included).

Deterministic replies:

- Text: ``mock reply from <model>: <last user text>``, the echo cut to 200 characters (no
  echo, no trailing space when there is no user text). Streams send it as word-sized deltas
  that concatenate to exactly that text.
- Tool call: when the request declares tools and the conversation ends with a user message
  whose text contains the word ``tool`` or ``tools``, the reply is a call to the first
  (client/function) tool with arguments ``{"query": "<echo>"}``, finish reason
  ``tool_calls`` / ``tool_use`` (streamed as argument deltas). A conversation ending in a tool
  result gets the text reply, so agent loops terminate.
- Structured output, as the real APIs answer it: a forced tool (Anthropic ``tool_choice``
  ``tool``/``any``, OpenAI chat ``tool_choice`` naming a function or ``required``) is called
  with the smallest value of its parameter schema; a JSON output request (OpenAI chat
  ``response_format``, Responses ``text.format``, Anthropic ``output_config.format`` /
  ``output_format``, Gemini ``responseJsonSchema`` / ``responseSchema`` / ``responseMimeType:
  application/json``) is answered with that value as the text (``{"reply": ...}`` without a
  schema). The smallest value: enums and consts their first value, objects their required
  properties, arrays ``minItems`` items, numbers 0, booleans false, strings the text reply.
- Anthropic ``thinking: {type: enabled|adaptive}``: a thinking block
  ``mock thinking from <model>`` (with a signature) comes first.
- Usage: input tokens = whitespace-separated words across all message texts, system prompt /
  instructions and text tool results included (min 1); output tokens = words in the reply
  text, or in the JSON arguments string (``{"query": "..."}``, compact) for a tool call, plus
  the thinking words. Embeddings count words per input string (token ids count one each).
- Embeddings: unit vectors from a hash of each input, 8 dims or ``dimensions``; ``base64``
  encoding honoured (the openai SDK asks for it).

Faults (see ``mock_faults``), merged field by field, first source wins:

1. Header ``x-mock-fault: status=429;retry_after=2`` — keys ``status``, ``retry_after``,
   ``delay_ms``, ``event_delay_ms``, ``reset_after``, ``reset_mode`` (``fin``|``rst``),
   ``malformed`` (``json``|``sse``), ``message``, ``drip_ms``, ``drip_after``, ``pad_bytes``.
   Header ``x-mock-event-delay-ms: N`` too.
2. Model shortcuts (last ``/`` segment of the model): ``fail-<status>``, ``slow-<ms>``,
   ``reset-<events>``, ``malformed-json``, ``malformed-sse``.
3. Rules: ``POST /_mock/faults`` with the same keys plus ``"match": {"path", "model",
   "method", "kind"}`` and ``"count"`` (uses before it expires; null = forever). The first
   matching rule applies. ``DELETE /_mock/faults`` clears them.

Meaning: ``status`` answers that error in the endpoint's own error format (with
``Retry-After`` when set). ``delay_ms`` waits before the first byte, on top of the server's
``--delay-ms``. ``event_delay_ms`` waits between stream events. ``reset_after=N`` sends the
headers and N stream events, then closes the TCP connection mid-body (``rst``: with a TCP
reset); on a non-streamed call the connection closes before any response byte.
``malformed=json`` truncates the JSON of event #1 (or of the whole non-streamed body);
``malformed=sse`` breaks the framing after event #1 (missing blank line / newline / comma).
``drip_ms=N`` sends the body one byte every N ms (a stream: after ``drip_after`` whole
events). ``pad_bytes=N`` makes the reply N bytes bigger without the mock holding it: a
``"padding"`` field first in a JSON reply, a ``{"type": "padding"}`` event first in a stream
(streamed out in 64 KiB pieces). For both, the recorded request gets ``sent_bytes`` and
``client_disconnected`` (the client hung up before the end).
On the Responses WebSocket a status becomes an ``{"type": "error", "status": ...}`` frame, a
reset closes the socket without a close frame; a fault sent on the upgrade request applies to
every response on that socket, and with a status (or a rule with ``kind: ws_handshake``) the
upgrade itself is refused with that HTTP status.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.types import ASGIApp

from tests.support.mock_app import MockApp, create_app
from tests.support.mock_faults import Fault, FaultRule, MalformedKind, MatchKind, ResetMode
from tests.support.mock_state import MockState

__all__ = ["MockProvider", "create_app", "main"]


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on (host, port). Listening is what reserves the address: Linux
    lets two sockets with SO_REUSEADDR bind one address as long as neither listens."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it Nagle + delayed ACK cost ~40 ms per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn, but in-flight mock responses are dropped at once on shutdown."""

    def __init__(self, app: MockApp, log_level: str | None) -> None:
        super().__init__(_config(app, log_level))
        self.mock_app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.mock_app.drop_inflight()
        await super().shutdown(sockets)


def _config(app: MockApp, log_level: str | None) -> uvicorn.Config:
    # log_level None: leave logging alone (no dictConfig, no level changes), so a test
    # process's own logging setup -- and pytest's capture -- sees uvicorn's messages.
    extra: dict[str, Any] = {} if log_level else {"log_config": None}
    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                          timeout_graceful_shutdown=1, **extra)


class MockProvider:
    """The mock served on 127.0.0.1 from a background thread with its own event loop.

    ``with MockProvider() as mock: ...`` — ``mock.url`` is ``http://127.0.0.1:PORT``;
    ``mock.requests`` is the live list of recorded requests (same as ``GET /_mock/requests``).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, delay_ms: float = 0,
                 event_delay_ms: float = 0, models: Sequence[str] | None = None,
                 log_level: str | None = None) -> None:
        kwargs: dict[str, Any] = {"default_event_delay_ms": event_delay_ms}
        if models is not None:
            kwargs["models"] = models
        self.app: MockApp = create_app(delay_ms, **kwargs)
        self.host, self.port = host, port
        self._log_level = log_level
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- lifecycle

    def start(self, timeout: float = 10.0) -> Self:
        if self._thread is not None:
            raise RuntimeError("MockProvider already started")
        sock = self._socket()
        self.port = sock.getsockname()[1]
        self._server = _Server(self._served_app(), self._log_level)
        self._thread = threading.Thread(target=self._run, args=(sock,),
                                        name=f"mock-provider:{self.port}", daemon=True)
        self._thread.start()
        ready = threading.Event()
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"mock provider failed to start: {self._error!r}")
            if timeout <= 0:
                raise RuntimeError("mock provider did not start in time")
            ready.wait(0.005)
            timeout -= 0.005
        return self

    def _served_app(self) -> ASGIApp:
        """The app the server runs (a subclass may wrap the mock, in compression say)."""
        return self.app

    def _socket(self) -> socket.socket:
        """The listening socket to serve on (a subclass may have reserved one already)."""
        return listening_socket(self.host, self.port)

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            asyncio.run(self._server.serve(sockets=[sock]))
        except BaseException as exc:  # surfaced by start()
            self._error = exc
        finally:
            sock.close()

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # a client holding a stream open must not hang the suite
            self._server.force_exit = True
            self._thread.join(timeout)
        self._thread = self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    # -- recording

    @property
    def state(self) -> MockState:
        return self.app.state

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.app.state.requests

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.app.state.requests if r["path"] == path]

    def clear(self) -> None:
        """Forget recorded requests (fault rules stay; see ``clear_faults``)."""
        self.app.state.clear_requests()

    # -- faults

    def add_fault(self, status: int | None = None, *, retry_after: float | None = None,
                  delay_ms: float | None = None, event_delay_ms: float | None = None,
                  reset_after: int | None = None, reset_mode: ResetMode | None = None,
                  malformed: MalformedKind | None = None, message: str | None = None,
                  drip_ms: float | None = None, drip_after: int | None = None,
                  pad_bytes: int | None = None, path: str | None = None, model: str | None = None, method: str | None = None,
                  kind: MatchKind | None = None, count: int | None = None) -> FaultRule:
        """Same as ``POST /_mock/faults``; ``count=None`` keeps the rule until cleared."""
        fault = Fault(status=status, retry_after=retry_after, delay_ms=delay_ms,
                      event_delay_ms=event_delay_ms, reset_after=reset_after,
                      reset_mode=reset_mode, malformed=malformed, message=message,
                      drip_ms=drip_ms, drip_after=drip_after, pad_bytes=pad_bytes)
        fault.validate()
        return self.app.state.faults.add(fault, path=path, model=model, method=method,
                                         kind=kind, count=count)

    @property
    def faults(self) -> list[dict[str, Any]]:
        return self.app.state.faults.snapshot()

    def clear_faults(self) -> None:
        self.app.state.faults.clear()


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.mock_provider",
                                     description="OmniRoute mock LLM provider")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--delay-ms", type=float, default=0.0,
                        help="fixed delay before the first byte of every model response")
    parser.add_argument("--event-delay-ms", type=float, default=0.0,
                        help="delay between stream events")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as exc:
        print(f"mock provider: cannot listen on {args.host}:{args.port} ({exc.strerror}); "
              f"choose another --port", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    app = create_app(args.delay_ms, default_event_delay_ms=args.event_delay_ms)
    server = _Server(app, args.log_level)
    host = f"[{args.host}]" if ":" in args.host else args.host

    async def serve() -> None:
        async def announce() -> None:
            while not server.started and not server.should_exit:
                await asyncio.sleep(0.01)
            if server.started:
                print(f"mock provider listening on http://{host}:{port}", flush=True)

        task = asyncio.create_task(announce())
        await server.serve(sockets=[sock])
        task.cancel()

    # uvicorn re-raises the signal it shut down on; a requested stop is a clean exit (0).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
