"""The storage layer on SQLite and on a real PostgreSQL server: the same alembic migrations,
round trips of every table, downgrade/upgrade, and concurrent writers losing nothing."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from omniroute.api.usage import log_count
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
    UsageHourly,
    UsageLog,
    cost_units,
    row_group,
    units_cost,
)
from omniroute.engine.usage import UsageRecord, _write_usage
from omniroute.engine.usage_sums import GROUPS, Sum, period_sums
from omniroute.providers.secrets import SecretBox
from tests.integration.conftest_pg import database_url, db, postgres_server  # noqa: F401

TABLES = {
    "agent_mappings", "api_keys", "captured_requests", "combos", "fallback_chains",
    "inspector_sessions", "key_values", "model_aliases", "provider_connections", "usage_hourly",
    "usage_logs",
}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head



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


def _records(now: datetime, count: int, seed: int) -> list[UsageRecord]:
    rng = random.Random(seed)
    return [
        UsageRecord(
            request_id=f"r{i}", source=rng.choice(("api", "agent-bridge", "replay")),
            agent=rng.choice((None, "", "claude-code", "codex")), client_format="openai-chat",
            model_requested=rng.choice(("fast", "smart")),
            model_used=rng.choice((None, "", "openai/gpt-4o", "anthropic/claude")),
            provider=rng.choice((None, "", "openai", "anthropic")),
            api_key_id=rng.choice((None, "k1", "k2")), tokens_in=rng.randrange(1000),
            tokens_out=rng.randrange(500), tokens_cached=rng.randrange(50),
            cost=Decimal(rng.randrange(10**6)).scaleb(-rng.randrange(3, 13)),
            status=rng.choice((200, 200, 200, 429, 502)),
            created_at=now - timedelta(seconds=rng.uniform(0, 9 * 86400)),
        )
        for i in range(count)
    ]


def _by_rows(records: list[UsageRecord], since: datetime) -> tuple[Sum, dict[str, dict[str, Sum]]]:
    """What the page must show, summed the slow way: every row, in Python, with Decimal costs."""
    total = Sum()
    sums: dict[str, dict[str, Sum]] = {name: defaultdict(Sum) for name in GROUPS}
    for record in records:
        if record.created_at < since:
            continue
        row = record.row()
        measures = (1, int(record.status >= 400), record.tokens_in, record.tokens_out,
                    record.tokens_cached, cost_units(record.cost))
        total.add(*measures)
        keys = (*row_group(row), record.created_at.date().isoformat())
        for name, key in zip(GROUPS, keys, strict=True):
            sums[name][key].add(*measures)
    return total, sums


def test_usage_analytics_hours_and_edges_equal_every_row(db: Database) -> None:
    """The page reads whole hours from usage_hourly and the partial hours from the rows: the
    result must equal summing every row of the period, on both databases, for any period."""
    now = datetime.now(UTC)
    records = _records(now, 600, seed=3)
    with db.session() as s:  # the usage writer's own function, in batches as it writes them
        for start in range(0, len(records), 97):
            _write_usage(s, records[start:start + 97])
        s.commit()
    for since in (now - timedelta(hours=1, minutes=7), now - timedelta(days=1), now - timedelta(days=7),
                  now - timedelta(minutes=20), now - timedelta(days=30)):
        with db.session() as s:
            total, sums = period_sums(s, since, now)
        want_total, want_sums = _by_rows(records, since)
        assert total == want_total
        assert {n: dict(g) for n, g in sums.items()} == {n: dict(g) for n, g in want_sums.items()}
    assert units_cost(want_total.cost_units) == sum((r.cost for r in records), Decimal(0))
    with db.session() as s:  # far fewer rows than there are usage rows
        assert s.exec(select(func.count()).select_from(UsageHourly)).one() < len(records)
        # The call log's unfiltered total comes from the hours: the same as counting the rows.
        assert log_count(s, []) == log_count(s, [col(UsageLog.id) > 0]) == len(records)


def test_migration_0006_sums_existing_rows_into_hours(db: Database) -> None:
    now = datetime.now(UTC)
    records = _records(now, 200, seed=5)
    db.downgrade("0005")
    with db.engine.begin() as conn:
        conn.execute(UsageLog.__table__.insert(), [r.row() for r in records])  # type: ignore[attr-defined]
    db.migrate()
    with db.session() as s:
        total, sums = period_sums(s, now - timedelta(days=10), now)
    assert (total, {n: dict(g) for n, g in sums.items()}) == (
        _by_rows(records, now - timedelta(days=10))[0],
        {n: dict(g) for n, g in _by_rows(records, now - timedelta(days=10))[1].items()},
    )


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
