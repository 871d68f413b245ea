"""The one catalog of IDE agents the bridge recognises: built-ins plus the user's additions.

An agent is identified from the request's host (exact names and ``*.suffix`` patterns), then
refined by its User-Agent, in this order:

1. an agent the User-Agent names and that owns the host (Gemini CLI on Code Assist, Qwen Code
   on api.openai.com or openrouter.ai, Kiro on api.anthropic.com);
2. else an agent the User-Agent names, on any host (Zed and OpenCode calling a provider);
3. else the host's owner: an exact name before a suffix, then catalog order, so a shared host
   belongs to the agent listed first (api.anthropic.com: Claude Code; api.openai.com: Codex;
   openrouter.ai: OpenCode; cloudcode-pa.googleapis.com: Antigravity).

``tests/unit/bridge/test_identification_order.py`` checks every host two agents share.
``is_model_call`` says whether a request is a model call and in which wire format;
everything else (settings, telemetry, auth) passes through untouched. ``extract_model`` reads
the requested model per wire format.

The pieces live in their own modules (wire formats in ``wire``, the agent record in
``agent_spec``, the built-in table in ``builtin_agents``); they are re-exported here so callers
import from one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from omniroute.bridge.agent_spec import (
    ENV_VARS,
    GENERIC_MODEL_CALLS,
    NODE_EXTRA_CA_CERTS,
    REQUESTS_CA_BUNDLE,
    SSL_CERT_FILE,
    AgentMatch,
    AgentSpec,
    ModelCallRule,
    is_model_call,
    normalize_host,
    normalize_host_pattern,
)
from omniroute.bridge.builtin_agents import BUILTIN_AGENTS, DIRECT_AGENTS
from omniroute.bridge.wire import WIRE_FORMATS, extract_model
from omniroute.bridge.zed import zed_inner_format
from omniroute.translate.formats import WireFormat

__all__ = [
    "BUILTIN_AGENTS", "ENV_VARS", "GENERIC_MODEL_CALLS", "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "WIRE_FORMATS",
    "AgentCatalog", "AgentMatch", "AgentSpec", "ModelCallRule", "WireFormat", "extract_model",
    "is_model_call", "normalize_host", "normalize_host_pattern", "zed_inner_format",
]


IDENTIFIED_MAX = 1024  # distinct (host, User-Agent) pairs remembered; the cache restarts when full


class AgentCatalog:
    """Built-in agents plus user-added agents and hosts (plain dicts from the database).

    ``identify`` runs for every proxied flow and every ``/v1`` call, and its answer depends on
    the host, the User-Agent and the agents only: answers are remembered per (host, User-Agent)
    until the agents change.
    """

    def __init__(
        self,
        user_agents: Iterable[Mapping[str, Any]] = (),
        extra_hosts: Mapping[str, Iterable[str]] | None = None,
        builtins: Iterable[AgentSpec] = BUILTIN_AGENTS + DIRECT_AGENTS,
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
        # Answers of `identify`, valid for the agents dict they were computed from.
        self._identified: tuple[dict[str, AgentSpec], dict[tuple[str, str | None], AgentMatch | None]] = (agents, {})

    def set_user_agents(self, specs: Iterable[AgentSpec]) -> None:
        """Replace the user-defined agents (`bridge.user_agents` after each change); built-ins stay.

        One swap of the dict: a request being identified sees the old set or the new one.
        """
        agents = {a.id: a for a in self._agents.values() if a.builtin}
        for spec in specs:
            agents.setdefault(spec.id, spec)  # a built-in id is refused when saved
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
        return _ranked(self._agents, normalize_host(host))

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
        agents = self._agents
        owner, identified = self._identified
        if owner is not agents:  # the agents changed since these answers
            identified = {}
            self._identified = (agents, identified)
        key = (norm, user_agent)
        try:
            return identified[key]
        except KeyError:
            pass
        match = self._identify(agents, norm, user_agent)
        if len(identified) >= IDENTIFIED_MAX:
            identified.clear()
        identified[key] = match
        return match

    @staticmethod
    def _identify(agents: dict[str, AgentSpec], norm: str, user_agent: str | None) -> AgentMatch | None:
        by_host = _ranked(agents, norm)
        by_ua = [a for a in agents.values() if a.ua_matches(user_agent)]
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


def _ranked(agents: dict[str, AgentSpec], host: str) -> list[AgentSpec]:
    ranked = [(a.host_rank(host), i, a) for i, a in enumerate(agents.values())]
    return [a for rank, _, a in sorted(ranked, key=lambda t: (-t[0], t[1])) if rank]
