"""Per-agent state: sightings stay in memory until a flush is due; rows for API and CLI."""

from __future__ import annotations

from pathlib import Path

from omniroute.bridge.agent_state import AgentStates, agent_rows
from omniroute.bridge.catalog import AgentCatalog
from omniroute.db.database import Database


def _db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    db.migrate()
    return db


def test_seen_is_memory_only_until_the_flush_interval(tmp_path: Path) -> None:
    now = [1000.0]
    states = AgentStates(_db(tmp_path), clock=lambda: now[0], flush_interval=60)
    assert states.seen("codex") is False
    assert states.stored() == {} and states.all()["codex"]["last_seen"] == 1000.0
    now[0] = 1061.0
    assert states.seen("claude-code") is True  # the caller schedules the flush
    states.flush()
    stored = states.stored()
    assert stored["codex"]["last_seen"] == 1000.0 and stored["claude-code"]["last_seen"] == 1061.0


def test_update_keeps_other_fields_and_flush_never_goes_back_in_time(tmp_path: Path) -> None:
    db = _db(tmp_path)
    states = AgentStates(db, clock=lambda: 50.0)
    states.update("kiro", dns_enabled=True, last_started_at=10.0)
    AgentStates(db).update("kiro", last_seen=99.0)  # another process (the CLI) saw it later
    states.seen("kiro")
    states.flush()
    assert states.stored()["kiro"] == {"dns_enabled": True, "last_started_at": 10.0, "last_seen": 99.0}


def test_rows_say_why_an_agent_is_not_routable_and_prefer_the_hosts_file() -> None:
    rows = {
        r["agent_id"]: r
        for r in agent_rows(
            AgentCatalog(), mapping_counts={"codex": 2},
            states={"codex": {"dns_enabled": True, "last_seen": 0.0}, "zed": {"dns_enabled": True}},
            hosts_entries={"zed": ["llm.zed.dev"]}, cert_trusted=None,
        )
    }
    assert rows["codex"]["dns_enabled"] is False  # the hosts file says otherwise
    assert rows["zed"]["dns_enabled"] is True and rows["zed"]["setup_completed"] is False
    assert rows["codex"]["mappings_count"] == 2 and rows["codex"]["cert_trust"] == "unknown"
    assert rows["cursor"]["routable"] is False and "protobuf" in rows["cursor"]["reason"]
    assert rows["trae"]["reason"]
