"""A user's agent: its definition checked field by field, and identified like a built-in agent."""

from __future__ import annotations

import pytest

from omniroute.bridge.catalog import AgentCatalog
from omniroute.bridge.interceptor import decide
from omniroute.bridge.mapping import MappingRule
from omniroute.bridge.user_agents import check_conflicts, parse_definition
from omniroute.engine.errors import BadRequest, Conflict
from omniroute.translate.formats import WireFormat


class Mappings:
    """The mapping store's read side, over fixed rules."""

    def __init__(self, rules: dict[str, list[MappingRule]]) -> None:
        self._rules = rules

    def rules(self, agent_id: str) -> tuple[MappingRule, ...]:
        return tuple(self._rules.get(agent_id, ()))

    def target_for(self, agent_id: str, model: str | None) -> str | None:
        from omniroute.bridge.mapping import resolve_mapping

        return resolve_mapping(self.rules(agent_id), model)


def test_a_definition_is_normalised() -> None:
    d = parse_definition("acme", " ", ["LLM.Acme.test.", "llm.acme.test"], [" acme/ ", ""], "gemini")
    assert (d.name, d.hosts, d.user_agents, d.wire_format) == ("acme", ("llm.acme.test",), ("acme/",), WireFormat.GEMINI)
    rules = d.spec().model_calls
    assert [r.path for r in rules] == ["*/models/*:generateContent", "*/models/*:streamGenerateContent"]


@pytest.mark.parametrize(("args", "words"), [
    (("Acme", None, ["a.test"], [], "openai-chat"), "lowercase"),
    (("acme", None, ["a b"], [], "openai-chat"), "invalid host"),
    (("acme", None, ["a.test"], [], "zed"), "is not one of"),
    (("acme", None, [], [], "openai-chat"), "at least one host"),
    (("acme", None, ["a.test"], [], "openai-chat", ["chat"]), "must start with"),
])
def test_bad_fields_are_named(args: tuple, words: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(BadRequest, match=words):
        parse_definition(*args)


def test_conflicts_with_builtins() -> None:
    catalog = AgentCatalog()
    with pytest.raises(Conflict, match="built-in"):
        check_conflicts(parse_definition("codex", None, ["x.test"], [], "openai-chat"), catalog)
    with pytest.raises(Conflict, match="claude-code"):
        check_conflicts(parse_definition("mine", None, ["api.anthropic.com"], [], "anthropic"), catalog)
    # A User-Agent token tells the two apart on a shared host.
    check_conflicts(parse_definition("mine", None, ["api.anthropic.com"], ["mine/"], "anthropic"), catalog)


def test_identified_and_mapped_like_a_builtin() -> None:
    catalog = AgentCatalog()
    shared = parse_definition("mine", None, ["api.anthropic.com"], ["mine/"], "anthropic")
    own = parse_definition("acme", None, ["*.acme.test"], [], "openai-chat", ["/llm/chat"])
    catalog.set_user_agents([shared.spec(), own.spec()])
    mappings = Mappings({"acme": [MappingRule("*", "mock/x")], "mine": [MappingRule("*", "mock/y")]})
    body = b'{"model": "m", "messages": []}'
    acme = decide(catalog, mappings, host="eu.acme.test", method="POST", path="/llm/chat", headers={}, body=body)
    assert (acme.agent and acme.agent.id, acme.wire_format, acme.target_model) == ("acme", "openai-chat", "mock/x")
    other_path = decide(catalog, mappings, host="eu.acme.test", method="POST", path="/v1/chat/completions",
                        headers={}, body=body)
    assert other_path.agent is not None and other_path.wire_format is None and not other_path.route
    mine = decide(catalog, mappings, host="api.anthropic.com", method="POST", path="/v1/messages",
                  headers={"user-agent": "mine/2.0"}, body=body)
    claude = decide(catalog, mappings, host="api.anthropic.com", method="POST", path="/v1/messages",
                    headers={"user-agent": "claude-cli/1.0"}, body=body)
    assert mine.agent is not None and mine.agent.id == "mine" and mine.target_model == "mock/y"
    assert claude.agent is not None and claude.agent.id == "claude-code"
    assert catalog.is_known_host("eu.acme.test")  # decrypted in DNS mode too
    catalog.set_user_agents([])
    assert "acme" not in catalog and "codex" in catalog


def test_identification_follows_each_change_of_the_agents() -> None:
    """`identify` remembers its answers per host and User-Agent: a change of the agents must
    not leave an old answer in place, in either direction."""
    catalog = AgentCatalog()
    assert catalog.identify("llm.acme.test", user_agent="acme/1.0") is None
    assert catalog.identify("api.anthropic.com", user_agent="mine/2.0").agent.id == "claude-code"  # type: ignore[union-attr]
    catalog.set_user_agents([parse_definition("acme", None, ["llm.acme.test"], [], "openai-chat").spec(),
                             parse_definition("mine", None, ["api.anthropic.com"], ["mine/"], "anthropic").spec()])
    assert catalog.identify("llm.acme.test", user_agent="acme/1.0").agent.id == "acme"  # type: ignore[union-attr]
    assert catalog.identify("api.anthropic.com", user_agent="mine/2.0").agent.id == "mine"  # type: ignore[union-attr]
    catalog.set_user_agents([])
    assert catalog.identify("llm.acme.test", user_agent="acme/1.0") is None
    assert catalog.identify("api.anthropic.com", user_agent="mine/2.0").agent.id == "claude-code"  # type: ignore[union-attr]


def test_remembered_answers_are_bounded() -> None:
    from omniroute.bridge.catalog import IDENTIFIED_MAX

    catalog = AgentCatalog()
    for i in range(IDENTIFIED_MAX * 2 + 5):
        assert catalog.identify("api.openai.com", user_agent=f"client/{i}").agent.id == "codex"  # type: ignore[union-attr]
    assert len(catalog._identified[1]) <= IDENTIFIED_MAX
