"""`omniroute` command line (typer)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from omniroute import __version__
from omniroute.bridge.ca import CAError, CertificateAuthority
from omniroute.config import Settings, SettingsError
from omniroute.listeners import listeners, port_problem, proxy_modes

app = typer.Typer(
    name="omniroute",
    help="Local interception and routing proxy for AI coding agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ADDON_SCRIPT = Path(__file__).resolve().parent.parent / "addons" / "omniroute.py"


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"omniroute: {message}", err=True)
    return typer.Exit(code)


def build_settings(**flags: Any) -> Settings:
    """Settings with only the flags the user actually gave overriding env and config file."""
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except SettingsError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # pydantic validation of env / config file values
        first = str(exc).splitlines()
        raise fail(f"invalid setting: {' '.join(first[:3])}") from None


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
) -> None:
    """Start the proxy listeners and the API in one process."""
    settings = build_settings(
        home=home, host=host, api_port=api_port, proxy_port=proxy_port,
        bridge_port=bridge_port, demo=demo or None,
    )
    try:
        settings.prepare_home()
    except SettingsError as exc:
        raise fail(str(exc)) from None
    try:
        # Before mitmproxy starts: it issues per-host certificates from this CA.
        CertificateAuthority(settings.certs_dir).ensure()
    except CAError as exc:
        raise fail(str(exc)) from None
    for listener in listeners(settings):
        problem = port_problem(settings.host, listener)
        if problem:
            raise fail(problem)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    code = asyncio.run(_serve(settings))
    raise typer.Exit(code)


async def _serve(settings: Settings) -> int:
    from mitmproxy import options
    from mitmproxy.addons.script import load_script
    from mitmproxy.tools.dump import DumpMaster

    master = DumpMaster(options.Options(), with_termlog=True, with_dumper=False)
    # Options of mitmproxy's own addons exist only once the master has loaded them.
    master.options.update(
        listen_host=settings.host,
        mode=proxy_modes(settings),
        connection_strategy="lazy",
        confdir=str(settings.certs_dir),
    )
    script = load_script(str(ADDON_SCRIPT))
    if script is None:
        typer.echo(f"omniroute: cannot load {ADDON_SCRIPT}", err=True)
        return 1
    master.addons.add(*script.addons)
    master.options.update(
        termlog_verbosity="warn",
        omniroute_home=str(settings.home),
        omniroute_host=settings.host,
        omniroute_api_port=settings.api_port,
        omniroute_proxy_port=settings.proxy_port,
        omniroute_bridge_port=settings.bridge_port,
        omniroute_demo=settings.demo,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    ready = asyncio.create_task(_announce_ready(script.addons[0], settings))
    await master.run()
    ready.cancel()
    return 0 if script.addons[0].runtime is not None else 1


async def _announce_ready(host: Any, settings: Settings) -> None:
    while host.runtime is None or host.runtime.listeners["api"].state in ("starting", "stopped") and settings.api_port:
        await asyncio.sleep(0.02)
    parts = []
    if settings.api_port:
        parts.append(f"API http://{settings.host}:{settings.api_port}")
    if settings.proxy_port:
        parts.append(f"HTTP proxy {settings.host}:{settings.proxy_port}")
    if settings.bridge_port:
        parts.append(f"DNS-mode listener {settings.host}:{settings.bridge_port}")
    demo = " · demo provider: model demo/echo" if settings.demo else ""
    print(f"OmniRoute {__version__} ready: {' · '.join(parts)}{demo}", flush=True)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
