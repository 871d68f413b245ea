"""What the price layers share without reading the maintained table (``price_source``, read
on first use): the ids a model may be priced under, and which table and version that is."""

from __future__ import annotations

import re
from importlib.metadata import version

SOURCE = f"genai-prices {version('genai-prices')}"
# A Bedrock model id or inference profile: optional geography, vendor, then the vendor's model.
BEDROCK_ID = re.compile(r"^(?:[a-z]{2,4}\.)?(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|writer)\.(.+)$")


def model_names(name: str) -> list[str]:
    """The ids a model may be priced under: as named, the part after its last ``/``
    (``openai/gpt-4o`` on OpenRouter), and a Bedrock id's vendor model."""
    names = [name]
    if "/" in name:
        names.append(name.rsplit("/", 1)[1])
    bare = BEDROCK_ID.match(names[-1])
    if bare is not None:  # "us.anthropic.claude-sonnet-4-5-…-v1:0" is priced as claude-…
        names.append(bare.group(1))
    return names
