"""Per-agent AgentBridge state (DNS mode on/off, last seen, last error) and the agents table.

State lives in one `key_values` row so the CLI can read it with no server running. The
AgentBridge addon marks an agent seen on every intercepted call, so `seen` only touches
memory; the caller flushes when `seen` says a flush is due (at most once a minute), and the
runtime flushes once more on shutdown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from omniroute.bridge.catalog import AgentSpec
from omniroute.db.database import Database
from omniroute.db.kv import kv_get, kv_set

STATE_KEY = "bridge.agents"
FLUSH_INTERVAL_S = 60.0


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts else None


class AgentStates:
    def __init__(
        self, db: Database, *, clock: Callable[[], float] = time.time,
        flush_interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.db = db
        self._clock = clock
        self._flush_interval = flush_interval
        self._seen: dict[str, float] = {}  # not yet written
        self._last_flush = clock()
        self._lock = threading.Lock()  # flushes run in a worker thread

    # -- hot path ----------------------------------------------------------------------
    def seen(self, agent_id: str) -> bool:
        """Record a call from ``agent_id``; True when the caller should schedule ``flush``."""
        now = self._clock()
        self._seen[agent_id] = now
        if now - self._last_flush >= self._flush_interval:
            self._last_flush = now
            return True
        return False

    # -- reads and writes --------------------------------------------------------------
    def stored(self) -> dict[str, dict[str, Any]]:
        value = kv_get(self.db, STATE_KEY, {})
        return {k: dict(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def all(self) -> dict[str, dict[str, Any]]:
        """Stored state with the not-yet-flushed sightings on top."""
        states = self.stored()
        for agent_id, ts in list(self._seen.items()):
            states.setdefault(agent_id, {})["last_seen"] = ts
        return states

    def update(self, agent_id: str, **fields: Any) -> None:
        with self._lock:
            states = self.stored()
            states.setdefault(agent_id, {}).update(fields)
            kv_set(self.db, STATE_KEY, states)

    def flush(self) -> None:
        with self._lock:
            pending, self._seen = self._seen, {}
            if not pending:
                return
            states = self.stored()
            for agent_id, ts in pending.items():
                row = states.setdefault(agent_id, {})
                row["last_seen"] = max(ts, float(row.get("last_seen") or 0))
            kv_set(self.db, STATE_KEY, states)


def agent_rows(
    agents: Iterable[AgentSpec],
    *,
    mapping_counts: Mapping[str, int],
    states: Mapping[str, Mapping[str, Any]],
    hosts_entries: Mapping[str, list[str]] | None,
    cert_trusted: bool | None,
) -> list[dict[str, Any]]:
    """One row per agent, as `GET /api/tools/agent-bridge/agents` and `omniroute agents` show it.

    ``hosts_entries`` is what the hosts file holds (None when it cannot be read: then the last
    state OmniRoute wrote is shown). The fields of the
    specification's `AgentBridgeAgentState` come first.
    """
    rows = []
    for spec in agents:
        state = states.get(spec.id, {})
        if hosts_entries is not None:
            dns_enabled = bool(hosts_entries.get(spec.id))
        else:
            dns_enabled = bool(state.get("dns_enabled"))
        rows.append({
            "agent_id": spec.id,
            "dns_enabled": dns_enabled,
            "cert_trusted": bool(cert_trusted),
            # None: this OS's trust store cannot be read from files (macOS, Windows, NSS).
            "cert_trust": {True: "trusted", False: "untrusted", None: "unknown"}[cert_trusted],
            "setup_completed": dns_enabled and bool(cert_trusted),
            "last_started_at": iso(state.get("last_started_at")),
            "last_error": state.get("last_error"),
            "last_seen": iso(state.get("last_seen")),
            "mappings_count": mapping_counts.get(spec.id, 0),
            "routable": spec.routable,
            "reason": spec.reason,
            **spec.to_dict(),
            "mappings": mapping_counts.get(spec.id, 0),  # kept: earlier clients read this name
        })
    return rows
