"""The declarative config file (`omniroute run --config FILE`, `$OMNIROUTE_CONFIG`).

`schema` says what the file holds (the API's JSON field names), `load` reads and validates it
(every problem with its line and key), `apply` writes it to the database in one transaction,
`export` writes the database back out as such a file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from omniroute.configfile.apply import Applied, apply
from omniroute.configfile.load import ConfigFileError, LoadedConfig, Problem, load
from omniroute.db.database import Database
from omniroute.providers.secrets import SecretBox

SCHEMA_FILE = "omniroute-config.schema.json"

__all__ = ["Applied", "ConfigFileError", "LoadedConfig", "Problem", "apply", "apply_file",
           "load", "schema_path"]


def apply_file(path: Path | None, db: Database, secrets: SecretBox) -> Applied:
    """Load, validate and apply ``path`` (nothing to do without one)."""
    if path is None:
        return Applied()
    return apply(db, secrets, load(path))


def schema_path() -> Path:
    return Path(str(resources.files(__package__) / SCHEMA_FILE))
