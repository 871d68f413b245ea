"""Bodies of the AgentBridge CLI commands (`agents`, `env`, `map`, `dns`, `cert`, `doctor`).

`map` and `agents add|edit|remove` (in `cli_agents`) act on the running server through its
API (found by the home's run file, `cli_server`); `env` and `doctor` read the ports it runs
on. `agents`, `dns` and `cert` also work with no server running (database, hosts file, CA).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from omniroute.bridge.ca import CAError, CertificateAuthority
from omniroute.bridge.catalog import NODE_EXTRA_CA_CERTS, AgentCatalog, AgentSpec
from omniroute.bridge.hostsfile import DEFAULT_HOSTS_FILE, HostsFile, HostsFileError, flush_dns
from omniroute.bridge.trust import is_trusted, run_commands, trust_commands
from omniroute.bridge.upstream_dns import UpstreamDNSError, UpstreamResolver
from omniroute.cli_server import Server, find_server, no_server_message
from omniroute.config import Settings, SettingsError
from omniroute.listeners import listeners, port_problem

if TYPE_CHECKING:
    from omniroute.db.database import Database

# The database layer (SQLAlchemy, alembic) is imported only by the commands that use it:
# it costs most of a command's start-up time, and `env`, `cert` and `doctor` never need it.

Echo = Callable[[str], None]
DOCTOR_PROBE_HOST = "api.anthropic.com"


class CommandError(Exception):
    """One line for stderr; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- shared ------------------------------------------------------------------------------
def open_db(settings: Settings) -> Database:
    from omniroute.db.database import Database, DatabaseError

    try:
        settings.prepare_home()
        db = Database(settings.effective_database_url)
        db.migrate()  # a fresh home has no tables yet; at head this is a no-op
    except (SettingsError, DatabaseError) as exc:
        raise CommandError(str(exc), 2) from None
    return db


def agent_spec(agent_id: str, catalog: AgentCatalog | None = None) -> AgentSpec:
    catalog = catalog if catalog is not None else AgentCatalog()
    if agent_id not in catalog:
        raise CommandError(f"unknown agent {agent_id!r}; known agents: {', '.join(a.id for a in catalog)}", 2)
    return catalog.get(agent_id)


def full_catalog(settings: Settings, server: Server | None) -> AgentCatalog:
    """Built-in agents plus the user's: from the running server, else from the database."""
    from omniroute.bridge.user_agents import UserAgentStore, parse_definition

    catalog = AgentCatalog()
    if server is not None:
        rows = server.api.get("/api/tools/agent-bridge/agents").json()
        catalog.set_user_agents(
            parse_definition(d["id"], d["name"], d["hosts"], d["userAgents"], d["wireFormat"], d["paths"]).spec()
            for d in (row.get("definition") for row in rows) if d)
        return catalog
    db = open_db(settings)
    try:
        UserAgentStore(db, catalog).reload()
    finally:
        db.dispose()
    return catalog


def cli_command() -> str:
    """How hints name this CLI: its absolute path, since sudo's PATH lacks the virtualenv."""
    argv0 = Path(sys.argv[0])
    return str(argv0.resolve()) if argv0.name == "omniroute" and argv0.exists() else "omniroute"


def hosts_file(settings: Settings) -> HostsFile:
    return HostsFile(settings.hosts_file, command=cli_command())


def local_host(settings: Settings) -> str:
    return "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host


def running_api(settings: Settings) -> httpx.Client | None:
    """A client for this home's running server (its run file), or None when none runs."""
    server = find_server(settings)
    return server.api if server is not None else None


def _ca(settings: Settings) -> CertificateAuthority:
    ca = CertificateAuthority(settings.certs_dir)
    try:
        ca.ensure()
    except CAError as exc:
        raise CommandError(str(exc)) from None
    return ca


# -- agents ------------------------------------------------------------------------------
def agents_table(settings: Settings, echo: Echo, warn: Echo) -> None:
    server = find_server(settings)
    if server is not None:
        with server:
            rows = server.api.get("/api/tools/agent-bridge/agents").json()
    else:
        warn(f"# {no_server_message(settings, 'run this again for live state')}; read from the database")
        rows = _stored_rows(settings)
    header = ("agent", "routable", "dns", "cert trusted", "mappings", "last seen")
    table = [header] + [
        (
            r["agent_id"], "yes" if r["routable"] else "no", "on" if r["dns_enabled"] else "off",
            {"trusted": "yes", "untrusted": "no", "unknown": "unknown"}[r["cert_trust"]],
            str(r["mappings_count"]), (r["last_seen"] or "never")[:19].replace("T", " "),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    notes = [f"{r['agent_id']}: not routable: {r['reason']}" for r in rows if not r["routable"]]
    notes += [f"{r['agent_id']}: {limit}" for r in rows if r["routable"] for limit in r.get("limits") or ()]
    if notes:
        echo("")
        for note in notes:
            echo(note)


def _stored_rows(settings: Settings) -> list[dict[str, Any]]:
    from omniroute.bridge.agent_state import AgentStates, agent_rows
    from omniroute.bridge.mapping_store import MappingStore
    from omniroute.bridge.user_agents import UserAgentStore

    db = open_db(settings)
    catalog = AgentCatalog()
    UserAgentStore(db, catalog).reload()
    store = MappingStore(db)
    try:
        entries: dict[str, list[str]] | None = hosts_file(settings).entries()
    except (HostsFileError, OSError):
        entries = None
    ca = CertificateAuthority(settings.certs_dir)
    rows = agent_rows(
        catalog,
        mapping_counts={a.id: len(store.rules(a.id)) for a in catalog},
        states=AgentStates(db).stored(),
        hosts_entries=entries,
        cert_trusted=is_trusted(ca.cert_path) if ca.cert_path.exists() else False,
    )
    db.dispose()
    return rows


# -- env ---------------------------------------------------------------------------------
def env_exports(settings: Settings, agent_id: str, echo: Echo, warn: Echo, proxy_port: int | None = None) -> None:
    """``proxy_port``: the user's --proxy-port; otherwise the running server's, else the settings'."""
    server = find_server(settings)
    try:
        builtins = AgentCatalog()  # a user's agent needs the database or the server's list
        spec = agent_spec(agent_id, builtins if agent_id in builtins else full_catalog(settings, server))
    finally:
        if server is not None:
            server.close()
    port, host = proxy_port, local_host(settings)
    if port is None and server is not None:
        port, host = server.info.proxy_port, server.info.host
        if not port:
            raise CommandError(f"{server.describe()} has no HTTP_PROXY listener (started with --proxy-port 0)", 2)
    if port is None:
        port = settings.proxy_port
        if port:
            warn(f"# {no_server_message(settings, 'run the agent')}; these exports assume proxy port {port}")
    if not port:
        raise CommandError("the HTTP_PROXY listener is disabled (proxy port 0); set --proxy-port", 2)
    ca = _ca(settings)
    values: dict[str, str] = {
        "HTTPS_PROXY": f"http://{host}:{port}",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for var in spec.env:
        if var == NODE_EXTRA_CA_CERTS:
            values[var] = str(ca.cert_path)  # Node adds it to its built-in roots
        else:
            # SSL_CERT_FILE / REQUESTS_CA_BUNDLE replace the whole store: system roots + ours.
            values[var] = str(ca.write_bundle())
    if not spec.routable:
        warn(f"# {spec.name} is captured but never rerouted: {spec.reason}")
    for name, value in values.items():
        echo(f"export {name}={shlex.quote(value)}")


# -- dns ---------------------------------------------------------------------------------
def set_dns(settings: Settings, agent_id: str | None, enabled: bool, echo: Echo) -> None:
    from omniroute.bridge.agent_state import AgentStates

    hosts = hosts_file(settings)
    db = open_db(settings)
    states = AgentStates(db)
    try:
        if agent_id is None:
            changed = hosts.remove_all()
            for spec in AgentCatalog():
                states.update(spec.id, dns_enabled=False)
            echo(f"DNS mode off for every agent ({hosts.path})")
        else:
            spec = agent_spec(agent_id)
            if enabled:
                if not spec.exact_hosts:
                    raise CommandError(f"agent {spec.id!r} has no known hosts to map", 2)
                changed = hosts.enable(spec.id, spec.exact_hosts)
                states.update(spec.id, dns_enabled=True, last_error=None, last_started_at=time.time())
                same = "" if changed else ", already so"
                echo(f"DNS mode on for {spec.id}: {', '.join(spec.exact_hosts)} -> 127.0.0.1, ::1 ({hosts.path}{same})")
                if settings.bridge_port != 443:
                    echo(f"note: agents connect to port 443; the DNS-mode listener is on {settings.bridge_port}")
            else:
                changed = hosts.disable(spec.id)
                states.update(spec.id, dns_enabled=False, last_error=None)
                echo(f"DNS mode off for {spec.id} ({hosts.path})")
    except HostsFileError as exc:  # includes "not permitted", whose message has the sudo command
        raise CommandError(str(exc)) from None
    finally:
        db.dispose()
    if changed and str(hosts.path) == DEFAULT_HOSTS_FILE:
        for cmd, outcome in flush_dns():
            echo(f"flush DNS cache: {' '.join(cmd)}: {outcome}")


# -- cert --------------------------------------------------------------------------------
def cert_trust(settings: Settings, action: str, dry_run: bool, platform: str | None, echo: Echo) -> None:
    ca = _ca(settings)
    try:
        commands = trust_commands(platform, action, ca.cert_path)  # type: ignore[arg-type]
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None
    if dry_run:
        for cmd in commands:
            echo(shlex.join(cmd))
        return
    # NSS untrust: a profile without the CA fails its delete; the others must still run.
    results = run_commands(commands, stop_on_error=action == "trust")
    for cmd, outcome in results:
        echo(f"{shlex.join(cmd)}: {outcome}")
    if any(outcome != "ok" for _, outcome in results) and action == "trust":
        raise CommandError(f"could not {action} the CA; run the commands above yourself (see --dry-run)")


def cert_regenerate(settings: Settings, echo: Echo) -> None:
    api = running_api(settings)
    if api is not None:
        try:  # the running proxy must issue leaves from the new key at once
            reply = api.post("/api/tools/agent-bridge/cert", json={"action": "regenerate"})
        finally:
            api.close()
        if reply.status_code != 200:
            raise CommandError(f"the running server refused ({reply.status_code}): {reply.text[:200]}")
        fingerprint = reply.json()["cert"]["fingerprint_sha256"]
    else:
        fingerprint = CertificateAuthority(settings.certs_dir).regenerate().fingerprint_sha256
    echo(f"new CA {fingerprint}; trust it again: omniroute cert trust")


# -- doctor ------------------------------------------------------------------------------
def doctor(settings: Settings, echo: Echo) -> bool:
    """One line per check: `ok` or `problem`, each problem with its fix. True when all ok."""
    ok = True

    def line(good: bool | None, what: str, fix: str | None = None) -> None:
        nonlocal ok
        mark = {True: "ok     ", False: "problem", None: "note   "}[good]
        echo(f"{mark}  {what}" + (f" -- fix: {fix}" if fix and good is not True else ""))
        ok = ok and good is not False

    _doctor_ports(settings, line)
    ca = CertificateAuthority(settings.certs_dir)
    if not ca.key_path.exists():
        line(False, f"no CA in {settings.certs_dir}", "run `omniroute run` once, or `omniroute cert regenerate`")
    else:
        try:
            ca.ensure()
            line(True, f"CA present: {ca.cert_path}")
            trusted = is_trusted(ca.cert_path)
            line(trusted, {True: "CA trusted by the system", False: "CA not trusted by the system",
                           None: "CA trust cannot be read on this OS (unknown)"}[trusted],
                 "omniroute cert trust (see --dry-run for the commands)")
        except CAError as exc:
            line(False, str(exc), "omniroute cert regenerate")
    _doctor_hosts(settings, line)
    servers = ", ".join(settings.upstream_dns) or "system resolvers"
    try:
        resolver = UpstreamResolver(settings.upstream_dns or None, settings.upstream_dns_port, timeout=3.0)
        addresses = asyncio.run(resolver.resolve(DOCTOR_PROBE_HOST))
        line(True, f"upstream DNS ({servers}) resolves {DOCTOR_PROBE_HOST} to {addresses[0]}")
    except (UpstreamDNSError, ValueError) as exc:
        line(False, f"upstream DNS ({servers}) fails: {exc}",
             "set OMNIROUTE_UPSTREAM_DNS to reachable servers, e.g. OMNIROUTE_UPSTREAM_DNS=1.1.1.1,8.8.8.8")
    return ok


def _doctor_ports(settings: Settings, line: Callable[..., None]) -> None:
    """The running server's listeners (its run file), or the ports `omniroute run` would use."""
    from omniroute import runfile

    server = find_server(settings)
    if server is not None:
        with server:
            health: dict[str, Any] = server.api.get("/health").json()
        line(True, f"OmniRoute is running on this home: pid {server.info.pid}, API {server.info.api_url}")
        for listener in health.get("listeners", []):
            name, port, state = listener.get("name"), listener.get("port"), listener.get("state")
            if state == "running":
                line(True, f"port {port} ({name}) is OmniRoute's own, running")
            elif state == "disabled" or not port:
                line(True, f"{name} listener disabled")
            else:
                line(False, f"{name} listener on port {port} is {state}: {listener.get('error') or 'no error given'}",
                     "see the OmniRoute log; restart it with another port")
        return
    _, stale = runfile.read(settings.home)
    if stale is not None:
        runfile.remove(settings.home, stale.pid)
        line(None, f"stale run file removed: pid {stale.pid} no longer runs (it did not stop cleanly)")
    line(None, f"no OmniRoute server is running on home {settings.home}", f"omniroute run --home {settings.home}")
    for listener in listeners(settings):
        if not listener.port:
            line(True, f"{listener.name} listener disabled (port 0)")
            continue
        problem = port_problem(local_host(settings), listener)
        if problem is None:
            line(True, f"port {listener.port} ({listener.name}) is free for `omniroute run`")
        else:
            line(False, problem.split(";")[0], f"{listener.flag} PORT (another port), or stop what holds it")


def _doctor_hosts(settings: Settings, line: Callable[..., None]) -> None:
    hosts = hosts_file(settings)
    try:
        entries = hosts.entries()
    except (HostsFileError, OSError) as exc:
        line(False, f"hosts file {hosts.path}: {exc}", "fix or remove OmniRoute's block by hand")
        return
    if not entries:
        line(True, f"no DNS-mode entries in {hosts.path} (agents use HTTP_PROXY)")
    for agent_id, names in sorted(entries.items()):
        line(True, f"DNS mode on for {agent_id}: {', '.join(names)} -> loopback")
    if entries and settings.bridge_port != 443:
        line(False, f"hosts entries point agents at port 443, but the DNS-mode listener is on {settings.bridge_port}",
             "run with --bridge-port 443 (as root)")
    writable = os.access(hosts.path if hosts.path.exists() else hosts.path.parent, os.W_OK)
    if not writable:
        line(None, f"{hosts.path} is not writable by this user", hosts.sudo_command("dns AGENT on"))
