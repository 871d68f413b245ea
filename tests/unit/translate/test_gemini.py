"""Gemini generateContent (v1beta) and the Cloud Code v1internal envelope: golden tests.

Golden bodies follow the examples of ai.google.dev/gemini-api/docs/function-calling and
/thinking (the ``find_theaters`` call, thought summaries with ``thoughtsTokenCount``), and the
Cloud Code envelope of gemini-cli ``code_assist/converter.ts``. Translated outputs are parsed
with the official google-genai SDK (its pydantic types forbid unknown fields).
"""

from __future__ import annotations

import pytest
from google.genai import types as gt

from omniroute.translate import gemini, gemini_cloudcode
from omniroute.translate.errors import TranslationError
from omniroute.translate.ir import (
    FinishReason,
    ImagePart,
    IRRequest,
    IRResponse,
    Message,
    MessageStart,
    Reasoning,
    ResponseFormat,
    TextDelta,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
)

THEATERS_TOOL = {
    "name": "find_theaters",
    "description": "find theaters based on location and optionally movie title",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "location": {"type": "STRING", "description": "The city and state"},
            "movie": {"type": "STRING", "description": "Any movie title"},
        },
        "required": ["location"],
    },
}

REQUEST = {
    "systemInstruction": {"parts": [{"text": "You are a cinema assistant."}]},
    "contents": [
        {"role": "user", "parts": [{"text": "Which theaters in Mountain View show Barbie?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Looking that up.", "thought": True},
                {
                    "functionCall": {
                        "name": "find_theaters",
                        "args": {"location": "Mountain View, CA", "movie": "Barbie"},
                    },
                    "thoughtSignature": "c2lnbmF0dXJl",
                },
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "find_theaters",
                        "response": {"output": "AMC Mountain View 16"},
                    }
                }
            ],
        },
    ],
    "tools": [{"functionDeclarations": [THEATERS_TOOL]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "temperature": 0.2,
        "maxOutputTokens": 1024,
        "stopSequences": ["END"],
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 2048},
    },
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
}


def test_request_to_ir_golden() -> None:
    ir = gemini.request_to_ir(REQUEST)
    assert [p.text for p in ir.system] == ["You are a cinema assistant."]
    user, model, result = ir.messages
    assert user.content == [TextPart("Which theaters in Mountain View show Barbie?")]
    assert model.role == "assistant"
    thought, sig, call = model.content
    assert thought == ThinkingPart("Looking that up.")
    assert (sig.text, sig.signature, sig.signature_format) == ("", "c2lnbmF0dXJl", "gemini")
    assert call == ToolCallPart(
        "call_1_0", "find_theaters", '{"location":"Mountain View, CA","movie":"Barbie"}'
    )
    # the id-less response is paired with the id-less call by name
    assert result.content == [
        ToolResultPart("call_1_0", [TextPart("AMC Mountain View 16")], name="find_theaters")
    ]
    assert ir.tools[0].parameters["properties"]["movie"]["type"] == "string"
    assert ir.tool_choice == ToolChoice("auto")
    assert (ir.sampling.temperature, ir.sampling.max_tokens, ir.sampling.stop) == (
        0.2,
        1024,
        ["END"],
    )
    assert ir.reasoning == Reasoning(enabled=True, budget_tokens=2048)
    assert ir.passthrough_format == "gemini" and "safetySettings" in ir.passthrough


def test_request_round_trip_keeps_ids_signatures_and_passthrough() -> None:
    ir = gemini.request_to_ir(REQUEST)
    body = gemini.request_from_ir(ir)
    model_parts = body["contents"][1]["parts"]
    assert model_parts[1] == {
        "functionCall": {
            "id": "call_1_0",
            "name": "find_theaters",
            "args": {"location": "Mountain View, CA", "movie": "Barbie"},
        },
        "thoughtSignature": "c2lnbmF0dXJl",
    }
    assert body["contents"][2]["parts"][0]["functionResponse"] == {
        "id": "call_1_0",
        "name": "find_theaters",
        "response": {"output": "AMC Mountain View 16"},
    }
    assert body["safetySettings"] == REQUEST["safetySettings"]
    assert body["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": 2048,
    }
    assert gemini.request_to_ir(body).messages == ir.messages
    # the SDK's request-side types accept what we send
    gt.Content.model_validate(body["contents"][1])
    gt.Tool.model_validate(body["tools"][0])
    gt.GenerationConfig.model_validate(body["generationConfig"])


def test_ids_are_stable_across_turns() -> None:
    first = gemini.request_to_ir({"contents": REQUEST["contents"][:2]})
    second = gemini.request_to_ir(REQUEST)
    assert first.messages[1].content[2].id == second.messages[1].content[2].id


def test_request_from_ir_features() -> None:
    ir = IRRequest(
        model="gemini-2.5-pro",
        system=[TextPart("sys")],
        messages=[
            Message(
                "user",
                [
                    TextPart("look"),
                    ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
                    ImagePart(url="https://example.com/a.jpg"),
                ],
            ),
            Message(
                "assistant",
                [
                    ThinkingPart("t", "anthropic-sig", "anthropic"),
                    ToolCallPart("toolu_1", "f", "{}"),
                ],
            ),
            Message("user", [ToolResultPart("toolu_1", [TextPart("boom")], is_error=True)]),
        ],
        tools=[Tool("f", "does f", {"type": "object", "additionalProperties": False})],
        tool_choice=ToolChoice("tool", name="f"),
        response_format=ResponseFormat("json_schema", schema={"type": "object"}),
        reasoning=Reasoning(enabled=True, effort="high"),
    )
    body = gemini.request_from_ir(ir)
    assert body["contents"][0]["parts"][1:] == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a.jpg"}},
    ]
    # Anthropic-signed thinking is not replayed to Gemini; the call is.
    assert body["contents"][1]["parts"] == [
        {"functionCall": {"id": "toolu_1", "name": "f", "args": {}}}
    ]
    assert body["contents"][2]["parts"][0]["functionResponse"]["response"] == {"error": "boom"}
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "f"
    assert (
        body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["additionalProperties"]
        is False
    )
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}
    }
    gc = body["generationConfig"]
    assert gc["responseMimeType"] == "application/json" and gc["responseJsonSchema"] == {
        "type": "object"
    }
    assert gc["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 32768}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [{"inlineData": {"mimeType": "application/pdf", "data": "x"}}],
                    }
                ]
            },
            "contents[0].parts[0].inlineData",
        ),
        ({"contents": [], "tools": [{"googleSearch": {}}]}, "tools[0]"),
        (
            {"contents": [{"role": "user", "parts": [{"executableCode": {"code": "1"}}]}]},
            "contents[0].parts[0]",
        ),
    ],
)
def test_inexpressible_requests_name_the_field(body: dict, field: str) -> None:
    with pytest.raises(TranslationError) as exc:
        gemini.request_to_ir(body)
    assert exc.value.field == field


def test_foreign_passthrough_is_refused() -> None:
    ir = gemini.request_to_ir(REQUEST)
    from omniroute.translate import openai_chat

    with pytest.raises(TranslationError, match="safetySettings"):
        openai_chat.request_from_ir(ir)


THINKING_RESPONSE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "**Weighing the options**", "thought": True},
                    {"text": "Paris is the capital of France."},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}
            ],
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 12,
        "candidatesTokenCount": 8,
        "thoughtsTokenCount": 30,
        "cachedContentTokenCount": 4,
        "totalTokenCount": 50,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "abc123",
}


def test_response_to_ir_thinking_and_usage() -> None:
    r = gemini.response_to_ir(THINKING_RESPONSE)
    assert r.content == [
        ThinkingPart("**Weighing the options**"),
        TextPart("Paris is the capital of France."),
    ]
    assert r.usage == Usage(
        input_tokens=12, output_tokens=38, cached_input_tokens=4, reasoning_tokens=30
    )
    assert (r.id, r.model, r.finish_reason) == ("abc123", "gemini-2.5-flash", FinishReason.STOP)


def test_response_to_ir_function_call_without_id() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {
                                "name": "find_theaters",
                                "args": {"location": "Mountain View, CA"},
                            }
                        }
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "responseId": "r9",
    }
    r = gemini.response_to_ir(body)
    assert r.finish_reason is FinishReason.TOOL_CALLS
    (call,) = r.content
    assert call.id.startswith("call_") and call.id == gemini.response_to_ir(body).content[0].id
    assert (
        gemini.response_to_ir(
            {"candidates": [], "promptFeedback": {"blockReason": "SAFETY"}}
        ).finish_reason
        is FinishReason.CONTENT_FILTER
    )


def _sdk_check(
    body: dict, text: str | None, calls: list[tuple[str, str, dict]]
) -> gt.GenerateContentResponse:
    parsed = gt.GenerateContentResponse.model_validate(body)
    if text is not None:
        assert parsed.text == text
    got = [(c.id, c.name, c.args) for c in parsed.function_calls or []]
    assert got == calls
    return parsed


IR_ANSWER = IRResponse(
    id="msg_1",
    model="gemini-2.5-pro",
    content=[
        ThinkingPart("thinking about it"),
        TextPart("Let me check."),
        ToolCallPart("toolu_42", "find_theaters", '{"location":"Mountain View, CA"}'),
    ],
    finish_reason=FinishReason.TOOL_CALLS,
    usage=Usage(input_tokens=100, output_tokens=40, cached_input_tokens=60, reasoning_tokens=15),
)


def test_response_from_ir_parsed_by_sdk() -> None:
    body = gemini.response_from_ir(IR_ANSWER)
    parsed = _sdk_check(
        body, "Let me check.", [("toolu_42", "find_theaters", {"location": "Mountain View, CA"})]
    )
    um = parsed.usage_metadata
    assert (um.prompt_token_count, um.candidates_token_count, um.thoughts_token_count) == (
        100,
        25,
        15,
    )
    assert (um.cached_content_token_count, um.total_token_count) == (60, 140)
    assert gemini.response_to_ir(body).usage == IR_ANSWER.usage
    cc = gemini_cloudcode.response_from_ir(IR_ANSWER)
    _sdk_check(
        cc["response"],
        "Let me check.",
        [("toolu_42", "find_theaters", {"location": "Mountain View, CA"})],
    )
    assert gemini_cloudcode.response_to_ir(cc).content == IR_ANSWER.content


def test_cloudcode_envelope_round_trip() -> None:
    body = {
        "model": "gemini-2.5-pro",
        "project": "proud-lamp-123",
        "user_prompt_id": "p-1",
        "request": {**REQUEST, "session_id": "sess-9"},
    }
    ir = gemini_cloudcode.request_to_ir(body)
    assert ir.model == "gemini-2.5-pro" and ir.metadata["project"] == "proud-lamp-123"
    back = gemini_cloudcode.request_from_ir(ir)
    assert back == {**body, "request": {**gemini.request_from_ir(ir), "session_id": "sess-9"}}
    # identity does not leak into a foreign envelope
    ir.metadata_format = "anthropic"
    assert "project" not in gemini_cloudcode.request_from_ir(ir)
    chunk = {
        "response": {"candidates": [{"content": {"parts": [{"text": "hi"}]}}]},
        "traceId": "t1",
    }
    start, delta = gemini_cloudcode.StreamDecoder().feed(chunk)
    assert isinstance(start, MessageStart) and isinstance(delta, TextDelta)
    assert (start.id, delta.text) == ("t1", "hi")


def test_unknown_generation_config_is_passed_through_or_refused() -> None:
    body = {"contents": [], "generationConfig": {"temperature": 1, "responseModalities": ["TEXT"]}}
    ir = gemini.request_to_ir(body)
    assert gemini.request_from_ir(ir)["generationConfig"] == {
        "temperature": 1,
        "responseModalities": ["TEXT"],
    }
    from omniroute.translate import anthropic

    with pytest.raises(TranslationError) as exc:
        anthropic.request_from_ir(ir)
    assert exc.value.field == "generationConfig"
