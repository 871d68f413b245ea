"""The `omniroute cert`, `omniroute har` and `omniroute config` command groups (typer wiring; the
bodies are in cli_bridge, cli_inspector and cli_config)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from omniroute.cli_common import Home, build_settings, run_bridge, run_inspector


cert_app = typer.Typer(help="OmniRoute's CA: trust, untrust, regenerate.", no_args_is_help=True)


def _trust(action: str, dry_run: bool, platform: str | None, home: Path | None) -> None:
    from omniroute import cli_bridge

    run_bridge(lambda: cli_bridge.cert_trust(build_settings(home=home), action, dry_run, platform, typer.echo))


DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the exact commands, run nothing.")]
Platform = Annotated[str | None, typer.Option(help="macos, windows, debian, fedora or nss (default: this OS).")]


@cert_app.command("trust")
def cert_trust(dry_run: DryRun = False, platform: Platform = None, home: Home = None) -> None:
    """Add the CA to the system trust store (or NSS)."""
    _trust("trust", dry_run, platform, home)


@cert_app.command("untrust")
def cert_untrust(dry_run: DryRun = False, platform: Platform = None, home: Home = None) -> None:
    """Remove the CA from the system trust store (or NSS)."""
    _trust("untrust", dry_run, platform, home)


@cert_app.command("regenerate")
def cert_regenerate(home: Home = None) -> None:
    """Create a new CA (clients must trust it again)."""
    from omniroute import cli_bridge

    run_bridge(lambda: cli_bridge.cert_regenerate(build_settings(home=home), typer.echo))


# -- Traffic Inspector commands (bodies in omniroute.cli_inspector) ----------------------
har_app = typer.Typer(help="HAR files of captured traffic.", no_args_is_help=True)


@har_app.command("export")
def har_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="HAR file to write.")],
    session: Annotated[str | None, typer.Option(help="A recording session id (default: the live capture).")] = None,
    filter_: Annotated[str | None, typer.Option("--filter", help="mitmproxy flow filter, e.g. '~d api.openai.com & ~c 429'.")] = None,
    home: Annotated[Path | None, typer.Option(help="Home directory. Env OMNIROUTE_HOME.")] = None,
    api_port: Annotated[int | None, typer.Option(help="Port of the running OmniRoute API.")] = None,
) -> None:
    """Export captured requests as HAR 1.2 (asks the running OmniRoute; sessions also offline)."""
    from omniroute import cli_inspector

    settings = build_settings(home=home, api_port=api_port)
    run_inspector(lambda: cli_inspector.har_export(settings, output, session, filter_, typer.echo))


# -- config file commands (bodies in omniroute.cli_config) -------------------------------
config_app = typer.Typer(help="The declarative config file (omniroute run --config FILE).", no_args_is_help=True)


@config_app.command("export")
def config_export(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")] = None,
    home: Home = None,
) -> None:
    """Write the current providers, combos, aliases, mappings, ... as a config file (no secrets)."""
    from omniroute import cli_config

    settings = build_settings(home=home)
    run_inspector(lambda: cli_config.export_config(settings, output, typer.echo, lambda m: typer.echo(m, err=True)))


@config_app.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="Config file to validate.")]) -> None:
    """Validate a config file without applying it: one line per problem (file:line: key: message)."""
    from omniroute import cli_config

    run_inspector(lambda: cli_config.check_config(file, typer.echo))
