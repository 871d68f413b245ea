"""Bodies of `omniroute config export | check` (the typer wiring is in `omniroute.cli`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from omniroute.cli_inspector import CommandError, _database
from omniroute.config import Settings
from omniroute.configfile import ConfigFileError, load
from omniroute.configfile.export import dump, export

Echo = Callable[[str], None]


def export_config(settings: Settings, output: Path | None, echo: Echo, warn: Echo) -> None:
    """Write the database's configuration as a config file (stdout without ``output``)."""
    db = _database(settings)
    try:
        db.migrate()  # an older database gains the from_config marks first
        doc, notes = export(db)
    finally:
        db.dispose()
    text = dump(doc)
    if output is None:
        echo(text.rstrip("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        warn(f"omniroute: wrote {output}")
    for note in notes:
        warn(f"omniroute: {note}")


def check_config(path: Path, echo: Echo) -> None:
    """Validate a config file without applying it (what start-up checks before the database)."""
    try:
        loaded = load(path)
    except ConfigFileError as exc:
        raise CommandError("\n".join(exc.lines()), 2) from None
    config = loaded.config
    echo(f"{path}: ok ({len(config.providers)} providers, {len(config.combos)} combos, "
         f"{len(config.aliases)} aliases, {len(config.agents)} agents)")
