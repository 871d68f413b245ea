"""A Responses WebSocket's conversation, kept for previous_response_id; the warm-up's answer."""

from __future__ import annotations

import json

from omniroute.translate.responses_chain import Chain
from omniroute.translate.responses_warmup import warmup_events


def _done(item: dict) -> str:
    return json.dumps({"type": "response.output_item.done", "output_index": 0, "item": item})


def _completed(rid: str) -> str:
    return json.dumps({"type": "response.completed", "response": {"id": rid}})


def test_a_request_naming_the_last_response_gets_its_conversation_back() -> None:
    chain = Chain()
    first = {"model": "m", "input": "hi"}
    assert chain.expand(first) == first  # nothing to continue: the body as it came
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    chain.event(_done(call))
    chain.event(_completed("resp_1"))
    result = {"type": "function_call_output", "call_id": "c1", "output": "ok"}
    second = chain.expand({"model": "m", "previous_response_id": "resp_1", "input": [result]})
    assert "previous_response_id" not in second
    assert second["input"] == [{"type": "message", "role": "user", "content": "hi"}, call, result]


def test_a_request_naming_another_response_is_left_as_it_is() -> None:
    chain = Chain()
    chain.expand({"model": "m", "input": []})
    chain.event(_completed("resp_1"))
    body = {"model": "m", "previous_response_id": "resp_elsewhere", "input": []}
    assert chain.expand(body) == body


def test_the_warmup_is_created_and_completed_with_nothing_in_it() -> None:
    created, completed = warmup_events({"model": "gpt-x", "generate": False})
    assert (created["type"], completed["type"]) == ("response.created", "response.completed")
    assert completed["response"]["output"] == [] and completed["response"]["usage"]["total_tokens"] == 0
    chain = Chain()
    chain.expand({"model": "gpt-x", "input": []})
    chain.event(json.dumps(completed))
    follow = chain.expand({"model": "gpt-x", "previous_response_id": completed["response"]["id"], "input": "go"})
    assert follow["input"] == [{"type": "message", "role": "user", "content": "go"}]
