"""Bodies of the inspector CLI commands: `omniroute har export`, `omniroute sessions`.

Where they get their data, and why:

- `har export` asks the running OmniRoute API (`127.0.0.1:<api_port>`): the live ring exists
  only in that process's memory. With `--session ID` and no running API, the session's rows are
  read from the database instead (they are persisted), so a session can be exported offline.
- `sessions` reads the database directly: sessions are persisted, and listing them should work
  whether or not OmniRoute is running (SQLite in WAL mode allows a reader next to the writer).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from omniroute.config import Settings
from omniroute.db.database import Database
from omniroute.db.tables import CapturedRequest, InspectorSession
from omniroute.inspector.har import har_bytes
from omniroute.inspector.model import InterceptedRequest

Echo = Callable[[str], None]
BASE = "/api/tools/traffic-inspector"


class CommandError(Exception):
    """One line for stderr; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _database(settings: Settings) -> Database:
    if settings.database_url is None and not settings.db_path.exists():
        raise CommandError(f"no OmniRoute database at {settings.db_path}; pass --home or run `omniroute run` once")
    return Database(settings.effective_database_url)


def har_export(settings: Settings, output: Path, session: str | None, flow_filter: str | None, echo: Echo) -> None:
    url = f"{settings.api_base_url}{BASE}/" + (f"sessions/{quote(session, safe='')}/export.har" if session else "export.har")
    params = {"filter": flow_filter} if flow_filter else {}
    try:
        response = httpx.get(url, params=params, timeout=120, trust_env=False)
    except httpx.TransportError:
        if session is None:
            raise CommandError(
                f"OmniRoute is not running on {settings.api_base_url} (the live capture lives in its memory); "
                "start it, pass --api-port, or export a recorded session with --session ID"
            ) from None
        body, count = _session_from_database(settings, session, flow_filter)
    else:
        if response.status_code != 200:
            raise CommandError(f"export failed ({response.status_code}): {_message(response)}")
        body, count = response.content, int(response.headers.get("x-har-entries", "0"))
    output.write_bytes(body)
    echo(f"wrote {count} entries to {output}")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


def _session_rows(settings: Settings, session_id: str) -> list[InterceptedRequest]:
    db = _database(settings)
    try:
        with db.session() as s:
            if s.get(InspectorSession, session_id) is None:
                raise CommandError(f"no recording session {session_id!r}")
            stored = s.exec(select(CapturedRequest).where(CapturedRequest.session_id == session_id)
                            .order_by(col(CapturedRequest.timestamp))).all()
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot read {db.safe_url}: {exc.__class__.__name__}") from None
    finally:
        db.dispose()
    return [InterceptedRequest.from_dict(r.data) for r in stored]


def _apply_filter(rows: list[InterceptedRequest], flow_filter: str | None) -> list[InterceptedRequest]:
    if not flow_filter:
        return rows
    from omniroute.inspector.flowfilter import FlowFilterError, compile_filter

    try:
        predicate = compile_filter(flow_filter)
    except FlowFilterError as exc:
        raise CommandError(str(exc), code=2) from None
    return [r for r in rows if predicate(r)]


def _session_from_database(settings: Settings, session_id: str, flow_filter: str | None) -> tuple[bytes, int]:
    rows = _apply_filter(_session_rows(settings, session_id), flow_filter)
    return har_bytes(rows), len(rows)


def sessions_table(settings: Settings, echo: Echo) -> None:
    db = _database(settings)
    try:
        with db.session() as s:
            rows = s.exec(select(InspectorSession).order_by(col(InspectorSession.started_at).desc())).all()
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot read {db.safe_url}: {exc.__class__.__name__}") from None
    finally:
        db.dispose()
    if not rows:
        echo("no recording sessions (start one in the inspector or POST /api/tools/traffic-inspector/sessions)")
        return
    header = ("ID", "NAME", "STARTED", "ENDED", "REQUESTS")
    lines = [header] + [(r.id, r.name, _when(r.started_at), _when(r.stopped_at) or "recording",
                         str(r.request_count)) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
