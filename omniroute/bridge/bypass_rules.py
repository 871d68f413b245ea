"""The bypass list in force: the built-in patterns plus the user's, saved in the key-value table.

Methods touch the database and are sync: the API calls them through the store layer, the
addon only calls the matcher (in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from omniroute.bridge.bypass import BYPASS_KEY, BypassMatcher, combined_patterns
from omniroute.db.database import Database
from omniroute.db.kv import kv_set
from omniroute.db.tables import KeyValue


class BypassRules:
    def __init__(self, db: Database, on_change: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._on_change = on_change
        self._matcher = BypassMatcher(())

    def __call__(self, host: str) -> bool:
        """True when ``host`` is tunnelled without decryption."""
        return self._matcher(host)

    def stored(self) -> tuple[list[str], datetime | None, bool]:
        """The user's patterns, when they were saved (None: never), and whether the config
        file declares them (then the API may not change them)."""
        with self._db.session() as session:
            row = session.get(KeyValue, BYPASS_KEY)
        if row is None:
            return [], None, False
        return list(row.value or []), row.updated_at, row.from_config

    def reload(self) -> None:
        patterns, _, _ = self.stored()
        self._matcher = BypassMatcher(p for p, _ in combined_patterns(patterns))

    def set_user_patterns(self, patterns: list[str]) -> None:
        """Validate (ValueError naming the pattern), save and apply at once."""
        rows = combined_patterns(patterns)
        kv_set(self._db, BYPASS_KEY, [p for p, source in rows if source == "user"])
        self._matcher = BypassMatcher(p for p, _ in rows)
        self._on_change()
