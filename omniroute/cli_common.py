"""What every `omniroute` command shares: settings from flags, one-line failures, error mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from omniroute.config import Settings, SettingsError

Home = Annotated[Path | None, typer.Option(help="Home directory. Env OMNIROUTE_HOME.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    for line in message.splitlines() or [""]:  # one problem per line, each one prefixed
        typer.echo(f"omniroute: {line}", err=True)
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


def run_bridge(call: Any) -> Any:
    from omniroute.cli_bridge import CommandError

    try:
        return call()
    except CommandError as exc:
        raise fail(str(exc), exc.code) from None


def run_inspector(call: Any) -> None:
    from omniroute.cli_inspector import CommandError

    try:
        call()
    except CommandError as exc:
        raise fail(str(exc), exc.code) from None
