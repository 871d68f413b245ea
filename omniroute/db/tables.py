"""Database tables (sqlmodel). Schema changes go through alembic migrations in `migrations/`."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, cast

from sqlalchemy import JSON, BigInteger, Column, Table, UniqueConstraint, false
from sqlmodel import Field, SQLModel


def new_id() -> str:
    return str(uuid.uuid4())


# 10^-12 of the currency: every price with up to 6 decimals per million tokens is exact, and
# a 64-bit sum holds about 9.2 million in the currency.
COST_UNIT = Decimal("1e-12")
_INT64 = (1 << 63) - 1


def cost_units(cost: Decimal) -> int:
    """``cost`` in whole COST_UNITs (rounded half to even beyond 12 decimals), within 64 bits."""
    units = int(cost.scaleb(12).to_integral_value(ROUND_HALF_EVEN))
    return max(-_INT64, min(units, _INT64))


def units_cost(units: int) -> Decimal:
    """A sum of COST_UNITs back as a decimal amount, without trailing zeros."""
    return (Decimal(units) * COST_UNIT).normalize() if units else Decimal(0)


def core_table(model: type[SQLModel]) -> Table:
    """A table model's Core ``Table``, for statements whose rows are plain tuples (no ORM
    instance per row)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def utcnow() -> datetime:
    return datetime.now(UTC)


def from_config_field() -> Any:
    """True on rows the declarative config file owns (`omniroute run --config`, 0004): the API
    refuses to change them and the UI shows them read-only; the file's next apply may."""
    return Field(default=False, sa_column_kwargs={"server_default": false()})


class ProviderConnection(SQLModel, table=True):
    __tablename__ = "provider_connections"

    id: str = Field(default_factory=new_id, primary_key=True)
    provider: str = Field(index=True)  # provider type: openai, anthropic, gemini, ollama, ...
    name: str = Field(unique=True, index=True)  # routing prefix: "<name>/<model>"
    url: str
    api_key_encrypted: str | None = None  # Fernet token; the plaintext is never stored
    key_preview: str | None = None
    is_active: bool = True
    max_concurrent: int | None = None
    priority: int = 0
    test_status: str = "untested"
    extra: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    from_config: bool = from_config_field()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ModelAlias(SQLModel, table=True):
    __tablename__ = "model_aliases"

    alias: str = Field(primary_key=True)
    target: str
    from_config: bool = from_config_field()
    created_at: datetime = Field(default_factory=utcnow)


class Combo(SQLModel, table=True):
    __tablename__ = "combos"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str = Field(unique=True, index=True)
    model: str
    strategy: str = "priority"
    nodes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    from_config: bool = from_config_field()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(default_factory=new_id, primary_key=True)
    label: str = ""
    key_hash: str = Field(index=True)  # sha256 of the secret; the secret is shown once
    key_preview: str
    scope: str = "write"  # admin | read | write
    is_active: bool = True
    from_config: bool = from_config_field()
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None


class AgentMapping(SQLModel, table=True):
    __tablename__ = "agent_mappings"
    __table_args__ = (UniqueConstraint("agent_id", "source_model"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(index=True)
    source_model: str  # exact name, glob pattern, or "*"
    target_model: str  # anything the engine resolves
    from_config: bool = from_config_field()
    updated_at: datetime = Field(default_factory=utcnow)


class InspectorSession(SQLModel, table=True):
    __tablename__ = "inspector_sessions"

    id: str = Field(default_factory=new_id, primary_key=True)
    name: str
    started_at: datetime = Field(default_factory=utcnow)
    stopped_at: datetime | None = None
    request_count: int = 0
    profile: str | None = None  # llm | custom | all: which rows the session records (0003)


class InspectorCustomHost(SQLModel, table=True):
    """A host the user asked the inspector to capture (mapped to loopback in the hosts file)."""

    __tablename__ = "inspector_custom_hosts"

    host: str = Field(primary_key=True)
    enabled: bool = True
    label: str | None = None
    kind: str = "custom"  # llm | app | custom
    added_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime | None = None


class CapturedRequest(SQLModel, table=True):
    __tablename__ = "captured_requests"

    id: str = Field(primary_key=True)
    session_id: str | None = Field(default=None, index=True)
    timestamp: datetime = Field(default_factory=utcnow, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class UsageLog(SQLModel, table=True):
    __tablename__ = "usage_logs"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    agent: str | None = None
    source: str = "api"  # api | agent-bridge | replay
    client_format: str = ""
    model_requested: str = ""
    model_used: str | None = None
    provider: str | None = None
    connection_id: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0
    cost: str | None = "0"  # Decimal as text (exact, portable); NULL: the model has no known price (0007)
    # The same cost in COST_UNIT steps, so sums run in SQL as exact integers (0005); 0 when unknown.
    cost_units: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    latency_ms: float = 0.0
    upstream_latency_ms: float | None = None
    fallback_attempts: int = 0
    status: int = 0
    error: str | None = None
    api_key_id: str | None = Field(default=None, index=True)  # which of our keys called (0002)


def _counter() -> Any:
    return Field(default=0, sa_type=BigInteger, nullable=False)


class _UsageGroup(SQLModel):
    """The group of the Usage page's sums and counts; each table keys it by an hour or a day."""

    model: str = Field(primary_key=True)  # the model used, else the one asked for
    provider: str = Field(primary_key=True)  # "none" when no provider answered
    agent: str = Field(primary_key=True)  # the agent, else how the call came in (api, replay)
    api_key: str = Field(primary_key=True)  # "none" for calls without one of our keys


class _UsageSums(_UsageGroup):
    requests: int = _counter()
    errors: int = _counter()
    tokens_in: int = _counter()
    tokens_out: int = _counter()
    tokens_cached: int = _counter()
    cost_units: int = _counter()
    unpriced: int = _counter()  # cost NULL (0008)


class _LatencyCounts(_UsageGroup):
    bucket: int = Field(primary_key=True)  # omniroute.db.latency_buckets
    calls: int = _counter()


class UsageHourly(_UsageSums, table=True):
    """Usage rows summed per hour and per group of the Usage page, kept by the usage writer in
    the same transaction as the rows (0006): the page reads hours, not every row of a month."""

    __tablename__ = "usage_hourly"

    hour: datetime = Field(primary_key=True)  # UTC, the start of the hour


class UsageLatency(_LatencyCounts, table=True):
    """How many answered calls of an hour and group took a latency within one bucket (0008):
    the Usage page's percentiles come from these counts, not from sorting every row."""

    __tablename__ = "usage_latency"

    hour: datetime = Field(primary_key=True)


class UsageDaily(_UsageSums, table=True):
    """`usage_hourly` summed per UTC day (0010), kept by the usage writer alongside it: a month's
    chart reads 30 rows per group, not 720."""

    __tablename__ = "usage_daily"

    day: datetime = Field(primary_key=True)  # UTC midnight


class UsageLatencyDaily(_LatencyCounts, table=True):
    """`usage_latency` summed per UTC day (0010), for periods that start at midnight."""

    __tablename__ = "usage_latency_daily"

    day: datetime = Field(primary_key=True)


class UsageErrors(SQLModel, table=True):
    """Failed calls counted per hour, status and message (0010), kept by the usage writer: the
    Usage page's most frequent errors come from these counts, not from the failed rows."""

    __tablename__ = "usage_errors"

    hour: datetime = Field(primary_key=True)
    status: int = Field(primary_key=True)
    digest: str = Field(primary_key=True)  # error_digest(error): a message may be too long for a key
    error: str | None = None
    calls: int = _counter()
    last: datetime  # the newest failure's created_at


def error_digest(error: str | None) -> str:
    """The `usage_errors` key of a message: its SHA-256, or "" for none (NULL cannot be a key)."""
    if error is None:
        return ""
    return hashlib.sha256(error.encode("utf-8", "surrogatepass")).hexdigest()


def row_group(row: dict[str, Any]) -> tuple[str, str, str, str]:
    """The `usage_hourly` groups of one usage row (a `UsageRecord.row()`): the same rule as the
    Usage page's SQL over the rows (`engine/usage_sums.py`)."""
    return (
        row["model_used"] or row["model_requested"],
        row["provider"] or "none",
        row["agent"] or row["source"],
        row["api_key_id"] or "none",
    )


class KeyValue(SQLModel, table=True):
    """Small settings a user edits through the API (bypass patterns, upstream CA, pricing)."""

    __tablename__ = "key_values"

    key: str = Field(primary_key=True)
    value: Any = Field(default=None, sa_column=Column(JSON))
    from_config: bool = from_config_field()
    updated_at: datetime = Field(default_factory=utcnow)


class FallbackChain(SQLModel, table=True):
    """`/api/fallback/chains`: for a model name, the connections to try in priority order."""

    __tablename__ = "fallback_chains"

    model: str = Field(primary_key=True)
    # [{"provider": <connection name or id>, "priority": int, "enabled": bool, "model"?: str}]
    chain: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    from_config: bool = from_config_field()
    updated_at: datetime = Field(default_factory=utcnow)


class UserAgent(SQLModel, table=True):
    """An agent the user defined (`POST /api/tools/agent-bridge/agents`, 0009): identified by
    its hosts and User-Agent tokens, its model calls read in one wire format."""

    __tablename__ = "user_agents"

    id: str = Field(primary_key=True)
    name: str
    hosts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    user_agents: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    wire_format: str
    paths: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    from_config: bool = from_config_field()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
