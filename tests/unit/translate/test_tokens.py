"""Offline token estimate: structure, scale and the documented image formula."""

from __future__ import annotations

import base64
import struct

from omniroute.translate import count_tokens
from omniroute.translate.ir import ImagePart
from omniroute.translate.tokens import count_text, image_tokens


def test_text_estimates_near_known_cl100k_counts() -> None:
    # reference counts from cl100k_base for these strings
    cases = {"Hello, world!": 4, "The quick brown fox jumps over the lazy dog.": 10}
    for text, expected in cases.items():
        assert abs(count_text(text) - expected) <= max(1, expected * 0.15)
    assert count_text("") == 0
    assert count_text("1234567890") == 4  # digit groups of three
    assert count_text("你好世界") == 4  # about one token per CJK character


def test_grows_with_text() -> None:
    short = count_tokens({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    long = count_tokens({"model": "m", "messages": [{"role": "user", "content": "hi " * 1000}]})
    assert short < 20 and 900 < long - short < 1100


def test_tools_add_documented_system_prompt() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    tool = {"name": "get_weather", "description": "Get weather", "input_schema": {"type": "object"}}
    with_tools = count_tokens({**base, "tools": [tool]})
    assert with_tools - count_tokens(base) >= 346


def _png(w: int, h: int) -> str:
    head = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", w, h) + b"\x08\x02\x00\x00\x00"
    return base64.b64encode(head).decode()


def test_image_formula() -> None:
    assert image_tokens(ImagePart(data=_png(1000, 1000), media_type="image/png")) == 1334  # 1e6/750
    assert image_tokens(ImagePart(data=_png(200, 200), media_type="image/png")) == 54
    assert image_tokens(ImagePart(data=_png(4000, 3000), media_type="image/png")) <= 1600  # downscaled
    assert image_tokens(ImagePart(url="https://x/y.png")) == 1600


def test_other_formats_and_claude_factor() -> None:
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "count these words please"}]}
    n = count_tokens(chat, "openai-chat")
    assert count_tokens({**chat, "model": "claude-sonnet-4-5"}, "openai-chat") > n


def test_previous_turn_thinking_not_counted() -> None:
    think = {"type": "thinking", "thinking": "long " * 500, "signature": "s"}
    body = {"model": "m", "messages": [
        {"role": "user", "content": "a"}, {"role": "assistant", "content": [think, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"}]}  # fmt: skip
    assert count_tokens(body) < 50


def test_untranslatable_bodies_are_still_counted() -> None:
    body = {"model": "claude", "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "word " * 200}}]}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}]}  # fmt: skip
    assert 200 <= count_tokens(body) < 260
