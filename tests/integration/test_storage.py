"""The storage layer on SQLite and on a real PostgreSQL server: the same alembic migrations,
round trips of every table, downgrade/upgrade, and concurrent writers losing nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from omniroute.api.usage import _sums as usage_sums
from omniroute.db.database import Database, DatabaseError, alembic_config
from omniroute.db.kv import kv_get, kv_set
from omniroute.db.tables import (
    AgentMapping,
    ApiKey,
    CapturedRequest,
    Combo,
    FallbackChain,
    InspectorSession,
    KeyValue,
    ModelAlias,
    ProviderConnection,
    UsageLog,
    cost_units,
    units_cost,
)
from omniroute.engine.usage import UsageRecord
from omniroute.providers.secrets import SecretBox
from tests.integration.conftest_pg import database_url, postgres_server  # noqa: F401

TABLES = {
    "agent_mappings", "api_keys", "captured_requests", "combos", "fallback_chains",
    "inspector_sessions", "key_values", "model_aliases", "provider_connections", "usage_logs",
}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@pytest.fixture()
def db(database_url: str) -> Database:  # noqa: F811
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


def test_migrations_reach_head_with_every_table(db: Database) -> None:
    assert db.current_revision() == head_revision()
    assert TABLES <= set(inspect(db.engine).get_table_names())
    db.migrate()  # a second start is a no-op
    assert db.current_revision() == head_revision()


def test_provider_connection_with_encrypted_key(db: Database, tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "secret.key")
    token = box.encrypt("sk-live-secret-123")
    with db.session() as s:
        row = ProviderConnection(
            provider="openai", name="main", url="https://api.openai.com/v1",
            api_key_encrypted=token, key_preview="sk-l…123", max_concurrent=4,
            extra={"headers": {"x-org": "acme"}, "models": ["gpt-4o", "gpt-4o-mini"]},
        )
        s.add(row)
        s.commit()
        row_id = row.id
    with db.session() as s:
        got = s.get(ProviderConnection, row_id)
        assert got is not None
        assert "sk-live" not in got.api_key_encrypted  # type: ignore[operator]
        assert box.decrypt(got.api_key_encrypted or "") == "sk-live-secret-123"
        assert got.extra == {"headers": {"x-org": "acme"}, "models": ["gpt-4o", "gpt-4o-mini"]}
        assert got.is_active is True and got.max_concurrent == 4
        assert got.created_at.tzinfo is not None  # UTCDateTime comes back aware on both
        got.is_active = False
        got.extra = {**got.extra, "note": "ünïcode ✓"}
        s.add(got)
        s.commit()
    with db.session() as s:
        got = s.get(ProviderConnection, row_id)
        assert got is not None and got.is_active is False and got.extra["note"] == "ünïcode ✓"
        s.add(ProviderConnection(provider="openai", name="main", url="http://dup"))
        with pytest.raises(IntegrityError):  # `name` is the routing prefix: unique
            s.commit()
        s.rollback()
        s.delete(s.get(ProviderConnection, row_id))
        s.commit()
        assert s.exec(select(func.count()).select_from(ProviderConnection)).one() == 0


def test_combo_nodes_alias_fallback_chain_json(db: Database) -> None:
    nodes = [
        {"model": "main/gpt-4o", "weight": 3, "priority": 0},
        {"model": "backup/claude-sonnet-4", "weight": 1, "priority": 1, "extra": None},
    ]
    chain = [{"provider": "main", "priority": 0, "enabled": True, "model": "gpt-4o"}]
    with db.session() as s:
        s.add(Combo(name="fast", model="fast", strategy="weighted", nodes=nodes))
        s.add(ModelAlias(alias="gpt", target="fast"))
        s.add(FallbackChain(model="gpt-4o", chain=chain))
        s.commit()
    with db.session() as s:
        combo = s.exec(select(Combo).where(Combo.name == "fast")).one()
        assert combo.nodes == nodes and combo.strategy == "weighted"
        assert s.get(ModelAlias, "gpt").target == "fast"  # type: ignore[union-attr]
        assert s.get(FallbackChain, "gpt-4o").chain == chain  # type: ignore[union-attr]
        combo.nodes = nodes[:1]
        s.add(combo)
        s.commit()
    with db.session() as s:
        assert s.exec(select(Combo)).one().nodes == nodes[:1]


def test_agent_mapping_unique_per_agent_and_source(db: Database) -> None:
    with db.session() as s:
        s.add(AgentMapping(agent_id="codex", source_model="gpt-5*", target_model="main/gpt-4o"))
        s.add(AgentMapping(agent_id="claude-code", source_model="gpt-5*", target_model="x/y"))
        s.commit()
        s.add(AgentMapping(agent_id="codex", source_model="gpt-5*", target_model="other/z"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        rows = s.exec(select(AgentMapping).order_by(AgentMapping.agent_id)).all()
        assert [(r.agent_id, r.target_model) for r in rows] == [
            ("claude-code", "x/y"), ("codex", "main/gpt-4o"),
        ]
        assert all(isinstance(r.id, int) for r in rows)  # autoincrement on both dialects


def test_api_keys_sessions_and_captured_requests(db: Database) -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    data = {
        "method": "POST", "host": "api.openai.com", "status": 200,
        "requestBody": '{"model":"gpt-4o"}', "latency": {"proxyMs": 1.5, "totalMs": 812.25},
        "headers": [["authorization", "Bearer ***"]], "nested": {"list": [1, 2.5, None, True]},
    }
    with db.session() as s:
        key = ApiKey(label="ci", key_hash="ab" * 32, key_preview="or-…abcd", scope="read")
        session = InspectorSession(name="debug", started_at=started)
        s.add_all([key, session])
        s.commit()
        s.add(CapturedRequest(id="req-1", session_id=session.id, timestamp=started, data=data))
        session.request_count += 1
        s.add(session)
        s.commit()
        key_id, session_id = key.id, session.id
    with db.session() as s:
        got = s.get(CapturedRequest, "req-1")
        assert got is not None and got.data == data and got.session_id == session_id
        assert got.timestamp == started  # microseconds and UTC survive
        stored = s.get(InspectorSession, session_id)
        assert stored is not None and stored.request_count == 1 and stored.stopped_at is None
        found = s.exec(select(ApiKey).where(ApiKey.key_hash == "ab" * 32)).one()
        assert found.id == key_id and found.scope == "read" and found.last_used_at is None


def test_usage_rows_keep_decimal_cost_exact(db: Database) -> None:
    costs = [Decimal("0.000012345678901234567890"), Decimal("1234.5"), Decimal(0)]
    now = datetime.now(UTC)
    with db.session() as s:
        for i, cost in enumerate(costs):
            s.add(UsageLog(
                request_id=f"r{i}", created_at=now - timedelta(minutes=i), model_requested="fast",
                model_used="gpt-4o", provider="openai", tokens_in=10 * i, tokens_out=i,
                cost=str(cost), latency_ms=12.5, status=200, api_key_id="k1" if i else None,
            ))
        s.commit()
    with db.session() as s:
        rows = s.exec(select(UsageLog).order_by(UsageLog.request_id)).all()
        assert [Decimal(r.cost) for r in rows] == costs
        assert sum((Decimal(r.cost) for r in rows), Decimal(0)) == sum(costs, Decimal(0))
        by_key = s.exec(select(func.count()).where(UsageLog.api_key_id == "k1")).one()
        assert by_key == 2
        assert s.exec(select(func.sum(UsageLog.tokens_in))).one() == 30


def test_migration_0005_backfills_cost_units_exactly(db: Database) -> None:
    """Rows written before 0005 get their integer cost from the exact text, not a float cast."""
    db.downgrade("0004")
    costs = ["0.000012345678", "1234.5", "0", "0.1", "0.3"]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy writes it
    with db.engine.begin() as conn:
        for i, cost in enumerate(costs):
            conn.execute(text(
                "INSERT INTO usage_logs (request_id, created_at, source, client_format,"
                " model_requested, tokens_in, tokens_out, tokens_cached, cost, latency_ms,"
                " fallback_attempts, status) VALUES (:r, :t, 'api', 'openai-chat', 'm', 0, 0, 0,"
                " :c, 1.0, 0, 200)"), {"r": f"old{i}", "t": stamp, "c": cost})
    db.migrate()
    with db.session() as s:
        units = dict(s.exec(select(UsageLog.request_id, UsageLog.cost_units)).all())
        assert units == {f"old{i}": cost_units(Decimal(c)) for i, c in enumerate(costs)}
        assert units["old0"] == 12_345_678 and units["old4"] == 300_000_000_000
        # 0.1 + 0.3 summed in SQL is exactly 0.4, as decimal text would add.
        assert units_cost(s.exec(select(func.sum(UsageLog.cost_units))).one()) == Decimal("1234.900012345678")


def test_usage_analytics_are_summed_by_the_database(db: Database) -> None:
    """The Usage page's sums come from one GROUP BY: exact costs, same keys on both databases."""
    now = datetime.now(UTC)
    records = [
        UsageRecord(request_id="a", source="api", client_format="openai-chat", model_requested="fast",
                    model_used="openai/gpt-4o", provider="openai", tokens_in=10, tokens_out=3,
                    cost=Decimal("0.1"), status=200, created_at=now),
        UsageRecord(request_id="b", source="agent-bridge", agent="claude-code", client_format="anthropic",
                    model_requested="claude", model_used="", provider=None, tokens_in=5,
                    cost=Decimal("0.2"), status=429, api_key_id="k1", created_at=now),
        UsageRecord(request_id="c", source="api", client_format="openai-chat", model_requested="fast",
                    model_used="openai/gpt-4o", provider="openai", tokens_in=1, tokens_cached=1,
                    cost=Decimal("0.000000000001"), status=200, created_at=now - timedelta(days=3)),
    ]
    with db.session() as s:
        s.execute(UsageLog.__table__.insert(), [r.row() for r in records])  # type: ignore[attr-defined]
        s.commit()
    with db.session() as s:
        day, day_total = usage_sums(s, now - timedelta(days=1))
        week, week_total = usage_sums(s, now - timedelta(days=7))
    assert day_total.as_dict() == {"requests": 2, "errors": 1, "tokensIn": 15, "tokensOut": 3,
                                   "tokensCached": 0, "cost": "0.3"}
    assert week_total.as_dict()["cost"] == "0.300000000001"
    assert set(day["byModel"]) == {"openai/gpt-4o", "claude"}  # "" falls back to the name asked
    assert set(day["byAgent"]) == {"api", "claude-code"}
    assert set(day["byProvider"]) == {"openai", "none"}
    assert day["byApiKey"]["k1"]["errors"] == 1 and day["byApiKey"]["none"]["cost"] == "0.1"
    assert list(day["byDay"]) == [now.date().isoformat()]
    assert len(week["byDay"]) == 2 and week["byModel"]["openai/gpt-4o"]["tokensCached"] == 1


def test_key_values_round_trip_any_json(db: Database) -> None:
    values = {"list": ["*.corp", "!x"], "dict": {"a": {"b": [1, None]}}, "str": "é", "n": 3}
    for key, value in values.items():
        kv_set(db, key, value)
    assert {k: kv_get(db, k) for k in values} == values
    kv_set(db, "list", [])
    assert kv_get(db, "list") == [] and kv_get(db, "missing", "dflt") == "dflt"
    with db.session() as s:
        assert s.exec(select(func.count()).select_from(KeyValue)).one() == len(values)


def test_downgrade_to_base_then_upgrade_again(db: Database) -> None:
    with db.session() as s:
        s.add(ModelAlias(alias="a", target="b"))
        s.commit()
    db.downgrade("base")
    assert db.current_revision() is None
    assert not TABLES & set(inspect(db.engine).get_table_names())
    db.migrate()
    assert db.current_revision() == head_revision()
    assert TABLES <= set(inspect(db.engine).get_table_names())
    with db.session() as s:
        assert s.exec(select(ModelAlias)).all() == []  # really rebuilt, not left behind
        s.add(ModelAlias(alias="a", target="b"))
        s.commit()


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sqlalchemy import update
    from omniroute.db.database import Database
    from omniroute.db.tables import InspectorSession, UsageLog

    url, tag, n, session_id, sync_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], Path(sys.argv[5])
    db = Database(url)
    with db.session() as s:
        s.get(InspectorSession, session_id)  # connected before the start line
    (sync_dir / f"ready-{tag}").touch()
    while not (sync_dir / "go").exists():  # start together, or they would barely overlap
        time.sleep(0.005)
    for i in range(n):
        with db.session() as s:
            s.add(UsageLog(request_id=f"{tag}-{i}", cost="0.001", status=200))
            # Read-modify-write in SQL, as a capture counter must be with several writers.
            s.exec(update(InspectorSession).where(InspectorSession.id == session_id)
                   .values(request_count=InspectorSession.request_count + 1))
            s.commit()
    db.dispose()
    """
)


def test_concurrent_writer_processes_lose_nothing(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        session = InspectorSession(name="shared")
        s.add(session)
        s.commit()
        session_id = session.id
    n, tags = 200, ("a", "b")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, db.url, tag, str(n), session_id, str(tmp_path)],
            stderr=subprocess.PIPE, text=True,
        )
        for tag in tags
    ]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{t}").exists() for t in tags):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [
            p.communicate()[1] for p in procs if p.poll() is not None
        ]
        time.sleep(0.02)
    (tmp_path / "go").touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with db.session() as s:
        ids = s.exec(select(UsageLog.request_id)).all()
        assert len(ids) == len(set(ids)) == n * len(tags)
        assert s.get(InspectorSession, session_id).request_count == n * len(tags)  # type: ignore[union-attr]
        total = s.exec(text("SELECT COUNT(*) FROM usage_logs WHERE cost = '0.001'")).one()[0]
        assert total == n * len(tags)


def test_bad_url_and_unreachable_server_fail_with_one_line() -> None:
    with pytest.raises(DatabaseError, match="unsupported database"):
        Database("mysql://u:secret@127.0.0.1/x")
    db = Database("postgresql://omni:hunter2@127.0.0.1:1/none")  # plain URL: psycopg 3
    assert db.engine.dialect.driver == "psycopg"
    with pytest.raises(DatabaseError) as err:
        db.migrate()
    message = str(err.value)
    assert "hunter2" not in message and "***" in message and "\n" not in message.strip()
    db.dispose()
