"""What the catalog knows about one agent: its hosts, User-Agent tokens and model-call rules.

Built-in agents are Python constants (``omniroute.bridge.builtin_agents``); user-added agents
and hosts are plain dicts so the database layer can store them (``AgentSpec.to_dict`` /
``AgentSpec.from_dict``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from omniroute.bridge.wire import (
    WIRE_FORMATS,
)
from omniroute.translate.formats import WireFormat

# CA environment variables an agent's runtime may honour.
NODE_EXTRA_CA_CERTS = "NODE_EXTRA_CA_CERTS"
SSL_CERT_FILE = "SSL_CERT_FILE"
REQUESTS_CA_BUNDLE = "REQUESTS_CA_BUNDLE"
ENV_VARS = frozenset({NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE})

_AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOST = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


def _check_format(fmt: str) -> str:
    if fmt not in WIRE_FORMATS:
        raise ValueError(f"unknown wire format {fmt!r}; one of {sorted(WIRE_FORMATS)}")
    return fmt


@dataclass(frozen=True)
class ModelCallRule:
    """``method`` + path glob (query stripped) [+ header glob] → wire format.

    ``method`` may be ``*``. ``header`` is ``(name, glob)``, matched case-insensitively; a rule
    with only a header condition uses path ``*``.
    """

    method: str
    path: str
    wire_format: WireFormat
    header: tuple[str, str] | None = None

    def matches(self, method: str, path: str, headers: Mapping[str, str] | None) -> bool:
        if self.method not in ("*", method.upper()) or not fnmatchcase(path, self.path):
            return False
        if self.header is None or headers is None:
            return self.header is None
        name, pattern = self.header
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
        return value is not None and fnmatchcase(value.lower(), pattern.lower())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path, "format": self.wire_format}
        if self.header:
            out["header"] = list(self.header)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCallRule:
        fmt = _check_format(str(data.get("format", "")))
        path = str(data.get("path", "*"))
        if not path.startswith(("/", "*")):
            raise ValueError(f"model-call path {path!r} must start with '/' or '*'")
        header = data.get("header")
        return cls(
            method=str(data.get("method", "POST")).upper(),
            path=path,
            wire_format=fmt,
            header=(str(header[0]), str(header[1])) if header else None,
        )


def post(path: str, fmt: WireFormat) -> ModelCallRule:
    return ModelCallRule("POST", path, fmt)


# Rules for agents that talk plain provider APIs to whatever host they are configured for
# (OpenCode, Zed with the user's own keys, user-added agents without rules of their own).
GENERIC_MODEL_CALLS: tuple[ModelCallRule, ...] = (
    post("*/chat/completions", WireFormat.OPENAI_CHAT),
    post("*/responses", WireFormat.OPENAI_RESPONSES),
    post("*/messages", WireFormat.ANTHROPIC),
    post("*/models/*:generateContent", WireFormat.GEMINI),
    post("*/models/*:streamGenerateContent", WireFormat.GEMINI),
    post("/api/chat", WireFormat.OLLAMA),
    post("/api/generate", WireFormat.OLLAMA),
)
# A WebSocket upgrade is a model call where the agent streams over WebSocket (Codex, Zed).
WS_UPGRADE = ("upgrade", "websocket")


@dataclass(frozen=True)
class AgentSpec:
    id: str
    name: str
    hosts: tuple[str, ...]
    wire_formats: tuple[WireFormat, ...]
    routable: bool
    reason: str | None = None  # why not routable; shown in API, CLI and UI
    env: tuple[str, ...] = ()  # CA env vars the agent's runtime honours
    model_calls: tuple[ModelCallRule, ...] = ()
    user_agents: tuple[str, ...] = ()  # User-Agent tokens naming this agent
    builtin: bool = True
    # What routing this agent cannot do although it is routable; shown in the API.
    limits: tuple[str, ...] = ()

    @property
    def exact_hosts(self) -> tuple[str, ...]:
        """Hosts a hosts file can name (no wildcards)."""
        return tuple(h for h in self.hosts if not h.startswith("*."))

    def host_rank(self, host: str) -> int:
        """0 = no match; exact matches rank above any suffix, longer suffixes above shorter."""
        best = 0
        for pattern in self.hosts:
            if pattern == host:
                return 10_000
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                best = max(best, len(pattern))
        return best

    def ua_matches(self, user_agent: str | None) -> bool:
        return bool(user_agent) and any(_token_in(t, user_agent or "") for t in self.user_agents)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``AgentSpec.from_dict`` reads it back (as a user-added agent)."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}
        out["model_calls"] = [r.to_dict() for r in self.model_calls]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentSpec:
        """Build a user-added agent; raises ValueError naming the bad field."""
        agent_id = str(data.get("id", ""))
        if not _AGENT_ID.match(agent_id):
            raise ValueError(f"agent id {agent_id!r} must be lowercase letters, digits and '-'")
        hosts = tuple(normalize_host_pattern(h) for h in data.get("hosts", ()))
        formats = tuple(_check_format(str(f)) for f in data.get("wire_formats", ()))
        env = tuple(str(e) for e in data.get("env", ()))
        for var in env:
            if var not in ENV_VARS:
                raise ValueError(f"unknown CA env var {var!r}; one of {sorted(ENV_VARS)}")
        routable = bool(data.get("routable", True))
        reason = data.get("reason")
        if not routable and not reason:
            raise ValueError(f"agent {agent_id!r} is not routable: say why in 'reason'")
        rules = tuple(ModelCallRule.from_dict(r) for r in data.get("model_calls", ()))
        rules = rules or GENERIC_MODEL_CALLS
        return cls(
            id=agent_id,
            name=str(data.get("name") or agent_id),
            hosts=hosts,
            wire_formats=formats or tuple(dict.fromkeys(r.wire_format for r in rules)),
            routable=routable,
            reason=str(reason) if reason else None,
            env=env,
            model_calls=rules,
            user_agents=tuple(str(u) for u in data.get("user_agents", ()) if str(u).strip()),
            builtin=False,
            limits=tuple(str(n) for n in data.get("limits", ()) if str(n).strip()),
        )


@dataclass(frozen=True)
class AgentMatch:
    agent: AgentSpec
    matched_by: str  # "host" | "user-agent" | "host+user-agent"
    host: str  # normalised host that was matched


@functools.lru_cache(maxsize=1024)
def _token_pattern(token: str) -> re.Pattern[str]:
    # A token must start a word ("Zed/" must not match "Authorized/1.0").
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(token), re.IGNORECASE)


def _token_in(token: str, text: str) -> bool:
    # Compiled once per token: this runs for every agent on every proxied request.
    return _token_pattern(token).search(text) is not None


def normalize_host(host: str) -> str:
    """Lower-case, no port, no trailing dot, no IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def normalize_host_pattern(pattern: str) -> str:
    """Validate an exact host or ``*.suffix`` pattern for the catalog."""
    host = normalize_host(str(pattern))
    if not _HOST.match(host) or len(host) > 253:
        raise ValueError(
            f"invalid host {pattern!r}: use a name like api.example.com or *.example.com"
        )
    return host


def is_model_call(
    agent: AgentSpec, method: str, path: str, headers: Mapping[str, str] | None = None
) -> WireFormat | None:
    """The wire format if this request is a model call of ``agent``, else None."""
    bare = path.split("?", 1)[0].split("#", 1)[0] or "/"
    for rule in agent.model_calls:
        if rule.matches(method, bare, headers):
            return rule.wire_format
    return None
