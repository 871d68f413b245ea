"""The one catalog of IDE agents the bridge recognises, as data.

An agent is identified from the request's host (exact names and ``*.suffix`` patterns), then
refined by its User-Agent: several agents share a model host (Kiro, Zed and OpenCode can all
call ``api.anthropic.com``), so the host says "claude-code" unless the User-Agent names another
agent. ``is_model_call`` says whether a request is a model call and in which wire format;
everything else (settings, telemetry, auth) passes through untouched. ``extract_model`` reads
the requested model per wire format.

Built-in agents are Python constants; user-added agents and hosts are plain dicts so the
database layer can store them (``AgentSpec.to_dict`` / ``AgentSpec.from_dict``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

# Wire format names (the same strings as omniroute.translate.Format, plus the two the
# translation layer does not convert: Zed's wrapper and Cursor's Connect protobuf).
OPENAI_CHAT = "openai-chat"
OPENAI_RESPONSES = "openai-responses"
ANTHROPIC = "anthropic"
GEMINI = "gemini"
GEMINI_CLOUDCODE = "gemini-cloudcode"
OLLAMA = "ollama"
KIRO = "kiro"
CONNECT_PROTO = "connect-proto"
ZED = "zed"  # {"provider", "model", "provider_request": <provider payload>} on llm.zed.dev
WIRE_FORMATS = frozenset(
    {OPENAI_CHAT, OPENAI_RESPONSES, ANTHROPIC, GEMINI, GEMINI_CLOUDCODE, OLLAMA, KIRO,
     CONNECT_PROTO, ZED}
)
WireFormat = str

# CA environment variables an agent's runtime may honour.
NODE_EXTRA_CA_CERTS = "NODE_EXTRA_CA_CERTS"
SSL_CERT_FILE = "SSL_CERT_FILE"
REQUESTS_CA_BUNDLE = "REQUESTS_CA_BUNDLE"
ENV_VARS = frozenset({NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE})

_AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_HOST = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


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
        fmt = str(data.get("format", ""))
        if fmt not in WIRE_FORMATS:
            raise ValueError(f"unknown wire format {fmt!r}; one of {sorted(WIRE_FORMATS)}")
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


def _post(path: str, fmt: WireFormat) -> ModelCallRule:
    return ModelCallRule("POST", path, fmt)


# Rules for agents that talk plain provider APIs to whatever host they are configured for
# (OpenCode, Zed with the user's own keys, user-added agents without rules of their own).
GENERIC_MODEL_CALLS: tuple[ModelCallRule, ...] = (
    _post("*/chat/completions", OPENAI_CHAT),
    _post("*/responses", OPENAI_RESPONSES),
    _post("*/messages", ANTHROPIC),
    _post("*/models/*:generateContent", GEMINI),
    _post("*/models/*:streamGenerateContent", GEMINI),
    _post("/api/chat", OLLAMA),
    _post("/api/generate", OLLAMA),
)
# A WebSocket upgrade to the Responses endpoint is Codex's preferred transport: a model call.
_WS_UPGRADE = ("upgrade", "websocket")


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
        formats = tuple(str(f) for f in data.get("wire_formats", ()))
        for fmt in formats:
            if fmt not in WIRE_FORMATS:
                raise ValueError(f"unknown wire format {fmt!r}; one of {sorted(WIRE_FORMATS)}")
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
        )


@dataclass(frozen=True)
class AgentMatch:
    agent: AgentSpec
    matched_by: str  # "host" | "user-agent" | "host+user-agent"
    host: str  # normalised host that was matched


def _token_in(token: str, text: str) -> bool:
    # A token must start a word ("Zed/" must not match "Authorized/1.0").
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(token), text, re.IGNORECASE) is not None


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


BUILTIN_AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec(
        id="claude-code", name="Claude Code", hosts=("api.anthropic.com",),
        wire_formats=(ANTHROPIC,), routable=True, env=(NODE_EXTRA_CA_CERTS,),
        # /v1/messages/count_tokens and /api/claude_code/settings are not generations.
        model_calls=(_post("/v1/messages", ANTHROPIC),),
        user_agents=("claude-cli/", "claude-code/"),
    ),
    AgentSpec(
        id="codex", name="Codex", hosts=("api.openai.com", "chatgpt.com"),
        wire_formats=(OPENAI_RESPONSES, OPENAI_CHAT), routable=True, env=(SSL_CERT_FILE,),
        model_calls=(
            _post("/v1/responses", OPENAI_RESPONSES),
            _post("/backend-api/codex/responses", OPENAI_RESPONSES),
            ModelCallRule("GET", "/v1/responses", OPENAI_RESPONSES, _WS_UPGRADE),
            ModelCallRule("GET", "/backend-api/codex/responses", OPENAI_RESPONSES, _WS_UPGRADE),
            _post("/v1/chat/completions", OPENAI_CHAT),
        ),
        user_agents=("codex_cli_rs", "codex_exec", "codex-tui", "codex_vscode"),
    ),
    AgentSpec(
        id="copilot", name="GitHub Copilot",
        hosts=("api.githubcopilot.com", "api.individual.githubcopilot.com",
               "api.business.githubcopilot.com", "api.enterprise.githubcopilot.com",
               "copilot-proxy.githubusercontent.com"),
        wire_formats=(OPENAI_CHAT, ANTHROPIC, OPENAI_RESPONSES), routable=True,
        env=(NODE_EXTRA_CA_CERTS,),
        model_calls=(
            _post("/chat/completions", OPENAI_CHAT), _post("/v1/chat/completions", OPENAI_CHAT),
            _post("/v1/messages", ANTHROPIC),
            _post("/responses", OPENAI_RESPONSES), _post("/v1/responses", OPENAI_RESPONSES),
        ),
        user_agents=("GithubCopilot", "GitHubCopilotChat", "copilot/"),
    ),
    AgentSpec(
        id="antigravity", name="Antigravity",
        hosts=("cloudcode-pa.googleapis.com", "daily-cloudcode-pa.googleapis.com"),
        wire_formats=(GEMINI_CLOUDCODE,), routable=True,
        env=(NODE_EXTRA_CA_CERTS, SSL_CERT_FILE),
        model_calls=(
            _post("/v1internal:generateContent", GEMINI_CLOUDCODE),
            _post("/v1internal:streamGenerateContent", GEMINI_CLOUDCODE),
        ),
        user_agents=("antigravity",),
    ),
    AgentSpec(
        id="kiro", name="Kiro",
        hosts=("q.us-east-1.amazonaws.com", "codewhisperer.us-east-1.amazonaws.com",
               "prod.kiro.aws", "api.anthropic.com"),
        wire_formats=(KIRO, ANTHROPIC), routable=True, env=(NODE_EXTRA_CA_CERTS,),
        model_calls=(
            _post("*/generateAssistantResponse", KIRO),
            ModelCallRule("POST", "*", KIRO, ("x-amz-target", "*GenerateAssistantResponse")),
            _post("/v1/messages", ANTHROPIC),
        ),
        user_agents=("KiroIDE", "Kiro/", "kiro-"),
    ),
    AgentSpec(
        id="zed", name="Zed", hosts=("api.zed.dev", "llm.zed.dev", "cloud.zed.dev"),
        wire_formats=(ZED, ANTHROPIC, OPENAI_CHAT, GEMINI), routable=True, env=(SSL_CERT_FILE,),
        model_calls=(_post("/completions", ZED), _post("/completion", ZED), *GENERIC_MODEL_CALLS),
        user_agents=("Zed/",),
    ),
    AgentSpec(
        id="open-code", name="OpenCode", hosts=("opencode.ai", "openrouter.ai"),
        wire_formats=(OPENAI_CHAT, ANTHROPIC, OPENAI_RESPONSES), routable=True,
        env=(NODE_EXTRA_CA_CERTS, SSL_CERT_FILE), model_calls=GENERIC_MODEL_CALLS,
        user_agents=("opencode",),
    ),
    AgentSpec(
        id="cursor", name="Cursor", hosts=("api2.cursor.sh", "api3.cursor.sh"),
        wire_formats=(CONNECT_PROTO,), routable=False,
        reason=("Cursor speaks Connect/gRPC protobuf with an undocumented schema: its calls are "
                "captured and passed through to Cursor unchanged, never rerouted."),
        env=(NODE_EXTRA_CA_CERTS,),
        model_calls=(_post("/aiserver.v1.ChatService/*", CONNECT_PROTO),),
        user_agents=("Cursor/",),
    ),
    AgentSpec(
        id="trae", name="Trae", hosts=(), wire_formats=(), routable=False,
        reason=("Trae's protocol is not documented: its calls are captured and passed through "
                "unchanged, never rerouted. Add its hosts once seen in captures."),
        env=(NODE_EXTRA_CA_CERTS,), user_agents=("Trae/", "TraeAI"),
    ),
)


class AgentCatalog:
    """Built-in agents plus user-added agents and hosts (plain dicts from the database)."""

    def __init__(
        self,
        user_agents: Iterable[Mapping[str, Any]] = (),
        extra_hosts: Mapping[str, Iterable[str]] | None = None,
        builtins: Iterable[AgentSpec] = BUILTIN_AGENTS,
    ) -> None:
        agents: dict[str, AgentSpec] = {a.id: a for a in builtins}
        for data in user_agents:
            spec = AgentSpec.from_dict(data)
            if spec.id in agents:
                raise ValueError(f"agent {spec.id!r} already exists; add hosts to it instead")
            agents[spec.id] = spec
        for agent_id, hosts in (extra_hosts or {}).items():
            if agent_id not in agents:
                raise ValueError(f"unknown agent {agent_id!r}")
            spec = agents[agent_id]
            added = tuple(normalize_host_pattern(h) for h in hosts)
            agents[agent_id] = replace(spec, hosts=tuple(dict.fromkeys(spec.hosts + added)))
        self._agents = agents

    def __iter__(self) -> Iterator[AgentSpec]:
        return iter(self._agents.values())

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._agents

    def get(self, agent_id: str) -> AgentSpec:
        try:
            return self._agents[agent_id]
        except KeyError:
            known = ", ".join(self._agents)
            raise KeyError(f"unknown agent {agent_id!r}; known: {known}") from None

    def agents_for_host(self, host: str) -> list[AgentSpec]:
        """Agents whose hosts match, best match first (catalog order breaks ties)."""
        host = normalize_host(host)
        ranked = [(a.host_rank(host), i, a) for i, a in enumerate(self._agents.values())]
        return [a for rank, _, a in sorted(ranked, key=lambda t: (-t[0], t[1])) if rank]

    def is_known_host(self, host: str) -> bool:
        return bool(self.agents_for_host(host))

    def identify(
        self, host: str, path: str = "/", user_agent: str | None = None
    ) -> AgentMatch | None:
        """Which agent sent this request? Host first, then the User-Agent refines or decides.

        A User-Agent naming an agent wins over the host's default owner (Kiro, Zed, OpenCode
        on api.anthropic.com); with no host match, the User-Agent alone identifies the agent
        (HTTP_PROXY mode sees agents calling provider hosts the catalog does not list).
        ``path`` is accepted for catalog rules keyed on paths; hosts decide today.
        """
        norm = normalize_host(host)
        by_host = self.agents_for_host(norm)
        by_ua = [a for a in self._agents.values() if a.ua_matches(user_agent)]
        if by_ua:
            # Prefer a UA-named agent that also owns the host; else the first UA-named one.
            for agent in by_ua:
                if agent in by_host:
                    return AgentMatch(agent, "host+user-agent", norm)
            return AgentMatch(by_ua[0], "user-agent", norm)
        if by_host:
            return AgentMatch(by_host[0], "host", norm)
        return None

    def is_model_call(
        self, agent: AgentSpec | str, method: str, path: str,
        headers: Mapping[str, str] | None = None,
    ) -> WireFormat | None:
        spec = self.get(agent) if isinstance(agent, str) else agent
        return is_model_call(spec, method, path, headers)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self]


def is_model_call(
    agent: AgentSpec, method: str, path: str, headers: Mapping[str, str] | None = None
) -> WireFormat | None:
    """The wire format if this request is a model call of ``agent``, else None."""
    bare = path.split("?", 1)[0].split("#", 1)[0] or "/"
    for rule in agent.model_calls:
        if rule.matches(method, bare, headers):
            return rule.wire_format
    return None


_GEMINI_PATH_MODEL = re.compile(r"/models/([^/:?]+):")


def _as_dict(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if body is None:
        return None
    if isinstance(body, Mapping):
        return body
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def extract_model(
    wire_format: WireFormat, body: bytes | str | Mapping[str, Any] | None, path: str = ""
) -> str | None:
    """The model the agent asked for, or None when the request does not name one."""
    if wire_format == GEMINI:
        found = _GEMINI_PATH_MODEL.search(path.split("?", 1)[0])
        if found:
            return found.group(1)
    if wire_format == CONNECT_PROTO:
        return None  # protobuf: no schema to read it with
    data = _as_dict(body)
    if data is None:
        return None
    if wire_format == KIRO:
        node: Any = data
        for key in ("conversationState", "currentMessage", "userInputMessage", "modelId"):
            node = node.get(key) if isinstance(node, Mapping) else None
        return _str_or_none(node)
    model = _str_or_none(data.get("model"))
    if model and wire_format in (GEMINI, GEMINI_CLOUDCODE):
        model = model.removeprefix("models/")
    return model


_ZED_PROVIDERS: dict[str, WireFormat] = {
    "anthropic": ANTHROPIC, "open_ai": OPENAI_CHAT, "google": GEMINI, "x_ai": OPENAI_CHAT,
}


def zed_inner_format(body: bytes | str | Mapping[str, Any] | None) -> WireFormat | None:
    """Wire format of the provider payload inside a Zed ``/completions`` body."""
    data = _as_dict(body)
    return _ZED_PROVIDERS.get(str(data.get("provider"))) if data else None

