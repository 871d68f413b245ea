"""`omniroute map` and `omniroute agents add|edit|remove`: through the running server's API.

The server checks what is saved (a mapping target that does not resolve, an agent id or host
that clashes) and applies it at once; with no server running these commands say so and
change nothing (the config file declares agents and mappings for a server not yet started).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from omniroute.bridge.mapping import validate_pattern, validate_target
from omniroute.cli_bridge import CommandError
from omniroute.cli_server import NoServer, Server, api_error, require_server
from omniroute.config import Settings

Echo = Callable[[str], None]
BASE = "/api/tools/agent-bridge/agents"


def _server(settings: Settings, action: str) -> Server:
    try:
        return require_server(settings, action)
    except NoServer as exc:
        raise CommandError(str(exc), 1) from None


def _refused(reply: Any, what: str) -> CommandError:
    code = 2 if reply.status_code in (400, 404, 409, 422) else 1
    return CommandError(f"{what} refused by the running server ({reply.status_code}):\n{api_error(reply)}", code)


# -- map ---------------------------------------------------------------------------------
def parse_rule(rule: str) -> tuple[str, str]:
    source, sep, target = rule.partition("=")
    if not sep or not source or not target:
        raise CommandError(f"expected SOURCE=TARGET (e.g. 'claude-*=mycloud/claude-sonnet'), got {rule!r}", 2)
    try:
        validate_pattern(source)
        validate_target(target)
    except ValueError as exc:
        raise CommandError(f"invalid mapping: {exc}", 2) from None
    return source, target


def map_model(settings: Settings, agent_id: str, rule: str, echo: Echo) -> None:
    source, target = parse_rule(rule)
    with _server(settings, "map again") as server:
        current = server.api.get(f"{BASE}/{agent_id}/mappings")
        if current.status_code != 200:
            raise _refused(current, f"agent {agent_id!r}")
        kept = [{"source": r["source_model"], "target": r["target_model"]} for r in current.json()
                if r["source_model"].casefold() != source.casefold()]
        reply = server.api.put(f"{BASE}/{agent_id}/mappings",
                               json={"mappings": [*kept, {"source": source, "target": target}]})
        if reply.status_code != 200:
            raise _refused(reply, "the mapping")
        echo(f"{agent_id}: {source} -> {target}")
        echo(f"applied by {server.describe()}")
        if reply.json().get("warning"):
            echo(f"note: {reply.json()['warning']}")


# -- agents add | edit | remove ----------------------------------------------------------
def definition_body(
    agent_id: str, name: str | None, hosts: Sequence[str], user_agents: Sequence[str],
    wire_format: str | None, paths: Sequence[str], base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The POST/PUT body: options given replace the stored values, the others are kept."""
    body = dict(base or {})
    body.pop("builtin", None)
    body.pop("fromConfig", None)
    body["id"] = agent_id
    for key, value in (("name", name), ("wireFormat", wire_format)):
        if value is not None:
            body[key] = value
    for key, values in (("hosts", hosts), ("userAgents", user_agents), ("paths", paths)):
        if values:
            body[key] = [v for v in values if v != "-"]  # "-" alone clears the list
    return body


def add_agent(settings: Settings, body: dict[str, Any], echo: Echo) -> None:
    if "wireFormat" not in body:
        raise CommandError("--wire-format is required: openai-chat, openai-responses, anthropic or gemini", 2)
    with _server(settings, "add the agent again") as server:
        reply = server.api.post(BASE, json=body)
        if reply.status_code != 201:
            raise _refused(reply, f"agent {body['id']!r}")
        _echo_agent(reply.json(), f"added to {server.describe()}", echo)


def edit_agent(settings: Settings, agent_id: str, changes: Callable[[dict[str, Any]], dict[str, Any]],
               echo: Echo) -> None:
    with _server(settings, "edit the agent again") as server:
        current = server.api.get(f"{BASE}/{agent_id}/definition")
        if current.status_code != 200:
            raise _refused(current, f"agent {agent_id!r}")
        reply = server.api.put(f"{BASE}/{agent_id}", json=changes(current.json()))
        if reply.status_code != 200:
            raise _refused(reply, f"agent {agent_id!r}")
        _echo_agent(reply.json(), f"changed on {server.describe()}", echo)


def remove_agent(settings: Settings, agent_id: str, echo: Echo) -> None:
    with _server(settings, "remove the agent again") as server:
        reply = server.api.delete(f"{BASE}/{agent_id}")
        if reply.status_code != 204:
            raise _refused(reply, f"removing agent {agent_id!r}")
        echo(f"{agent_id}: removed (with its mappings) from {server.describe()}")


def _echo_agent(agent: dict[str, Any], where: str, echo: Echo) -> None:
    echo(f"{agent['id']}: {where}")
    echo(f"  name: {agent['name']}")
    echo(f"  hosts: {', '.join(agent['hosts']) or '-'}")
    echo(f"  user agents: {', '.join(agent['userAgents']) or '-'}")
    echo(f"  wire format: {agent['wireFormat']}")
    echo(f"  paths: {', '.join(agent['paths']) or '(the format’s usual paths)'}")
    echo(f"map its models with: omniroute map {agent['id']} SOURCE=TARGET")
