"""What a start does and skips: no alembic at head, mitmproxy's onboarding on our CA (its Flask
app and the LDAP client imported only when used), no httpx command-line client, the maintained
price table read after the listeners are up yet there for the first call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from omniroute.db import sqlite_schema
from omniroute.db.database import Database, alembic_config, head_revision
from omniroute.engine.pricing import PriceTable, format_cost
from tests.support.harness import OmniRouteProcess
from tests.support.mock_provider import MockProvider

MIGRATE_AND_REPORT = (
    "import sys; from omniroute.db.database import Database, stored_revision; "
    "db = Database(sys.argv[1]); db.migrate(); imported = 'alembic' in sys.modules; "
    "connection = db.engine.connect(); print(imported, stored_revision(connection)); connection.close()"
)


def _migrate_in_fresh_process(url: str) -> tuple[bool, str]:
    out = subprocess.run([sys.executable, "-c", MIGRATE_AND_REPORT, url], capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    return out[0] == "True", out[1]


def test_head_revision_is_the_one_alembic_finds() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_database_at_head_starts_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'omniroute.db'}"
    assert _migrate_in_fresh_process(url) == (False, head_revision())  # created from the snapshot
    assert _migrate_in_fresh_process(url) == (False, head_revision())  # at head: skipped


def _schema(db: Database) -> list[tuple[str, str, str | None]]:
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(
            "SELECT type, name, sql FROM sqlite_master ORDER BY type, name")]


def test_the_schema_snapshot_is_what_the_migrations_make(tmp_path: Path) -> None:
    """Fails after a new migration until `python -m omniroute.db.write_schema` is run."""
    replayed = Database(f"sqlite:///{tmp_path / 'replayed.db'}")
    replayed.migrate(snapshot=False)
    with replayed.engine.connect() as connection:
        assert sqlite_schema.dump(connection, head_revision() or "") == sqlite_schema.SNAPSHOT.read_text(), (
            "schema_head.sql is stale: run `python -m omniroute.db.write_schema`")
    created = Database(f"sqlite:///{tmp_path / 'created.db'}")
    created.migrate()
    assert _schema(created) == _schema(replayed)  # the same objects, word for word
    assert created.current_revision() == head_revision()
    created.downgrade("base")  # alembic takes a database the snapshot made as its own
    created.migrate()
    assert _schema(created) == _schema(replayed)
    for db in (created, replayed):
        db.dispose()


def test_a_stale_snapshot_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "schema_head.sql"
    stale.write_text("-- revision: 0001\n\nCREATE TABLE only_this (id INTEGER);\n")
    monkeypatch.setattr(sqlite_schema, "SNAPSHOT", stale)
    db = Database(f"sqlite:///{tmp_path / 'omniroute.db'}")
    db.migrate()
    names = {name for _, name, _ in _schema(db)}
    assert "only_this" not in names and "usage_logs" in names  # the migrations ran instead
    assert db.current_revision() == head_revision()
    db.dispose()


def test_snapshot_statements_end_where_sqlite_says() -> None:
    text = "-- revision: x\n\nCREATE TABLE t (a TEXT DEFAULT ';'\n);\n\nCREATE INDEX i ON t (a);\n"
    assert list(sqlite_schema.statements(text)) == ["CREATE TABLE t (a TEXT DEFAULT ';'\n)", "CREATE INDEX i ON t (a)"]
    with pytest.raises(ValueError, match="ends inside a statement"):
        list(sqlite_schema.statements("CREATE TABLE t (a TEXT"))


def test_a_database_one_revision_behind_is_upgraded(tmp_path: Path) -> None:
    head = head_revision()
    assert head is not None
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str)
    db = Database(f"sqlite:///{tmp_path / 'omniroute.db'}")
    db.migrate(previous)
    assert db.current_revision() == previous
    db.migrate()
    assert db.current_revision() == head
    db.dispose()


def test_mitm_it_serves_our_ca_through_the_http_proxy(omniroute: OmniRouteProcess) -> None:
    # mitmproxy's onboarding page stays on in `omniroute run`, and hands out OmniRoute's CA.
    with httpx.Client(proxy=omniroute.proxy_url, trust_env=False, timeout=10) as client:
        response = client.get("http://mitm.it/cert/pem")
    assert response.status_code == 200
    assert response.content == omniroute.ca_cert.read_bytes()


def _imported(log: str) -> set[str]:
    """Module names from the `-X importtime` lines of a process's log."""
    return {line.rsplit("|", 1)[1].strip() for line in log.splitlines() if line.startswith("import time:")}


def test_a_start_imports_flask_ldap3_jinja_and_httpxs_cli_only_when_they_are_used(tmp_path: Path) -> None:
    # mitmproxy's addon package imports every default addon, with the onboarding app's Flask and
    # proxyauth's ldap3; `omniroute run` loads neither addon's module until it is needed, nor
    # Jinja before the first UI page.
    with OmniRouteProcess(bridge=False, env={"PYTHONPROFILEIMPORTTIME": "1"}) as proc:
        started = _imported(proc.log())
        assert "mitmproxy.proxy.server" in started  # the log does list the start's imports
        assert not {"flask", "werkzeug", "ldap3", "jinja2", "mitmproxy.addons.onboarding",
                    "mitmproxy.addons.proxyauth", "httpx._main", "rich", "pygments"} & started
        assert "httpx" in started
        with httpx.Client(proxy=proc.proxy_url, trust_env=False, timeout=30) as client:
            response = client.get("http://mitm.it/cert/pem")
        assert response.status_code == 200
        assert response.content == proc.ca_cert.read_bytes()
        with proc.api() as api:
            page = api.get("/ui/inspector")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert {"flask", "mitmproxy.addons.onboarding", "jinja2"} <= _imported(proc.log())


HTTPX_CLI_AFTER_A_START = (
    "import sys; from omniroute.cli import _import_httpx_without_its_cli; _import_httpx_without_its_cli(); "
    "import httpx; assert 'rich' not in sys.modules and 'httpx._main' not in sys.modules; "
    "httpx.main(['--help'])"
)


def test_httpx_main_is_still_the_real_client_when_called() -> None:
    done = subprocess.run([sys.executable, "-c", HTTPX_CLI_AFTER_A_START], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage: httpx" in done.stdout


@pytest.mark.parametrize(("level", "info_logged"), [("info", True), ("WARNING", False)])
def test_the_log_level_setting_sets_omniroutes_log(level: str, info_logged: bool) -> None:
    with OmniRouteProcess(proxy=False, bridge=False, env={"OMNIROUTE_LOG_LEVEL": level}) as proc:
        assert ("omniroute INFO OmniRoute API listening" in proc.log()) is info_logged


def test_proxy_auth_is_mitmproxys_once_set(tmp_path: Path) -> None:
    # `--proxy-auth` builds mitmproxy's addon, with every form it takes: here an htpasswd file
    # (user "agent", password "secret", SHA1 form).
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("agent:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n")
    with OmniRouteProcess(bridge=False, args=["--proxy-auth", f"@{htpasswd}"]) as proc:
        for credentials, status in ((None, 407), (("agent", "wrong"), 407), (("agent", "secret"), 200)):
            proxy = httpx.Proxy(proc.proxy_url, auth=credentials)
            with httpx.Client(proxy=proxy, trust_env=False, timeout=30) as client:
                assert client.get("http://mitm.it/cert/pem").status_code == status, credentials


def test_a_bad_proxy_auth_is_a_message_not_a_traceback() -> None:
    process = OmniRouteProcess(bridge=False, args=["--proxy-auth", "nocolon"])
    try:
        with pytest.raises(RuntimeError) as failed:
            process.start(timeout=60)
    finally:
        process.close()
    said = str(failed.value)
    assert "omniroute exited with 2" in said
    assert "omniroute: Invalid proxyauth specification. (--proxy-auth takes USER:PASS" in said
    assert "Traceback" not in said


def test_the_first_call_after_a_start_has_its_maintained_price(mock_provider: MockProvider, tmp_path: Path) -> None:
    # The provider comes from the config file, so the model call is the first call the
    # server gets; the maintained table is read by then, or by that call.
    config = tmp_path / "omniroute.yaml"
    config.write_text(f'providers:\n  - {{name: mk, provider: openai, url: "{mock_provider.url}/v1", apiKey: "env:FIRST_KEY"}}\n')
    body = {"model": "mk/gpt-4o-mini", "messages": [{"role": "user", "content": "price the first call"}]}
    with (OmniRouteProcess(proxy=False, bridge=False, config=config, env={"FIRST_KEY": "sk-first"}) as proc,
          proc.api() as api):
        reply = api.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    usage = reply.json()["usage"]
    expected = PriceTable().priced_cost("gpt-4o-mini", "openai", usage["prompt_tokens"], usage["completion_tokens"])
    assert expected is not None and expected > 0
    assert reply.headers["x-omniroute-response-cost"] == format_cost(expected)
