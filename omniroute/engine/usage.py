"""Usage rows: one per request, written off the hot path by a background writer thread.

The request path only appends to a queue. The writer inserts each batch with one executemany
statement; when the database is locked or away, rows stay queued and are retried, so none is
lost while the process lives. A row's ``created_at`` is when its request ended, not when the
writer got to it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from omniroute.db.database import Database
from omniroute.db.tables import UsageLog, core_table, cost_units, utcnow
from omniroute.db.writer import BackgroundWriter
from omniroute.engine.usage_sums import add_to_hours

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    source: str
    client_format: str
    model_requested: str
    agent: str | None = None
    api_key_id: str | None = None
    model_used: str | None = None
    provider: str | None = None
    connection_id: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost: Decimal | None = Decimal(0)  # None: the model has no known price
    latency_ms: float = 0.0
    upstream_latency_ms: float | None = None
    fallback_attempts: int = 0
    status: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, Any]:
        """The `usage_logs` row (without its autoincrement id); cost as exact decimal text."""
        return {
            "request_id": self.request_id,
            "created_at": self.created_at,
            "agent": _text(self.agent),
            "source": _text(self.source),
            "client_format": self.client_format,
            "model_requested": _text(self.model_requested),
            "model_used": _text(self.model_used),
            "provider": self.provider,
            "connection_id": self.connection_id,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_cached": self.tokens_cached,
            "cost": None if self.cost is None else str(self.cost),
            "cost_units": 0 if self.cost is None else cost_units(self.cost),
            "latency_ms": self.latency_ms,
            "upstream_latency_ms": self.upstream_latency_ms,
            "fallback_attempts": self.fallback_attempts,
            "status": self.status,
            "error": _text(self.error),
            "api_key_id": self.api_key_id,
        }


# NUL (PostgreSQL text refuses it) and unpaired surrogates (no UTF-8 encoding exists; JSON's
# "\ud800" decodes to one): the database or its driver refuses the whole row.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_INT32 = (1 << 31) - 1  # the count columns are INTEGER: 32 bits on PostgreSQL


def repaired(record: UsageRecord) -> UsageRecord | None:
    """``record`` made storable after the database refused it: unstorable characters as
    U+FFFD, counts clamped to the column. None when there was nothing to repair."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, str) and _UNSTORABLE.search(value):
            changes[f.name] = _UNSTORABLE.sub("\ufffd", value)
        elif isinstance(value, int) and not -_INT32 <= value <= _INT32:
            changes[f.name] = max(-_INT32, min(value, _INT32))
    return dataclasses.replace(record, **changes) if changes else None


def _text(value: str | None) -> str | None:
    """Text from clients or upstreams (model names, error messages) may hold NUL bytes, which
    PostgreSQL text refuses: they are stored as U+FFFD, so the row is kept."""
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


# What a crash (kill -9, power loss) may lose: the rows not yet committed, i.e. those of the
# requests answered during the last linger plus the batch being written, at most one batch
# (docs/RELIABILITY.md). Rows are queued and committed in the order requests end, so only the
# newest can be lost.
BATCH_ROWS = 500
LINGER_S = 0.1


class UsageRecorder:
    """Usage rows through the shared background writer (`omniroute.db.writer`)."""

    def __init__(
        self, db: Database, batch_size: int = BATCH_ROWS, linger: float = LINGER_S,
        retry_delay: float = 1.0,
    ) -> None:
        self._writer: BackgroundWriter[UsageRecord] = BackgroundWriter(
            db, _write_usage, name="usage", batch_size=batch_size, linger=linger,
            retry_delay=retry_delay, repair=repaired,
        )

    def record(self, record: UsageRecord) -> None:
        self._writer.put(record)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is written (tests, shutdown)."""
        return self._writer.flush(timeout)

    async def written(self, timeout: float) -> bool:
        """Wait, on the event loop, until every row queued so far is written (with the batch in
        progress: at most one linger more)."""
        return await self._writer.written(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._writer.close(timeout)

    def stats(self) -> dict[str, int]:
        """Rows the database refused: written once repaired, or dropped."""
        return {"repaired": self._writer.repaired, "dropped": self._writer.dropped}


# Core, not the ORM: one executemany per batch, no unit of work or identity map per row.
_INSERT_USAGE = insert(core_table(UsageLog))


def _write_usage(session: Session, batch: list[UsageRecord]) -> None:
    rows = [record.row() for record in batch]
    session.execute(_INSERT_USAGE, rows)
    add_to_hours(session, rows)  # same transaction: the hours never disagree with the rows
