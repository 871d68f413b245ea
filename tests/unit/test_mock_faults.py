"""Fault injection of the mock provider: header, model shortcuts, control API, resets, WS."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.support.mock_faults import Fault, FaultError, fault_from_model, parse_fault_header
from tests.support.mock_provider import MockProvider

CHAT = "/v1/chat/completions"


def chat_body(model: str = "m", stream: bool = False) -> dict[str, object]:
    return {"model": model, "stream": stream,
            "messages": [{"role": "user", "content": "a b c d e f"}]}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    with MockProvider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh(mock: MockProvider) -> None:
    mock.clear()
    mock.clear_faults()


@pytest.fixture
def client(mock: MockProvider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=5) as c:
        yield c


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def uvicorn_errors() -> Iterator[list[str]]:
    """Whatever uvicorn logs as an error (a clean reset must log nothing)."""
    handler, log = _Collect(), logging.getLogger("uvicorn.error")
    log.addHandler(handler)
    try:
        yield handler.messages
    finally:
        log.removeHandler(handler)


# --------------------------------------------------------------------------- parsing


def test_header_parsing_and_validation() -> None:
    assert parse_fault_header("status=429; retry_after=2") == Fault(status=429, retry_after=2)
    assert parse_fault_header("reset_after=3,reset-mode=rst") == Fault(reset_after=3,
                                                                       reset_mode="rst")
    for bad in ("status=200", "nonsense", "colour=red", "malformed=xml", "reset_after=1.5"):
        with pytest.raises(FaultError):
            parse_fault_header(bad)


def test_model_shortcuts() -> None:
    assert fault_from_model("fail-429") == Fault(status=429)
    assert fault_from_model("mock/slow-2000") == Fault(delay_ms=2000)
    assert fault_from_model("models/reset-3") == Fault(reset_after=3)
    assert fault_from_model("malformed-sse") == Fault(malformed="sse")
    assert fault_from_model("gpt-4o") is None and fault_from_model("fail-200") is None


def test_merge_header_wins() -> None:
    merged = Fault(status=500).over(Fault(status=429, retry_after=1))
    assert merged == Fault(status=500, retry_after=1)


# --------------------------------------------------------------------------- status faults


def test_429_with_retry_after_seen_by_httpx(client: httpx.Client, mock: MockProvider) -> None:
    r = client.post(CHAT, json=chat_body(), headers={"x-mock-fault": "status=429;retry_after=2"})
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["type"] == "rate_limit_exceeded"
    assert mock.requests[-1]["fault"] == {"status": 429, "retry_after": 2.0}
    assert client.post(CHAT, json=chat_body()).status_code == 200  # header faults don't stick


def test_error_bodies_in_each_sdk_format(mock: MockProvider) -> None:
    oai = openai.OpenAI(base_url=f"{mock.url}/v1", api_key="k", max_retries=0)
    with pytest.raises(openai.RateLimitError) as oe:
        oai.chat.completions.create(model="fail-429", messages=[{"role": "user", "content": "x"}])
    assert oe.value.response.headers.get("retry-after") is None
    claude = anthropic.Anthropic(base_url=mock.url, api_key="k", max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as ae:
        claude.messages.create(model="fail-529", max_tokens=5,
                               messages=[{"role": "user", "content": "x"}])
    assert ae.value.body["error"]["type"] == "overloaded_error"
    gem = genai.Client(api_key="k", http_options={"base_url": mock.url})
    with pytest.raises(genai_errors.ClientError) as ge:
        gem.models.generate_content(model="fail-429", contents="x")
    assert (ge.value.code, ge.value.status) == (429, "RESOURCE_EXHAUSTED")
    ollama = httpx.post(f"{mock.url}/api/chat", json={"model": "fail-503", "messages": []})
    assert ollama.status_code == 503 and ollama.json() == {"error": "mock fault: HTTP 503"}


def test_control_api_rule_expires_after_count(client: httpx.Client, mock: MockProvider) -> None:
    rule = client.post("/_mock/faults", json={
        "status": 503, "retry_after": 1, "delay_ms": 0, "reset_after": None,
        "malformed": None, "match": {"path": CHAT, "model": "x"}, "count": 2})
    assert rule.status_code == 201 and rule.json()["count"] == 2
    assert client.post(CHAT, json=chat_body("other")).status_code == 200  # model must match
    assert client.post("/v1/responses", json={"model": "x", "input": "hi"}).status_code == 200
    first = client.post(CHAT, json=chat_body("x"))
    assert first.status_code == 503 and first.headers["retry-after"] == "1"
    assert client.get("/_mock/faults").json()[0]["count"] == 1
    assert client.post(CHAT, json=chat_body("x")).status_code == 503
    assert client.post(CHAT, json=chat_body("x")).status_code == 200  # expired
    assert client.get("/_mock/faults").json() == []


def test_control_api_forever_rule_and_delete(client: httpx.Client, mock: MockProvider) -> None:
    client.post("/_mock/faults", json={"status": 500, "match": {"path": "/v1/*"}})
    for _ in range(3):
        assert client.post(CHAT, json=chat_body()).status_code == 500
    assert client.delete("/_mock/faults").status_code == 200
    assert client.post(CHAT, json=chat_body()).status_code == 200
    bad = client.post("/_mock/faults", json={"status": 503, "match": {"host": "x"}})
    assert bad.status_code == 400 and "host" in bad.json()["error"]["message"]
    assert client.post(CHAT, json=chat_body(), headers={"x-mock-fault": "bogus"}).status_code \
        == 400


def test_add_fault_from_python(client: httpx.Client, mock: MockProvider) -> None:
    mock.add_fault(429, retry_after=5, model="limited", count=1)
    r = client.post(CHAT, json=chat_body("limited"))
    assert (r.status_code, r.headers["retry-after"]) == (429, "5")
    assert client.post(CHAT, json=chat_body("limited")).status_code == 200
    assert mock.faults == []


# --------------------------------------------------------------------------- delays


def test_delay_ms_simulates_timeout(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.post(CHAT, json=chat_body("slow-600"), timeout=0.15)
    start = time.perf_counter()
    r = client.post(CHAT, json=chat_body(), headers={"x-mock-fault": "delay_ms=120"})
    assert r.status_code == 200 and time.perf_counter() - start >= 0.12


def test_event_delay_spaces_stream_events(client: httpx.Client) -> None:
    start = time.perf_counter()
    r = client.post(CHAT, json=chat_body(stream=True), headers={"x-mock-event-delay-ms": "20"})
    events = [line for line in r.text.splitlines() if line.startswith("data: ")]
    assert time.perf_counter() - start >= 0.02 * (len(events) - 1)


# --------------------------------------------------------------------------- resets


def test_reset_mid_stream_breaks_the_httpx_stream(client: httpx.Client,
                                                  uvicorn_errors: list[str]) -> None:
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", CHAT, json=chat_body(stream=True),
                           headers={"x-mock-fault": "reset_after=3"}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                if line.startswith("data: "):
                    received.append(line)
    assert len(received) == 3  # exactly three events, then the socket closed mid-body
    assert client.post(CHAT, json=chat_body()).status_code == 200  # server still fine
    assert uvicorn_errors == []


def test_reset_with_tcp_rst_and_model_shortcut(client: httpx.Client,
                                               uvicorn_errors: list[str]) -> None:
    with pytest.raises(httpx.TransportError):
        with client.stream("POST", CHAT, json=chat_body("reset-2", stream=True),
                           headers={"x-mock-fault": "reset_mode=rst"}) as r:
            for _ in r.iter_lines():
                pass
    with pytest.raises(httpx.RemoteProtocolError):  # non-streamed: closed before any byte
        client.post(CHAT, json=chat_body(), headers={"x-mock-fault": "reset_after=0"})
    assert uvicorn_errors == []


def test_reset_breaks_anthropic_sdk_stream(mock: MockProvider) -> None:
    claude = anthropic.Anthropic(base_url=mock.url, api_key="k", max_retries=0)
    mock.add_fault(reset_after=4, path="/v1/messages", count=1)
    # The SDK surfaces a mid-body close as its HTTP stack's RemoteProtocolError.
    with pytest.raises(Exception) as exc:
        with claude.messages.stream(model="c", max_tokens=5,
                                    messages=[{"role": "user", "content": "x y"}]) as s:
            s.get_final_message()
    assert exc.typename == "RemoteProtocolError"
    assert "incomplete chunked read" in str(exc.value)


# --------------------------------------------------------------------------- malformed


def test_malformed_json_and_sse_break_sdk_parsing(mock: MockProvider) -> None:
    oai = openai.OpenAI(base_url=f"{mock.url}/v1", api_key="k", max_retries=0)
    messages = [{"role": "user", "content": "x"}]
    for fault in ("malformed=json", "malformed=sse"):
        with pytest.raises(ValueError):
            list(oai.chat.completions.create(model="m", messages=messages, stream=True,
                                             extra_headers={"x-mock-fault": fault}))
    with pytest.raises(ValueError):
        httpx.post(f"{mock.url}{CHAT}", json=chat_body("malformed-json")).json()
    raw = httpx.post(f"{mock.url}/api/chat", json={**chat_body(), "stream": True},
                     headers={"x-mock-fault": "malformed=sse"}).text
    with pytest.raises(ValueError):
        [json.loads(line) for line in raw.splitlines()]


# --------------------------------------------------------------------------- WebSocket


def _create(model: str) -> str:
    return json.dumps({"type": "response.create", "model": model, "input": "hi"})


def test_ws_status_fault_is_an_error_frame(mock: MockProvider) -> None:
    mock.add_fault(429, retry_after=3, path="/v1/responses", kind="ws", count=1)
    with ws_connect(f"{mock.ws_url}/v1/responses") as ws:
        ws.send(_create("m"))
        error = json.loads(ws.recv(timeout=5))
        assert error == {"type": "error", "status": 429, "headers": {"retry-after": "3"},
                         "error": {"type": "rate_limit_exceeded", "code": "rate_limit_exceeded",
                                   "message": "mock fault: HTTP 429"}}
        ws.send(_create("m"))  # the rule is used up; the socket still serves
        assert json.loads(ws.recv(timeout=5))["type"] == "response.created"


def test_ws_handshake_refused_with_status(mock: MockProvider,
                                         uvicorn_errors: list[str]) -> None:
    with pytest.raises(InvalidStatus) as exc:
        with ws_connect(f"{mock.ws_url}/v1/responses",
                        additional_headers={"x-mock-fault": "status=401"}):
            pass
    assert exc.value.response.status_code == 401
    mock.add_fault(503, path="/v1/responses", kind="ws_handshake", count=1)
    with pytest.raises(InvalidStatus) as exc:
        with ws_connect(f"{mock.ws_url}/v1/responses"):
            pass
    assert exc.value.response.status_code == 503
    assert json.loads(exc.value.response.body)["error"]["message"] == "mock fault: HTTP 503"
    assert uvicorn_errors == []


def test_ws_reset_closes_without_close_frame(mock: MockProvider,
                                            uvicorn_errors: list[str]) -> None:
    received = []
    with ws_connect(f"{mock.ws_url}/v1/responses") as ws:
        ws.send(_create("reset-3"))
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                received.append(json.loads(ws.recv(timeout=5)))
    assert len(received) == 3
    assert exc.value.rcvd is None  # abrupt: no close frame from the server
    assert uvicorn_errors == []
