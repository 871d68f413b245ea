"""The pass-through endpoints' usage and form encoding (`engine/media.py`), and the form reader
of the API (`api/forms.py`) on the forms the encoder makes."""

from __future__ import annotations

from typing import Any

import pytest

from omniroute.api.forms import parse_form
from omniroute.engine.errors import BadRequest
from omniroute.engine.media import FormFile, answers_binary, encode_form, usage_of
from omniroute.translate.formats import WireFormat


@pytest.mark.parametrize(("fmt", "data", "tokens"), [
    (WireFormat.OPENAI_EMBEDDINGS, {"usage": {"prompt_tokens": 7, "total_tokens": 7}}, (7, 0)),
    (WireFormat.OPENAI_IMAGES, {"usage": {"input_tokens": 5, "output_tokens": 4160}}, (5, 4160)),
    (WireFormat.OPENAI_IMAGES, {"data": [{"url": "https://x"}]}, (0, 0)),  # dall-e: no usage
    (WireFormat.OPENAI_TRANSCRIPTIONS, {"text": "hi", "usage": {"type": "tokens", "input_tokens": 14,
                                                                  "output_tokens": 2}}, (14, 2)),
    (WireFormat.OPENAI_TRANSCRIPTIONS, {"text": "hi", "usage": {"type": "duration", "seconds": 3}}, (0, 0)),
    (WireFormat.OPENAI_MODERATIONS, {"results": []}, (0, 0)),
    (WireFormat.RERANK, {"usage": {"total_tokens": 31}}, (31, 0)),  # Jina, vLLM
    (WireFormat.RERANK, {"meta": {"billed_units": {"search_units": 1}}}, (1, 0)),  # Cohere
    (WireFormat.RERANK, {"usage": {"total_tokens": "many"}}, (0, 0)),  # nonsense counts nothing
    (WireFormat.OPENAI_IMAGES, ["not", "an", "object"], (0, 0)),
])
def test_usage_of_each_endpoint(fmt: WireFormat, data: Any, tokens: tuple[int, int]) -> None:
    usage = usage_of(fmt, data)
    assert (usage.input_tokens, usage.output_tokens) == tokens


def test_only_speech_answers_with_bytes() -> None:
    assert answers_binary(WireFormat.OPENAI_SPEECH)
    assert not any(answers_binary(f) for f in (WireFormat.OPENAI_IMAGES, WireFormat.OPENAI_TRANSCRIPTIONS))


def test_a_form_survives_encoding_and_reading_back() -> None:
    audio = bytes(range(256)) * 4  # every byte value, CR and LF included
    body, content_type = encode_form({"model": "whisper-1", "language": "fr",
                                      "file": FormFile("clip.wav", audio, "audio/wav")})
    assert content_type.startswith("multipart/form-data; boundary=")
    form = parse_form(body, content_type)
    assert form == {"model": "whisper-1", "language": "fr", "file": FormFile("clip.wav", audio, "audio/wav")}


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data", "text/plain; boundary=x"])
def test_what_is_not_a_multipart_form_is_a_clear_400(content_type: str) -> None:
    with pytest.raises(BadRequest, match="multipart/form-data"):
        parse_form(b'{"model": "whisper-1"}', content_type)
