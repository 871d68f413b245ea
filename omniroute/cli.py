"""`omniroute` command line (typer)."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
import os
import signal
import sys
import types
from pathlib import Path
from typing import Annotated, Any

import typer

from omniroute import __version__
from omniroute.cli_agents_app import agents_app
from omniroute.cli_common import Home, build_settings, fail, run_bridge, run_inspector
from omniroute.cli_groups import cert_app, config_app, har_app
from omniroute.config import Settings, SettingsError
from omniroute.exposure import exposure_problem
from omniroute.listeners import listeners, port_problem, proxy_modes

app = typer.Typer(
    name="omniroute",
    help="Local interception and routing proxy for AI coding agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(cert_app, name="cert")
app.add_typer(har_app, name="har")
app.add_typer(config_app, name="config")
app.add_typer(agents_app, name="agents")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def run(
    home: Annotated[Path | None, typer.Option(help="Home directory (db, certs, logs). Env OMNIROUTE_HOME.")] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    api_port: Annotated[int | None, typer.Option(help="API port (/v1, /api, UI); 0 disables.")] = None,
    proxy_port: Annotated[int | None, typer.Option(help="HTTP_PROXY listener port; 0 disables.")] = None,
    bridge_port: Annotated[int | None, typer.Option(help="DNS-mode listener port; 0 disables.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Register the offline demo provider (model demo/echo).")] = False,
    config: Annotated[Path | None, typer.Option(help="Config file (YAML) applied at start and on SIGHUP. Env OMNIROUTE_CONFIG.")] = None,
    proxy_auth: Annotated[str | None, typer.Option(
        help="HTTP proxy listener credentials: USER:PASS, @htpasswd-file or ldap[s]:… "
        "(mitmproxy's proxyauth). Env OMNIROUTE_PROXY_AUTH.")] = None,
    allow_open_proxy: Annotated[bool, typer.Option(
        "--allow-open-proxy", help="Beyond loopback: run the proxy listeners without authentication.")] = False,
    allow_open_v1: Annotated[bool, typer.Option(
        "--allow-open-v1", help="Beyond loopback: serve /v1 without REQUIRE_API_KEY.")] = False,
) -> None:
    """Start the proxy listeners and the API in one process."""
    # Start-up creates many objects that live as long as the process (modules, classes,
    # routes); collecting them again and again is a real part of a start. So collection stops
    # before the modules a start needs are imported (here and in _serve: this module imports
    # only what every command needs), and resumes, without them, once the listeners are up
    # (_announce_ready).
    gc.disable()
    settings = build_settings(
        home=home, host=host, api_port=api_port, proxy_port=proxy_port,
        bridge_port=bridge_port, demo=demo or None, config_file=config, proxy_auth=proxy_auth,
        allow_open_proxy=allow_open_proxy or None, allow_open_v1=allow_open_v1 or None,
    )
    if settings.config_file is not None:  # a bad file stops start-up before anything is created
        from omniroute import cli_config

        run_inspector(lambda: cli_config.check_config(settings.config_file, lambda _: None))
    # The addons build their own Settings from these options, as under mitmdump's --set; the
    # proxy listeners are mitmproxy's `mode`, set from `settings` below.
    omniroute_options = {
        "omniroute_home": str(home) if home is not None else None,
        "omniroute_host": host,
        "omniroute_api_port": api_port,
        "omniroute_demo": demo,
        "omniroute_config": str(settings.config_file) if settings.config_file else None,
        "omniroute_allow_open_proxy": allow_open_proxy,
        "omniroute_allow_open_v1": allow_open_v1,
    }
    try:
        settings.prepare_home()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    from omniroute.bridge.ca import CAError, CertificateAuthority

    try:
        # Before mitmproxy starts: it issues per-host certificates from this CA.
        CertificateAuthority(settings.certs_dir).ensure()
    except CAError as exc:
        raise fail(str(exc)) from None
    for listener in listeners(settings):
        if listener.name == "agent-bridge" and bridge_port is None and 0 < listener.port < 1024 and os.geteuid() != 0:
            # The DNS-mode default (443) needs root; everything else works without it.
            typer.echo(
                f"omniroute: DNS-mode listener off: port {listener.port} needs root; "
                "use --bridge-port PORT (and point the hosts file's agents there) or run as root",
                err=True,
            )
            settings = settings.model_copy(update={"bridge_port": 0})
            continue
        problem = port_problem(settings.host, listener)
        if problem:
            raise fail(problem)
    exposed = exposure_problem(settings)
    if exposed:
        raise fail(exposed)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    code = asyncio.run(_serve(settings, omniroute_options))
    raise typer.Exit(code)


def _proxy_addons() -> list[Any]:
    """The mitmproxy addons behind OmniRoute's listeners, in mitmproxy's default order.

    mitmdump loads every default addon; `omniroute run` accepts no mitmproxy options, so the
    ones that only act when such an option is set (playback, map/modify, saving, stdin reading,
    the console dumper) would only cost start-up time. Proxy authentication is ours
    (`--proxy-auth`), on the HTTP proxy listener only. The onboarding app and proxy
    authentication import mitmproxy's modules when first used.
    """
    from mitmproxy.addons import (
        block,
        core,
        disable_h2c,
        errorcheck,
        next_layer,
        proxyserver,
        update_alt_svc,
    )

    from omniroute.addons.onboarding import Onboarding
    from omniroute.addons.tls_config import TlsConfig
    from omniroute.bridge.proxy_auth import ProxyListenerAuth

    return [
        core.Core(),
        block.Block(),  # refuses clients from public addresses unless told otherwise
        disable_h2c.DisableH2C(),
        Onboarding(),  # http://mitm.it through the proxy: our CA, for devices
        ProxyListenerAuth(),  # before our addons: an unauthenticated client gets only its 407
        proxyserver.Proxyserver(),
        next_layer.NextLayer(),
        TlsConfig(),  # reads the CA when `confdir` is set below, not again at `running`
        update_alt_svc.UpdateAltSvc(),  # the DNS-mode listener is a reverse proxy
        errorcheck.ErrorCheck(),  # an error while starting (a port taken) ends the process
    ]


def _import_addon_modules_alone() -> None:
    """Register the package `mitmproxy.addons` without running its ``__init__``.

    That file imports all thirty default addons for ``default_addons()``, and with them Flask
    (the onboarding app) and ldap3 (proxy authentication's LDAP validator), a real part of a
    start's memory and time, for addons `omniroute run` does not load or loads on first use
    (`_proxy_addons` lists them; each module imports by name as usual). mitmdump, whose
    ``default_addons()`` needs the file, never comes here; a process that has imported the
    package already keeps it as it is.
    """
    if "mitmproxy.addons" in sys.modules:
        return
    spec = importlib.util.find_spec("mitmproxy.addons")
    assert spec is not None
    sys.modules["mitmproxy.addons"] = importlib.util.module_from_spec(spec)


def _import_httpx_without_its_cli() -> None:
    """Import httpx without its command-line client.

    httpx's ``__init__`` imports ``httpx._main`` for ``httpx.main`` whenever click, rich and
    pygments are installed (other packages bring them): their import is part of every start,
    for a command OmniRoute never runs (encode/httpx#3547 would move it to ``httpx.__main__``).
    A stand-in takes its place while httpx is imported, and leaves; ``httpx.main`` still runs
    the real client, imported when called.
    """
    if "httpx" in sys.modules:
        return
    stand_in = types.ModuleType("httpx._main")
    stand_in.main = _httpx_cli  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in
    try:
        import httpx  # noqa: F401 - its __init__ finds the stand-in
    finally:
        del sys.modules["httpx._main"]


def _httpx_cli(*args: Any, **kwargs: Any) -> Any:
    from httpx._main import main

    return main(*args, **kwargs)


async def _serve(settings: Settings, omniroute_options: dict[str, Any]) -> int:
    _import_addon_modules_alone()  # before mitmproxy.master, which imports an addon
    _import_httpx_without_its_cli()  # before anything of ours imports httpx
    from mitmproxy import exceptions, options
    from mitmproxy.master import Master

    from omniroute.addons import make_addons

    master = Master(options.Options(), with_termlog=True)
    master.addons.add(*_proxy_addons())
    # Options of mitmproxy's own addons exist only once the master has loaded them.
    master.options.update(
        listen_host=settings.host,
        mode=proxy_modes(settings),
        connection_strategy="lazy",
        confdir=str(settings.certs_dir),
    )
    try:  # mitmproxy checks the form of --proxy-auth here
        master.options.update(proxyauth=settings.proxy_auth)
    except exceptions.OptionsError as e:
        raise fail(f"{e} (--proxy-auth takes USER:PASS, any, @htpasswd-file or ldap[s]:…)") from None
    ours = make_addons()
    master.addons.add(*ours)
    master.options.update(termlog_verbosity="warn", **omniroute_options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    host = ours[0]
    ready = asyncio.create_task(_announce_ready(host, settings))
    await master.run()
    ready.cancel()
    return 0 if host.runtime is not None else 1


async def _announce_ready(host: Any, settings: Settings) -> None:
    while host.services is None or host.services.board.listeners["api"].state in ("starting", "stopped") and settings.api_port:
        await asyncio.sleep(0.02)
    gc.freeze()  # start-up's objects: never traversed by a collection from now on
    gc.enable()
    parts = []
    if settings.api_port:
        parts.append(f"API http://{settings.host}:{settings.api_port}")
    if settings.proxy_port:
        parts.append(f"HTTP proxy {settings.host}:{settings.proxy_port}")
    if settings.bridge_port:
        parts.append(f"DNS-mode listener {settings.host}:{settings.bridge_port}")
    demo = " · demo provider: model demo/echo" if settings.demo else ""
    print(f"OmniRoute {__version__} ready: {' · '.join(parts)}{demo}", flush=True)


# -- AgentBridge commands (bodies in omniroute.cli_bridge) -------------------------------
ProxyPort = Annotated[int | None, typer.Option(help="HTTP_PROXY listener port.")]


@app.command()
def env(
    agent: Annotated[str, typer.Argument(help="Agent id, e.g. claude-code or codex.")],
    home: Home = None,
    proxy_port: ProxyPort = None,
) -> None:
    """Print the exports that send AGENT through the HTTP_PROXY listener (eval "$(omniroute env codex)")."""
    from omniroute import cli_bridge

    settings = build_settings(home=home)
    run_bridge(lambda: cli_bridge.env_exports(settings, agent, typer.echo, lambda m: typer.echo(m, err=True), proxy_port))


@app.command("map")
def map_(
    agent: Annotated[str, typer.Argument(help="Agent id.")],
    rule: Annotated[str, typer.Argument(metavar="SOURCE=TARGET", help="Model (or glob, or *) = engine target.")],
    home: Home = None,
) -> None:
    """Map an agent's model to a target the engine resolves (connection/model, alias, combo), on the running server."""
    from omniroute import cli_agents

    run_bridge(lambda: cli_agents.map_model(build_settings(home=home), agent, rule, typer.echo))


@app.command()
def dns(
    agent: Annotated[str | None, typer.Argument(help="Agent id (omit with --all).")] = None,
    state: Annotated[str | None, typer.Argument(metavar="on|off")] = None,
    all_: Annotated[bool, typer.Option("--all", help="With 'off': remove every OmniRoute hosts entry.")] = False,
    home: Home = None,
) -> None:
    """DNS mode: point AGENT's hosts at this machine in the hosts file (on), or remove them (off)."""
    from omniroute import cli_bridge

    if all_:
        # `omniroute dns --all off` parses 'off' as the first argument.
        if (state or agent) != "off" or (state and agent):
            raise fail("use: omniroute dns --all off")
        agent_id, enabled = None, False
    else:
        if agent is None or state not in ("on", "off"):
            raise fail("use: omniroute dns AGENT on|off  (or: omniroute dns --all off)")
        agent_id, enabled = agent, state == "on"
    run_bridge(lambda: cli_bridge.set_dns(build_settings(home=home), agent_id, enabled, typer.echo))


@app.command()
def connect(
    tool: Annotated[str, typer.Argument(help="claude-code, codex, gemini-cli, qwen-code, opencode or droid.")],
    direct: Annotated[bool, typer.Option("--direct", help="Write the agent's own settings (base URL and a key).")] = False,
    model: Annotated[str | None, typer.Option(help="The model the agent asks for (map it with `omniroute map`).")] = None,
    small_model: Annotated[str | None, typer.Option(help="Claude Code: its small/fast model.")] = None,
    home: Home = None,
    api_port: Annotated[int | None, typer.Option(help="Port of the OmniRoute API.")] = None,
) -> None:
    """Point TOOL at OmniRoute by its own settings file: no proxy, no CA (backed up first)."""
    from omniroute import cli_connect

    if not direct:
        raise fail(f"use: omniroute connect {tool} --direct  (interception instead: omniroute env {tool}, or omniroute dns {tool} on)")
    settings = build_settings(home=home, api_port=api_port)
    run_bridge(lambda: cli_connect.connect(settings, tool, model, small_model, typer.echo))


@app.command()
def disconnect(
    tool: Annotated[str, typer.Argument(help="A tool `omniroute connect` configured.")],
    home: Home = None,
    api_port: Annotated[int | None, typer.Option(help="Port of the OmniRoute API.")] = None,
) -> None:
    """Take OmniRoute out of TOOL's settings again (the user's own values come back)."""
    from omniroute import cli_connect

    run_bridge(lambda: cli_connect.disconnect(build_settings(home=home, api_port=api_port), tool, typer.echo))


@app.command()
def doctor(home: Home = None) -> None:
    """Check ports, CA trust, hosts entries and upstream DNS; each problem with its fix."""
    from omniroute import cli_bridge

    healthy = run_bridge(lambda: cli_bridge.doctor(build_settings(home=home), typer.echo))
    raise typer.Exit(0 if healthy else 1)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())


# -- Traffic Inspector commands (bodies in omniroute.cli_inspector) ----------------------
@app.command()
def sessions(home: Annotated[Path | None, typer.Option(help="Home directory. Env OMNIROUTE_HOME.")] = None) -> None:
    """List recording sessions (read from the database; OmniRoute need not be running)."""
    from omniroute import cli_inspector

    run_inspector(lambda: cli_inspector.sessions_table(build_settings(home=home), typer.echo))


