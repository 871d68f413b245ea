"""Usage rows: one per request, written off the hot path by a background writer thread.

The request path only appends to a queue. The writer batches inserts; when the database is
locked or away, rows stay queued and are retried, so none is lost while the process lives.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from omniroute.db.database import Database
from omniroute.db.tables import UsageLog
from omniroute.db.writer import BackgroundWriter

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
    cost: Decimal = Decimal(0)
    latency_ms: float = 0.0
    upstream_latency_ms: float | None = None
    fallback_attempts: int = 0
    status: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> UsageLog:
        data = asdict(self)
        data.pop("extra")
        data["cost"] = str(self.cost)
        return UsageLog(**data)


class UsageRecorder:
    """Usage rows through the shared background writer (`omniroute.db.writer`)."""

    def __init__(self, db: Database, batch_size: int = 200, retry_delay: float = 1.0) -> None:
        self._writer: BackgroundWriter[UsageRecord] = BackgroundWriter(
            db, _write_usage, name="usage", batch_size=batch_size, retry_delay=retry_delay
        )

    def record(self, record: UsageRecord) -> None:
        self._writer.put(record)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is written (tests, shutdown)."""
        return self._writer.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._writer.close(timeout)


def _write_usage(session: Session, batch: list[UsageRecord]) -> None:
    session.add_all([record.row() for record in batch])
