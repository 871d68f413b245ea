"""The `omniroute agents` command group: the table, and add | edit | remove of the user's own
agents (typer wiring; the bodies are in cli_bridge and cli_agents)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from omniroute.cli_common import Home, build_settings, run_bridge

agents_app = typer.Typer(
    help="Agents: the table (routable, DNS mode, CA, mappings, last seen); add, edit or remove your own.",
    invoke_without_command=True,
)

AgentId = Annotated[str, typer.Argument(help="Agent id: lowercase letters, digits and '-'.")]
Name = Annotated[str | None, typer.Option(help="Display name (default: the id).")]
Hosts = Annotated[list[str] | None, typer.Option("--host", help="A host it calls (api.example.com or *.example.com); repeat for more.")]
UserAgents = Annotated[list[str] | None, typer.Option("--user-agent", help="A token of its User-Agent header (my-agent/); repeat for more.")]
WireFormat = Annotated[str | None, typer.Option("--wire-format", help="openai-chat, openai-responses, anthropic or gemini.")]
Paths = Annotated[list[str] | None, typer.Option("--path", help="A model-call path glob (*/chat/completions); default: the format's usual paths.")]


@agents_app.callback()
def agents(ctx: typer.Context, home: Home = None) -> None:
    """Table of agents: routable, DNS mode, CA trusted, mappings, last seen."""
    if ctx.invoked_subcommand is not None:
        return
    from omniroute import cli_bridge

    run_bridge(lambda: cli_bridge.agents_table(build_settings(home=home), typer.echo, lambda m: typer.echo(m, err=True)))


@agents_app.command("add")
def add(agent_id: AgentId, wire_format: WireFormat = None, host: Hosts = None, user_agent: UserAgents = None,
        path: Paths = None, name: Name = None, home: Home = None) -> None:
    """Add your own agent to the running server: recognised by its hosts and User-Agent, routable."""
    from omniroute import cli_agents

    body = cli_agents.definition_body(agent_id, name, host or [], user_agent or [], wire_format, path or [])
    run_bridge(lambda: cli_agents.add_agent(build_settings(home=home), body, typer.echo))


@agents_app.command("edit")
def edit(agent_id: AgentId, wire_format: WireFormat = None, host: Hosts = None, user_agent: UserAgents = None,
         path: Paths = None, name: Name = None, home: Home = None) -> None:
    """Change your agent: the options given replace its values (`--host -` clears the hosts)."""
    from omniroute import cli_agents

    def changes(current: dict[str, Any]) -> dict[str, Any]:
        return cli_agents.definition_body(agent_id, name, host or [], user_agent or [], wire_format, path or [], current)

    run_bridge(lambda: cli_agents.edit_agent(build_settings(home=home), agent_id, changes, typer.echo))


@agents_app.command("remove")
def remove(agent_id: AgentId, home: Home = None) -> None:
    """Remove your agent and its mappings from the running server (built-in agents stay)."""
    from omniroute import cli_agents

    run_bridge(lambda: cli_agents.remove_agent(build_settings(home=home), agent_id, typer.echo))
