"""Is this flow an LLM call, in which wire format, for which model?

Three signals, cheapest first: the host (a list of LLM API hosts, with ``*`` for one DNS label),
the path (``/chat/completions``, ``/v1/messages``, ``:streamGenerateContent`` …) and, only when
those are silent, the JSON body's shape. Wire-format names are the strings the bridge catalog and
the translate package use, so rows can be compared with routing decisions. Host lookups are
cached: a proxy sees few distinct hosts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from omniroute.inspector.model import DetectedKind
from omniroute.translate.formats import WireFormat

# (host pattern, provider). A leading ``*.`` is any subdomain (one or more labels), as in
# the bridge catalog; a ``*`` elsewhere is exactly one label (bedrock-runtime.*.amazonaws.com).
LLM_HOSTS: tuple[tuple[str, str], ...] = (
    ("api.openai.com", "openai"), ("chatgpt.com", "openai"),
    ("api.anthropic.com", "anthropic"),
    ("generativelanguage.googleapis.com", "gemini"),
    ("cloudcode-pa.googleapis.com", "cloudcode"),
    ("daily-cloudcode-pa.googleapis.com", "cloudcode"),
    ("*-aiplatform.googleapis.com", "vertex"), ("aiplatform.googleapis.com", "vertex"),
    ("*.openai.azure.com", "azure-openai"), ("*.services.ai.azure.com", "azure-openai"),
    ("*.cognitiveservices.azure.com", "azure-openai"),
    ("api.mistral.ai", "mistral"), ("codestral.mistral.ai", "mistral"),
    ("api.deepseek.com", "deepseek"), ("api.groq.com", "groq"),
    ("api.together.xyz", "together"), ("api.together.ai", "together"),
    ("api.fireworks.ai", "fireworks"), ("api.cohere.ai", "cohere"), ("api.cohere.com", "cohere"),
    ("api.perplexity.ai", "perplexity"), ("openrouter.ai", "openrouter"), ("api.x.ai", "xai"),
    ("api.githubcopilot.com", "copilot"), ("*.githubcopilot.com", "copilot"),
    ("copilot-proxy.githubusercontent.com", "copilot"),
    ("bedrock-runtime.*.amazonaws.com", "bedrock"), ("q.*.amazonaws.com", "amazon-q"),
    ("codewhisperer.*.amazonaws.com", "amazon-q"), ("prod.kiro.aws", "kiro"),
    ("api.cerebras.ai", "cerebras"), ("api.moonshot.ai", "moonshot"),
    ("api.moonshot.cn", "moonshot"), ("open.bigmodel.cn", "zhipu"), ("api.z.ai", "zhipu"),
    ("dashscope.aliyuncs.com", "qwen"), ("dashscope-intl.aliyuncs.com", "qwen"),
    ("api.deepinfra.com", "deepinfra"), ("integrate.api.nvidia.com", "nvidia"),
    ("router.huggingface.co", "huggingface"), ("api-inference.huggingface.co", "huggingface"),
    ("api.sambanova.ai", "sambanova"), ("api.hyperbolic.xyz", "hyperbolic"),
    ("llm.zed.dev", "zed"), ("api2.cursor.sh", "cursor"), ("api3.cursor.sh", "cursor"),
    ("opencode.ai", "opencode"),
)
OLLAMA_PORT = 11434


def _host_regex(pattern: str) -> str:
    if pattern.startswith("*."):
        return r"(?:[a-z0-9_-]+\.)+" + _host_regex(pattern[2:])
    return re.escape(pattern).replace(r"\*", "[a-z0-9-]+")


_HOST_RX = re.compile(
    "|".join(f"(?P<h{i}>{_host_regex(p)})" for i, (p, _) in enumerate(LLM_HOSTS)))


@lru_cache(maxsize=4096)
def provider_for_host(host: str) -> str | None:
    """The LLM provider a host belongs to, or None. ``host`` may carry a ``:port``."""
    name, _, port = host.strip().lower().rstrip(".").partition(":")
    m = _HOST_RX.fullmatch(name)
    if m and m.lastgroup:
        return LLM_HOSTS[int(m.lastgroup[1:])][1]
    if port == str(OLLAMA_PORT):
        return "ollama"
    return None


# (path regex, wire format); first match wins, query string already removed.
_PATH_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), f) for p, f in (
        (r".*/v1internal:(?:stream)?[gG]enerateContent$", WireFormat.GEMINI_CLOUDCODE),
        (r".*/models/[^/]+:(?:stream)?[gG]enerateContent$", WireFormat.GEMINI),
        (r".*/chat/completions$", WireFormat.OPENAI_CHAT),
        (r".*/responses$", WireFormat.OPENAI_RESPONSES),
        (r".*/messages$", WireFormat.ANTHROPIC),
        (r"/api/(?:chat|generate)$", WireFormat.OLLAMA),
        (r".*[gG]enerateAssistantResponse$", WireFormat.KIRO),
        (r"/aiserver\.v1\..*", WireFormat.CONNECT_PROTO),
        (r"/model/[^/]+/(?:converse|converse-stream|invoke|invoke-with-response-stream)$",
         WireFormat.BEDROCK),
        (r"/v[12]/chat$", WireFormat.COHERE),
        (r".*/completions?$", WireFormat.OPENAI_COMPLETIONS),
    ))


@dataclass(frozen=True, slots=True)
class Detection:
    kind: str  # DetectedKind value
    wire_format: str | None = None
    provider: str | None = None
    stream: bool = False


def wire_format_for(path: str, host: str = "", body: Any = None) -> str | None:
    """The wire format a request path (or, failing that, its JSON body) speaks."""
    path = path.partition("?")[0]
    for rx, fmt in _PATH_RULES:
        if rx.match(path):
            if fmt == WireFormat.OPENAI_COMPLETIONS and "zed.dev" in host:
                return WireFormat.ZED
            return fmt
    return _format_from_body(body if isinstance(body, Mapping) else parse_json(body))


def _format_from_body(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    if isinstance(body.get("request"), Mapping) and "contents" in body["request"]:
        return WireFormat.GEMINI_CLOUDCODE
    if "contents" in body:
        return WireFormat.GEMINI
    if "messages" in body:
        system = body.get("system")
        if isinstance(system, list) or (system is not None and "max_tokens" in body):
            return WireFormat.ANTHROPIC
        return WireFormat.OPENAI_CHAT
    if "input" in body and "model" in body:
        return WireFormat.OPENAI_RESPONSES
    if "conversationState" in body:
        return WireFormat.KIRO
    return None


def detect(host: str, method: str, path: str, headers: Mapping[str, str] | None = None,
           body: Any = None) -> Detection:
    """Classify one request. ``body`` may be raw bytes/str or an already parsed JSON value."""
    provider = provider_for_host(host) if host else None
    if not method or method == "CONNECT":
        # An undecrypted tunnel: the host is all we know.
        return Detection(DetectedKind.LLM.value if provider else DetectedKind.UNKNOWN.value,
                         provider=provider)
    parsed = body if isinstance(body, Mapping) else None
    fmt = wire_format_for(path, host, None)
    if fmt is None and method == "POST" and body is not None:
        parsed = parsed if parsed is not None else parse_json(body)
        fmt = _format_from_body(parsed)
    kind = DetectedKind.LLM if fmt or (provider and is_model_request(method, path)) else DetectedKind.APP
    return Detection(kind.value, fmt, provider, _is_stream(path, headers, parsed, body))


# What agents send to their LLM hosts besides model calls: settings, policy, telemetry, auth.
_NOT_MODEL = re.compile(
    r"/api/(?:claude_code|claude_cli|event_logging|oauth|hello)\b|/(?:telemetry|metrics|statsig|sentry|"
    r"feature[_-]?flags|settings|policy_limits|usage|billing|backend-api/(?:wham|accounts|me))\b", re.IGNORECASE)


def is_model_request(method: str, path: str) -> bool:
    """On an LLM host, whether a request whose path names no model API is still a model call:
    a POST anywhere but an agent's settings, telemetry or account endpoints (a GET never is)."""
    return method == "POST" and _NOT_MODEL.search(path) is None


def _is_stream(path: str, headers: Mapping[str, str] | None, parsed: Any, body: Any) -> bool:
    if ":streamGenerateContent" in path or "converse-stream" in path:
        return True
    accept = next((v for k, v in (headers or {}).items() if k.lower() == "accept"), "")
    if "text/event-stream" in accept:
        return True
    if parsed is None and isinstance(body, (bytes, str)):
        # A literal-prefixed regex scan instead of a full JSON parse of a 100 KB body.
        rx = _STREAM_FLAG_B if isinstance(body, bytes) else _STREAM_FLAG
        return rx.search(body) is not None  # type: ignore[arg-type]
    return isinstance(parsed, Mapping) and parsed.get("stream") is True


_STREAM_FLAG = re.compile(r'"stream"\s*:\s*true')
_STREAM_FLAG_B = re.compile(rb'"stream"\s*:\s*true')


def parse_json(body: Any) -> Any:
    """``json.loads`` that returns None for anything that is not JSON."""
    if body is None or isinstance(body, (Mapping, list)):
        return body
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return None


