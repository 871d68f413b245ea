"""Kiro / CodeWhisperer generateAssistantResponse: golden tests.

Request bodies follow the shapes documented by the open-source Kiro gateways
(hank9999/kiro.rs ``requests/conversation.rs``, ``requests/tool.rs``); the response is a real
AWS event stream built with our codec, with the headers Kiro sends (``:event-type``,
``:content-type``, ``:message-type``) and the event payloads of kiro.rs ``model/events``.
"""

from __future__ import annotations

import json

import pytest

from omniroute.translate import kiro
from omniroute.translate.errors import TranslationError
from omniroute.translate.eventstream import EventStreamDecoder, encode_message
from omniroute.translate.eventstream import Message as ESMessage
from omniroute.translate.ir import (
    ErrorEvent,
    Finish,
    FinishReason,
    ImagePart,
    IRRequest,
    Message,
    RedactedThinkingPart,
    ResponseFormat,
    Sampling,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

from .strategies_ext import decode_stream

READ_SPEC = {
    "toolSpecification": {
        "name": "readFile",
        "description": "Read a file from the workspace",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            }
        },
    }
}

REQUEST = {
    "profileArn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC",
    "conversationState": {
        "agentTaskType": "vibe",
        "chatTriggerType": "MANUAL",
        "conversationId": "7f1c2a9e-0000-4000-8000-000000000001",
        "history": [
            {
                "userInputMessage": {
                    "content": "Open main.py",
                    "modelId": "claude-sonnet-4.5",
                    "origin": "AI_EDITOR",
                    "images": [{"format": "png", "source": {"bytes": "iVBORw0KGgo="}}],
                }
            },
            {
                "assistantResponseMessage": {
                    "content": "Reading it.",
                    "toolUses": [
                        {
                            "toolUseId": "tooluse_abc",
                            "name": "readFile",
                            "input": {"path": "main.py"},
                        }
                    ],
                    "reasoningContent": {
                        "reasoningText": {"text": "Need the file.", "signature": "EqQBCkYIBxgC"}
                    },
                }
            },
        ],
        "currentMessage": {
            "userInputMessage": {
                "content": "",
                "modelId": "claude-sonnet-4.5",
                "origin": "AI_EDITOR",
                "userInputMessageContext": {
                    "toolResults": [
                        {
                            "toolUseId": "tooluse_abc",
                            "content": [{"text": "print('hi')"}],
                            "status": "success",
                        }
                    ],
                    "tools": [READ_SPEC],
                },
            }
        },
    },
}


def test_request_to_ir_golden() -> None:
    ir = kiro.request_to_ir(REQUEST)
    assert ir.model == "claude-sonnet-4.5" and ir.stream is True
    user, assistant, results = ir.messages
    assert user.content == [
        TextPart("Open main.py"),
        ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
    ]
    assert assistant.content == [
        ThinkingPart("Need the file.", "EqQBCkYIBxgC", "kiro"),
        TextPart("Reading it."),
        ToolCallPart("tooluse_abc", "readFile", '{"path":"main.py"}'),
    ]
    assert results.content == [ToolResultPart("tooluse_abc", [TextPart("print('hi')")])]
    assert ir.tools == [
        Tool(
            "readFile",
            "Read a file from the workspace",
            READ_SPEC["toolSpecification"]["inputSchema"]["json"],
        )
    ]
    assert ir.metadata["conversationId"] == "7f1c2a9e-0000-4000-8000-000000000001"
    assert ir.metadata["profileArn"].startswith("arn:aws:codewhisperer")


def test_request_round_trip_is_identity_for_kiro() -> None:
    assert kiro.request_from_ir(kiro.request_to_ir(REQUEST)) == REQUEST


def test_request_from_foreign_ir() -> None:
    ir = IRRequest(
        model="claude-sonnet-4.5",
        system=[TextPart("You are Kiro.")],
        messages=[
            Message("user", [TextPart("hi"), ImagePart(url="data:image/jpeg;base64,/9j/")]),
            Message(
                "assistant",
                [ThinkingPart("unsigned"), ToolCallPart("call_1", "readFile", '{"path":"a"}')],
            ),
            Message("user", [ToolResultPart("call_1", [TextPart("no such file")], is_error=True)]),
            Message("user", [TextPart("try b")]),
        ],
        tools=[Tool("readFile", None, {"type": "object"})],
        sampling=Sampling(temperature=0.3, max_tokens=4096),  # dropped on purpose
        metadata={"user_id": "u-1"},
        metadata_format="anthropic",
    )
    body = kiro.request_from_ir(ir)
    state = body["conversationState"]
    assert "profileArn" not in body and "user_id" not in json.dumps(body)
    first = state["history"][0]["userInputMessage"]
    assert first["content"] == "You are Kiro.\n\nhi"
    assert first["images"] == [{"format": "jpeg", "source": {"bytes": "/9j/"}}]
    # unsigned thinking is not replayed; the call is
    assert state["history"][1] == {
        "assistantResponseMessage": {
            "content": "",
            "toolUses": [{"toolUseId": "call_1", "name": "readFile", "input": {"path": "a"}}],
        }
    }
    current = state["currentMessage"]["userInputMessage"]
    assert current["content"] == "try b"
    assert current["userInputMessageContext"]["toolResults"] == [
        {"toolUseId": "call_1", "content": [{"text": "no such file"}], "status": "error"}
    ]
    assert current["userInputMessageContext"]["tools"][0]["toolSpecification"]["description"] == ""
    # same conversation → same id on every turn
    later = IRRequest(
        model=ir.model,
        system=ir.system,
        messages=[
            *ir.messages,
            Message("assistant", [TextPart("ok")]),
            Message("user", [TextPart("more")]),
        ],
    )
    assert (
        kiro.request_from_ir(later)["conversationState"]["conversationId"]
        == state["conversationId"]
    )


@pytest.mark.parametrize(
    ("ir", "field"),
    [
        (
            IRRequest(messages=[Message("user", [ImagePart(url="https://x/y.png")])]),
            "messages[0].content[0]",
        ),
        (
            IRRequest(
                messages=[Message("user", [TextPart("a")]), Message("assistant", [TextPart("b")])]
            ),
            "messages",
        ),
        (
            IRRequest(messages=[Message("user", [TextPart("a")])], sampling=Sampling(stop=["x"])),
            "stop",
        ),
        (
            IRRequest(
                messages=[Message("user", [TextPart("a")])],
                response_format=ResponseFormat("json_object"),
            ),
            "response_format",
        ),
        (
            IRRequest(
                messages=[Message("user", [TextPart("a")])], tool_choice=ToolChoice("required")
            ),
            "tool_choice",
        ),
        (
            IRRequest(
                messages=[
                    Message(
                        "user", [ToolResultPart("t", [ImagePart(data="x", media_type="image/png")])]
                    )
                ]
            ),
            "messages[0].content[0].content[0]",
        ),
    ],
)
def test_inexpressible_requests_name_the_field(ir: IRRequest, field: str) -> None:
    with pytest.raises(TranslationError) as exc:
        kiro.request_from_ir(ir)
    assert exc.value.field == field


def _ev(name: str, payload: dict) -> bytes:
    headers = {":event-type": name, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(ESMessage(headers, json.dumps(payload).encode()))


UPSTREAM = b"".join(
    [
        _ev("reasoningContentEvent", {"text": "Check the file"}),
        _ev("reasoningContentEvent", {"text": " first.", "signature": "c2ln"}),
        _ev("assistantResponseEvent", {"content": "Let me "}),
        _ev("assistantResponseEvent", {"content": "look."}),
        _ev("toolUseEvent", {"name": "readFile", "toolUseId": "tooluse_1"}),
        _ev("toolUseEvent", {"name": "readFile", "toolUseId": "tooluse_1", "input": '{"pa'}),
        _ev(
            "toolUseEvent", {"name": "readFile", "toolUseId": "tooluse_1", "input": 'th": "a.py"}'}
        ),
        _ev("toolUseEvent", {"name": "readFile", "toolUseId": "tooluse_1", "stop": True}),
        _ev("meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": 0.12}),
        _ev("contextUsageEvent", {"contextUsagePercentage": 3.2}),
        _ev(
            "metadataEvent",
            {
                "tokenUsage": {
                    "uncachedInputTokens": 120,
                    "cacheReadInputTokens": 30,
                    "cacheWriteInputTokens": 7,
                    "outputTokens": 11,
                    "totalTokens": 168,
                }
            },
        ),
    ]
)


def test_stream_decoder_golden_every_split() -> None:
    baseline, merged = decode_stream(kiro, UPSTREAM, [])
    for cut in range(0, len(UPSTREAM), 7):
        assert decode_stream(kiro, UPSTREAM, [cut, cut + 3])[0] == baseline
    assert [type(e).__name__ for e in baseline] == [
        "MessageStart",
        "ThinkingDelta",
        "ThinkingDelta",
        "BlockStop",
        "TextDelta",
        "TextDelta",
        "BlockStop",
        "ToolCallStart",
        "ToolCallDelta",
        "ToolCallDelta",
        "BlockStop",
        "UsageEvent",
        "Finish",
    ]
    assert baseline[-1] == Finish(FinishReason.TOOL_CALLS)
    assert merged.content == [
        ThinkingPart("Check the file first.", "c2ln", "kiro"),
        TextPart("Let me look."),
        ToolCallPart("tooluse_1", "readFile", '{"path": "a.py"}'),
    ]
    assert merged.usage == Usage(
        input_tokens=157, output_tokens=11, cached_input_tokens=30, cache_creation_tokens=7
    )


def test_stream_encoder_produces_kiro_events() -> None:
    events, _ = decode_stream(kiro, UPSTREAM, [])
    enc = kiro.StreamEncoder("claude-sonnet-4.5")
    data = b"".join(b for e in events for b in enc.feed(e)) + b"".join(enc.finish())
    msgs = EventStreamDecoder().feed(data)
    kinds = [m.headers[":event-type"] for m in msgs]
    assert kinds == ["reasoningContentEvent"] * 2 + ["assistantResponseEvent"] * 2 + [
        "toolUseEvent"
    ] * 4 + ["metadataEvent"]
    tool = [json.loads(m.payload) for m in msgs if m.headers[":event-type"] == "toolUseEvent"]
    assert (
        "".join(t.get("input", "") for t in tool) == '{"path": "a.py"}' and tool[-1]["stop"] is True
    )
    usage = json.loads(msgs[-1].payload)["tokenUsage"]
    assert usage == {
        "uncachedInputTokens": 120,
        "cacheReadInputTokens": 30,
        "cacheWriteInputTokens": 7,
        "outputTokens": 11,
        "totalTokens": 168,
    }
    # and it decodes back to the same events
    assert decode_stream(kiro, data, [5, 99])[0] == events


def test_corrupted_stream_becomes_an_error_event() -> None:
    bad = bytearray(UPSTREAM)
    bad[40] ^= 0xFF
    events, _ = decode_stream(kiro, bytes(bad), [])
    assert isinstance(events[-1], ErrorEvent) and "CRC" in events[-1].message
    truncated, _ = decode_stream(kiro, UPSTREAM[:-3], [])
    assert (
        isinstance(truncated[-1], ErrorEvent) and "ended inside a message" in truncated[-1].message
    )


def test_exceptions_and_errors() -> None:
    exc = encode_message(
        ESMessage(
            {
                ":message-type": "exception",
                ":exception-type": "ThrottlingException",
                ":content-type": "application/json",
            },
            b'{"message":"Too many requests"}',
        )
    )
    events, _ = decode_stream(kiro, exc, [])
    assert events[-1] == ErrorEvent("ThrottlingException: Too many requests", 429)
    enc = kiro.StreamEncoder("m")
    (frame,) = enc.feed(ErrorEvent("quota", 429))
    (msg,) = EventStreamDecoder().feed(frame)
    assert (
        msg.headers[":message-type"] == "exception"
        and msg.headers[":exception-type"] == "ThrottlingException"
    )
    assert json.loads(msg.payload) == {"message": "quota"}
    assert enc.finish() == []
    invalid = kiro.StreamDecoder().feed(
        {
            "message_type": "event",
            "event": "invalidStateEvent",
            "data": {"reason": "INVALID_STATE", "message": "conversation expired"},
        }
    )
    assert isinstance(invalid[-1], ErrorEvent) and "conversation expired" in invalid[-1].message


def test_response_body_round_trip_and_redacted_thinking() -> None:
    _, merged = decode_stream(kiro, UPSTREAM, [])
    merged.content.insert(0, RedactedThinkingPart("b3BhcXVl"))
    back = kiro.response_to_ir(kiro.response_from_ir(merged))
    assert back.content == merged.content and back.usage == merged.usage
    assert kiro.response_bytes(merged).startswith(b"\x00")


def test_ide_context_kept_for_kiro_only() -> None:
    env = {"envState": {"operatingSystem": "linux", "currentWorkingDirectory": "/src"}}
    body = json.loads(json.dumps(REQUEST))
    body["conversationState"]["currentMessage"]["userInputMessage"][
        "userInputMessageContext"
    ].update(env)
    ir = kiro.request_to_ir(body)
    assert kiro.request_from_ir(ir) == body
    ir.metadata_format = "anthropic"
    ctx = kiro.request_from_ir(ir)["conversationState"]["currentMessage"]["userInputMessage"][
        "userInputMessageContext"
    ]
    assert "envState" not in ctx
