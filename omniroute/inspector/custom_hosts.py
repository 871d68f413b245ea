"""Custom capture hosts: hosts a user wants captured beyond the agent catalog.

Stored in ``inspector_custom_hosts``; the enabled ones are pointed at loopback in the hosts file
by the same manager the AgentBridge uses (``bridge.hostsfile.HostsFile``), under one tag
(``custom-hosts``), so traffic to them reaches our DNS-mode listener. Captured flows to these
hosts get the source ``custom-host``.

``is_custom`` is on the capture hot path: an in-memory frozenset lookup. Everything else touches
the database or the hosts file: call it from a worker thread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from omniroute.bridge.catalog import normalize_host_pattern
from omniroute.bridge.hostsfile import HostsFile
from omniroute.db.database import Database
from omniroute.db.tables import InspectorCustomHost

HOSTS_TAG = "custom-hosts"
KINDS = ("llm", "app", "custom")


class CustomHostExists(ValueError):
    pass


class CustomHostNotFound(LookupError):
    pass


def normalize_custom_host(host: str) -> str:
    """An exact host name (a hosts file cannot map ``*.x``); ValueError says what is wrong."""
    norm = normalize_host_pattern(host)
    if "*" in norm:
        raise ValueError(f"a custom capture host must be an exact name, not a pattern: {host!r}")
    return norm


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def host_dict(row: InspectorCustomHost, last_seen: datetime | None = None) -> dict[str, Any]:
    """``InspectorCustomHost`` of the OmniRoute API specification."""
    return {"host": row.host, "enabled": row.enabled, "label": row.label, "kind": row.kind,
            "added_at": _iso(row.added_at), "last_seen_at": _iso(last_seen or row.last_seen_at)}


class CustomHosts:
    def __init__(self, db: Database, hosts_file: Path) -> None:
        self.db = db
        self.hosts_file = HostsFile(hosts_file)
        self._seen: dict[str, datetime] = {}
        self._enabled: frozenset[str] = frozenset()
        self._reload()

    # -- hot path ----------------------------------------------------------------------------
    def is_custom(self, host: str) -> bool:
        if host in self._enabled:
            self._seen[host] = datetime.now(UTC)  # persisted when the list is read
            return True
        return False

    @property
    def enabled_count(self) -> int:
        return len(self._enabled)

    # -- management (worker thread) ----------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            rows = s.exec(select(InspectorCustomHost).order_by(col(InspectorCustomHost.added_at))).all()
            seen, self._seen = self._seen, {}
            for row in rows:
                if row.host in seen:
                    row.last_seen_at = seen[row.host]
                    s.add(row)
            s.commit()
        return [host_dict(r) for r in rows]

    def add(self, host: str, enabled: bool = True, label: str | None = None, kind: str = "custom") -> dict[str, Any]:
        name = normalize_custom_host(host)
        with self.db.session() as s:
            if s.get(InspectorCustomHost, name) is not None:
                raise CustomHostExists(f"custom host {name!r} already exists")
        row = InspectorCustomHost(host=name, enabled=enabled, label=label, kind=kind)
        if enabled:  # hosts file first: nothing is saved when it cannot be written
            self._apply(self._enabled | {name})
        with self.db.session() as s:
            s.add(row)
            s.commit()
        self._reload()
        return host_dict(row)

    def set_enabled(self, host: str, enabled: bool) -> dict[str, Any]:
        name = normalize_custom_host(host)
        with self.db.session() as s:
            row = s.get(InspectorCustomHost, name)
            if row is None:
                raise CustomHostNotFound(name)
            self._apply(self._enabled | {name} if enabled else self._enabled - {name})
            row.enabled = enabled
            s.add(row)
            s.commit()
        self._reload()
        return host_dict(row)

    def remove(self, host: str) -> None:
        name = normalize_custom_host(host)
        with self.db.session() as s:
            row = s.get(InspectorCustomHost, name)
            if row is None:
                raise CustomHostNotFound(name)
            if row.enabled:
                self._apply(self._enabled - {name})
            s.delete(row)
            s.commit()
        self._reload()

    def hosts_file_entries(self) -> list[str]:
        return self.hosts_file.entries().get(HOSTS_TAG, [])

    # -- internals ---------------------------------------------------------------------------
    def _apply(self, hosts: frozenset[str]) -> None:
        """The hosts file's custom block = exactly these hosts (raises HostsFileError)."""
        if hosts:
            self.hosts_file.enable(HOSTS_TAG, hosts)
        else:
            self.hosts_file.disable(HOSTS_TAG)

    def _reload(self) -> None:
        with self.db.session() as s:
            rows = s.exec(select(InspectorCustomHost.host).where(col(InspectorCustomHost.enabled))).all()
        self._enabled = frozenset(rows)
