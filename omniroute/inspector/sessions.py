"""Recording sessions: named spans of capture whose rows are kept in the database.

One session records at a time (``Capture.session_id``). Finished rows reach ``record`` from the
event loop and are written by a ``BackgroundWriter`` thread, never on the request path; the
writer recounts ``request_count`` from the stored rows in the same transaction, so the count is
exact even when a row is written twice (ingest, annotation). A session still open when the
process stops keeps recording after the next start (it was never stopped).

Every method except ``record`` touches the database: call them from a worker thread
(``asyncio.to_thread``) on the API side.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from omniroute.db.database import Database
from omniroute.db.tables import CapturedRequest, InspectorSession, new_id, utcnow
from omniroute.db.writer import BackgroundWriter
from omniroute.inspector.capture import Capture
from omniroute.inspector.model import InterceptedRequest

PROFILES = ("llm", "custom", "all")


class SessionNotFound(LookupError):
    pass


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; we always store UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_dict(row: InspectorSession, active_id: str | None = None) -> dict[str, Any]:
    """The OmniRoute API specification's ``InspectorSession`` (snake_case, as it spells it)
    plus ``active``."""
    return {
        "id": row.id,
        "name": row.name,
        "started_at": _iso(row.started_at),
        "ended_at": _iso(row.stopped_at),
        "request_count": row.request_count,
        "profile": row.profile,
        "active": row.id == active_id,
    }


def _write_rows(session: Session, batch: list[dict[str, Any]]) -> None:
    # Each session's row is locked before its rows are added and counted: instances sharing
    # one database then count in turn, so two writing at once cannot both store a stale count.
    # Sorted, so two writers lock several sessions in the same order. A row finishing after its
    # session was deleted is dropped, not resurrected.
    live = {
        sid for sid in sorted({data["sessionId"] for data in batch})
        if session.exec(
            select(InspectorSession.id).where(col(InspectorSession.id) == sid).with_for_update()
        ).first() is not None
    }
    for data in batch:
        if data["sessionId"] in live:
            session.merge(CapturedRequest(
                id=data["id"], session_id=data["sessionId"],
                timestamp=datetime.fromtimestamp(data["startedAt"], UTC), data=data,
            ))
    session.flush()
    for session_id in live:
        count = session.exec(
            select(func.count()).select_from(CapturedRequest).where(CapturedRequest.session_id == session_id)
        ).one()
        session.execute(
            update(InspectorSession).where(col(InspectorSession.id) == session_id).values(request_count=count)
        )


class SessionStore:
    def __init__(
        self, db: Database, capture: Capture, on_change: Callable[[], None] | None = None
    ) -> None:
        """``on_change`` runs after a session starts, stops or is deleted: other instances
        sharing the database then ``refresh_active()``, so one session records on all."""
        self.db = db
        self.capture = capture
        self._on_change = on_change or (lambda: None)
        self.writer: BackgroundWriter[dict[str, Any]] = BackgroundWriter(db, _write_rows, name="inspector")
        capture.sink = self.record
        self.refresh_active()  # still recording when the process stopped: carry on

    def refresh_active(self) -> None:
        """Record into the open session in the database, if any (worker thread)."""
        with self.db.session() as s:
            open_ = s.exec(
                select(InspectorSession).where(col(InspectorSession.stopped_at).is_(None))
                .order_by(col(InspectorSession.started_at).desc())
            ).first()
        self._activate(open_)

    # -- hot side (event loop) -------------------------------------------------------------
    def record(self, row: InterceptedRequest) -> None:
        """A finished row of the active session: queued, written by the writer thread."""
        self.writer.put(row.to_dict(internal=True))

    @property
    def active_id(self) -> str | None:
        return self.capture.session_id

    def _activate(self, row: InspectorSession | None) -> None:
        self.capture.session_id = row.id if row else None
        self.capture.session_profile = row.profile if row else None

    # -- lifecycle (worker thread) ----------------------------------------------------------
    def start(self, name: str | None, profile: str | None = None) -> dict[str, Any]:
        """Start recording; an active session is stopped first (one records at a time)."""
        now = utcnow()
        with self.db.session() as s:
            s.execute(update(InspectorSession).where(col(InspectorSession.stopped_at).is_(None))
                      .values(stopped_at=now))
            row = InspectorSession(id=new_id(), name=name or f"Session {now:%Y-%m-%d %H:%M:%S}",
                                   started_at=now, profile=None if profile == "all" else profile)
            s.add(row)
            s.commit()
        self._activate(row)
        self._on_change()
        return session_dict(row, self.active_id)

    def stop(self, session_id: str) -> dict[str, Any]:
        row = self._get(session_id)
        if row.stopped_at is None:
            if self.active_id == session_id:
                self._activate(None)
            self.writer.flush()  # rows recorded up to now belong to it
            with self.db.session() as s:
                row = s.get(InspectorSession, session_id) or row
                row.stopped_at = utcnow()
                s.add(row)
                s.commit()
            self._on_change()
        return session_dict(row, self.active_id)

    def rename(self, session_id: str, name: str) -> dict[str, Any]:
        with self.db.session() as s:
            row = s.get(InspectorSession, session_id)
            if row is None:
                raise SessionNotFound(session_id)
            row.name = name
            s.add(row)
            s.commit()
        return session_dict(row, self.active_id)

    def delete(self, session_id: str) -> None:
        self._get(session_id)
        if self.active_id == session_id:
            self._activate(None)
        self.writer.flush()
        with self.db.session() as s:
            s.execute(delete(CapturedRequest).where(col(CapturedRequest.session_id) == session_id))
            s.execute(delete(InspectorSession).where(col(InspectorSession.id) == session_id))
            s.commit()
        self._on_change()

    # -- reading (worker thread) -----------------------------------------------------------
    def list(self) -> list[dict[str, Any]]:
        self.writer.flush(2.0)
        with self.db.session() as s:
            rows = s.exec(select(InspectorSession).order_by(col(InspectorSession.started_at).desc())).all()
        return [session_dict(r, self.active_id) for r in rows]

    def get(self, session_id: str) -> dict[str, Any]:
        self.writer.flush(2.0)
        return session_dict(self._get(session_id), self.active_id)

    def rows(self, session_id: str) -> list[InterceptedRequest]:
        """The session's stored rows, newest first."""
        self.writer.flush(2.0)
        with self.db.session() as s:
            stored = s.exec(
                select(CapturedRequest).where(CapturedRequest.session_id == session_id)
                .order_by(col(CapturedRequest.timestamp).desc())
            ).all()
        return [InterceptedRequest.from_dict(r.data) for r in stored]

    def stored_row(self, row_id: str) -> InterceptedRequest | None:
        """A recorded row by id (the detail API falls back here once it left the ring)."""
        self.writer.flush(2.0)
        with self.db.session() as s:
            stored = s.get(CapturedRequest, row_id)
        return InterceptedRequest.from_dict(stored.data) if stored is not None else None

    def annotate(self, row_id: str, annotation: str | None) -> bool:
        """Update a recorded row's annotation; False when the row was never recorded."""
        self.writer.flush(2.0)
        with self.db.session() as s:
            stored = s.get(CapturedRequest, row_id)
            if stored is None:
                return False
            stored.data = {**stored.data, "annotation": annotation}
            s.add(stored)
            s.commit()
        return True

    def _get(self, session_id: str) -> InspectorSession:
        with self.db.session() as s:
            row = s.get(InspectorSession, session_id)
        if row is None:
            raise SessionNotFound(session_id)
        return row

    def close(self) -> None:
        self.writer.close()
