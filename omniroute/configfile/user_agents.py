"""The config file's own agents: an `agents` entry with a `wireFormat` defines a user agent.

Checked as `POST /api/tools/agent-bridge/agents` checks one (the same functions); the rows are
marked `from_config`, so the API refuses to change them, and a defined agent the file no
longer declares is removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import select

from omniroute.bridge.catalog import AgentCatalog
from omniroute.bridge.user_agents import KIND, UserAgentDef, check_conflicts, parse_definition
from omniroute.db.tables import UserAgent
from omniroute.engine.errors import EngineError
from omniroute.translate.formats import WireFormat

if TYPE_CHECKING:
    from omniroute.configfile.apply import _Run


def apply_user_agents(run: _Run) -> None:
    rows = {r.id: r for r in run.session.exec(select(UserAgent)).all()}
    declared = {i: e for i, e in run.config.agents.items() if e.wireFormat is not None}
    run.drop_unlisted(rows.values(), lambda r: r.id in declared, KIND)
    defs: dict[str, UserAgentDef] = {}
    for agent_id, entry in declared.items():
        try:
            defs[agent_id] = parse_definition(agent_id, entry.name, entry.hosts, entry.userAgents,
                                              entry.wireFormat or "", entry.paths)
        except EngineError as exc:
            run.problem(("agents", agent_id), exc.message)
    others = [UserAgentDef(r.id, r.name, tuple(r.hosts), tuple(r.user_agents), WireFormat(r.wire_format),
                           tuple(r.paths)) for r in rows.values() if r.id not in declared and not r.from_config]
    catalog = AgentCatalog()
    catalog.set_user_agents(d.spec() for d in [*others, *defs.values()])
    for definition in defs.values():
        try:
            check_conflicts(definition, catalog)
        except EngineError as exc:
            run.problem(("agents", definition.id), exc.message)
            continue
        row = rows.get(definition.id) or UserAgent(id=definition.id, name=definition.name,
                                                   wire_format=str(definition.wire_format))
        run.set(row, KIND, name=definition.name, hosts=list(definition.hosts),
                user_agents=list(definition.user_agents), wire_format=str(definition.wire_format),
                paths=list(definition.paths))
