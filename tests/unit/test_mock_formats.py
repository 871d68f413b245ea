"""Pure rules of the mock provider: reply text, tool-call trigger, usage, stream framing."""

from __future__ import annotations

import json

import pytest

from tests.support import mock_formats as fmt
from tests.support.mock_anthropic import plan_anthropic
from tests.support.mock_gemini import plan_gemini
from tests.support.mock_http import encode_stream
from tests.support.mock_openai import embedding_vector, plan_chat, plan_responses

TOOLS_ANTHROPIC = [{"name": "search", "input_schema": {"type": "object"}}]


def test_pieces_are_lossless_word_deltas() -> None:
    text = "mock reply from m:  two\nlines "
    assert "".join(fmt.pieces(text)) == text
    assert fmt.pieces("one two") == ["one ", "two"]
    assert fmt.pieces("") == [""]


def test_echo_is_cut_to_200_chars_and_usage_counts_words() -> None:
    long = "x" * 500
    plan = plan_chat({"messages": [{"role": "user", "content": long}]}, "m")
    assert plan.text == "mock reply from m: " + "x" * 200
    assert plan.input_tokens == 1 and plan.output_tokens == 5
    empty = plan_chat({"messages": []}, "m")
    assert (empty.text, empty.input_tokens) == ("mock reply from m:", 1)


def test_last_user_text_and_all_texts_counted() -> None:
    body = {"system": [{"type": "text", "text": "sys one"}], "messages": [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": [{"type": "text", "text": "an answer here"}]},
        {"role": "user", "content": [{"type": "text", "text": "second"},
                                     {"type": "text", "text": "part"}]}]}
    plan = plan_anthropic(body, "c")
    assert plan.text == "mock reply from c: second part"
    assert plan.input_tokens == 2 + 2 + 3 + 2


@pytest.mark.parametrize("text, calls", [("use the tool", True), ("Tools please", True),
                                          ("toolbox", False), ("no calls", False)])
def test_tool_word_trigger(text: str, calls: bool) -> None:
    body = {"tools": TOOLS_ANTHROPIC, "messages": [{"role": "user", "content": text}]}
    plan = plan_anthropic(body, "c")
    assert (plan.tool_name == "search") is calls
    if calls:
        assert plan.tool_args == {"query": text} and plan.text == ""
        assert plan.output_tokens == len(fmt.dumps(plan.tool_args).split())


def test_tool_results_end_the_loop_in_every_format() -> None:
    anthropic_body = {"tools": TOOLS_ANTHROPIC, "messages": [
        {"role": "user", "content": "use the tool"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "search",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                      "content": "result text"}]}]}
    plan = plan_anthropic(anthropic_body, "c")
    assert plan.tool_name is None and plan.text == "mock reply from c: use the tool"
    assert plan.input_tokens == 5
    responses_body = {"tools": [{"type": "function", "name": "f"}], "input": [
        {"role": "user", "content": "tool now"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "done"}]}
    assert plan_responses(responses_body, "r").tool_name is None
    gemini_body = {"tools": [{"functionDeclarations": [{"name": "g"}]}], "contents": [
        {"role": "user", "parts": [{"text": "tool now"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "g", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "g", "response": {}}}]}]}
    assert plan_gemini(gemini_body, "g").tool_name is None
    assert plan_gemini({**gemini_body, "contents": gemini_body["contents"][:1]},
                           "g").tool_name == "g"


def test_server_tools_are_never_called() -> None:
    body = {"tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "messages": [{"role": "user", "content": "tool"}]}
    assert plan_anthropic(body, "c").tool_name is None


def test_adaptive_thinking_counts_thinking_words() -> None:
    plan = plan_anthropic({"thinking": {"type": "adaptive"},
                               "messages": [{"role": "user", "content": "hi"}]}, "c")
    assert plan.thinking == "mock thinking from c"
    assert plan.output_tokens == len("mock reply from c: hi".split()) + 4


def test_embedding_vectors_are_unit_and_stable() -> None:
    vec = embedding_vector("abc", 32)
    assert len(vec) == 32 and sum(v * v for v in vec) == pytest.approx(1.0)
    assert vec == embedding_vector("abc", 32) != embedding_vector("abd", 32)


EVENTS = [fmt.Event({"n": 0}, "a"), fmt.Event({"n": 1}, "b"), fmt.Event({"n": 2}, "c")]


def test_encode_stream_framings() -> None:
    assert b"".join(encode_stream(EVENTS, "sse", None)) == \
        b'event: a\ndata: {"n":0}\n\nevent: b\ndata: {"n":1}\n\nevent: c\ndata: {"n":2}\n\n'
    lines = b"".join(encode_stream(EVENTS, "ndjson", None)).decode().splitlines()
    assert [json.loads(x) for x in lines] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert json.loads(b"".join(encode_stream(EVENTS, "json_array", None))) == \
        [{"n": 0}, {"n": 1}, {"n": 2}]


@pytest.mark.parametrize("framing", ["ndjson", "json_array"])
@pytest.mark.parametrize("malformed", ["json", "sse"])
def test_encode_stream_malformed_breaks_parsing(framing: str, malformed: str) -> None:
    raw = b"".join(encode_stream(EVENTS, framing, malformed)).decode()  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        if framing == "ndjson":
            [json.loads(x) for x in raw.splitlines()]
        else:
            json.loads(raw)


def test_encode_stream_malformed_sse_merges_events() -> None:
    raw = b"".join(encode_stream(EVENTS, "sse", "sse")).decode()
    blocks = [b for b in raw.split("\n\n") if b]
    assert len(blocks) == 2  # events 1 and 2 ran together: one event with two data lines
    assert blocks[1].count("data: ") == 2


CLASSIFIER = {"type": "OBJECT", "required": ["reasoning", "model_choice"], "properties": {
    "reasoning": {"type": "STRING"}, "model_choice": {"type": "STRING", "enum": ["flash", "pro"]},
    "extra": {"type": "integer"}}}


def test_schema_instance_is_the_smallest_accepted_value() -> None:
    assert fmt.schema_instance(CLASSIFIER, "t") == {"reasoning": "t", "model_choice": "flash"}
    assert fmt.schema_instance({"properties": {"n": {"type": ["null", "number"]}, "b": {"type": "boolean"}}}, "t") == {"n": 0, "b": False}
    assert fmt.schema_instance({"type": "array", "items": {"const": 1}, "minItems": 2}, "t") == [1, 1]
    assert fmt.schema_instance({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "t") == "t"


def test_forced_tools_and_json_output_in_every_format() -> None:
    user = {"role": "user", "content": "pick one"}
    forced = plan_anthropic({"messages": [user], "tool_choice": {"type": "tool", "name": "pick"},
                             "tools": [{"name": "other", "input_schema": {}}, {"name": "pick", "input_schema": CLASSIFIER}]}, "m")
    assert (forced.tool_name, forced.tool_args) == ("pick", {"reasoning": "mock reply from m: pick one", "model_choice": "flash"})
    chat = plan_chat({"messages": [user], "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": CLASSIFIER}}}, "m")
    assert json.loads(chat.text) == {"reasoning": "mock reply from m: pick one", "model_choice": "flash"} and chat.tool_name is None
    assert json.loads(plan_chat({"messages": [user], "response_format": {"type": "json_object"}}, "m").text) == {"reply": "mock reply from m: pick one"}
    required = plan_chat({"messages": [user], "tool_choice": "required", "tools": [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]}, "m")
    assert (required.tool_name, required.tool_args) == ("f", {"q": "mock reply from m: pick one"})
    gemini = plan_gemini({"contents": [{"role": "user", "parts": [{"text": "pick one"}]}],
                          "generationConfig": {"responseJsonSchema": CLASSIFIER, "responseMimeType": "application/json"}}, "m")
    assert json.loads(gemini.text)["model_choice"] == "flash"
    responses = plan_responses({"input": "pick one", "text": {"format": {"type": "json_schema", "name": "r", "schema": CLASSIFIER}}}, "m")
    assert json.loads(responses.text)["model_choice"] == "flash"
    # Without a forced choice the tool-word rule is unchanged.
    assert plan_anthropic({"messages": [user], "tools": [{"name": "pick", "input_schema": CLASSIFIER}]}, "m").tool_name is None
