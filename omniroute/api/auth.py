"""Who may call what: OmniRoute API keys on the model APIs and the management API.

Rules (the OmniRoute API specification, "Authentication", GoClaw-style scopes read < write < admin):

* Model APIs (`/v1/*`, `/api/v1/*`, `/v1beta/*`): open unless `require_api_key` (or the
  runtime setting `requireLogin`, `/api/settings/require-login`) is set; then a
  key is needed, as `Authorization: Bearer`, `x-api-key` (Anthropic clients),
  `x-goog-api-key` or `?key=` (Gemini clients). GET needs read scope, anything else write.
* Management keys travel in headers only: a `?key=` on a management route is a 401 (a key in a
  URL ends up in logs, shell history and the inspector).
* Management (`/api/*` outside `/api/v1`): open while the server listens on loopback only and
  no admin key exists. Once an admin key exists, or the server listens beyond loopback, GET
  needs read scope and every change needs admin. Bootstrap: with no admin key yet, a caller
  on this machine may still manage (so it can create the first admin key).
* Calls rewritten by our own AgentBridge addon (internal header equal to the process token)
  are exempt: the agent's own credentials are not ours to check.

A key is looked up by its sha256 in an in-memory table of the active keys (auth is on every
request's path; the table is reloaded after each `/api/keys` write). Last use is written to
the database off the request path, at most once a minute per key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import FastAPI
from sqlmodel import select
from starlette.requests import HTTPConnection
from starlette.types import Scope

from omniroute.addresses import is_loopback
from omniroute.api.guard_pass import Denial, guards_of
from omniroute.api.guards import is_local_caller
from omniroute.config import Settings
from omniroute.db.database import Database
from omniroute.db.store import Store
from omniroute.db.tables import ApiKey

if TYPE_CHECKING:
    from omniroute.services import Services

log = logging.getLogger("omniroute.auth")

KEY_PREFIX = "sk-omni-"
SCOPES: tuple[str, ...] = ("read", "write", "admin")
_LEVEL = {scope: level for level, scope in enumerate(SCOPES, start=1)}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
INTERNAL_HEADER = b"x-omniroute-internal"
TOUCH_INTERVAL_S = 60.0


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyEntry:
    id: str
    scope: str
    key_hash: str


class KeyCache:
    """The active keys by hash, loaded from the database on first use after a change."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._by_hash: dict[str, KeyEntry] | None = None
        self._admin_exists = False
        self._touched: dict[str, float] = {}

    def invalidate(self) -> None:
        self._by_hash = None

    @property
    def stale(self) -> bool:
        """The next lookup would read the database (the middleware loads it in a store thread)."""
        return self._by_hash is None

    def load(self) -> dict[str, KeyEntry]:
        with self._db.session() as session:
            active = select(ApiKey).where(ApiKey.is_active == True)  # noqa: E712
            rows = session.exec(active).all()
        table = {row.key_hash: KeyEntry(row.id, row.scope, row.key_hash) for row in rows}
        self._admin_exists = any(entry.scope == "admin" for entry in table.values())
        self._by_hash = table
        return table

    def _table(self) -> dict[str, KeyEntry]:
        table = self._by_hash
        return self.load() if table is None else table

    @property
    def has_keys(self) -> bool:
        return bool(self._table())

    @property
    def admin_exists(self) -> bool:
        self._table()
        return self._admin_exists

    def lookup(self, secret: str) -> KeyEntry | None:
        digest = hash_key(secret)
        entry = self._table().get(digest)
        # The dict lookup is keyed by a hash, so its timing says nothing usable about the
        # secret; the final comparison is constant-time all the same.
        if entry is None or not hmac.compare_digest(entry.key_hash, digest):
            return None
        return entry

    def touch(self, entry: KeyEntry) -> None:
        """Record a use without waiting for the database (at most once a minute per key)."""
        now = time.monotonic()
        if now - self._touched.get(entry.id, -TOUCH_INTERVAL_S) < TOUCH_INTERVAL_S:
            return
        self._touched[entry.id] = now
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.run_in_executor(None, self._write_last_used, entry.id, datetime.now(UTC))

    def _write_last_used(self, key_id: str, when: datetime) -> None:
        try:
            with self._db.session() as session:
                row = session.get(ApiKey, key_id)
                if row is not None:
                    row.last_used_at = when
                    session.add(row)
                    session.commit()
        except Exception as exc:  # a busy database must never fail the request that used the key
            log.warning("could not record API key use: %s", exc.__class__.__name__)


def key_cache(conn: HTTPConnection) -> KeyCache:
    return conn.app.state.api_keys  # type: ignore[no-any-return]


INGEST_PATH = "/api/tools/traffic-inspector/internal/ingest"


def route_kind(path: str) -> str | None:
    """'model' for the model APIs, 'management' for `/api/*`, None for the rest (health, UI)."""
    if path.startswith(("/v1/", "/api/v1/", "/v1beta/", "/api/v1beta/")) or path in ("/v1", "/api/v1", "/api/tags"):
        return "model"
    if path == INGEST_PATH:
        return None  # protected by its own ingest token
    if path.startswith("/api/") or path == "/api":
        return "management"
    return None


def required_scope(kind: str, method: str) -> str:
    if method in _SAFE_METHODS:
        return "read"
    return "write" if kind == "model" else "admin"


def query_key(query_string: bytes) -> list[str]:
    if b"key=" not in query_string:
        return []
    return [v for v in parse_qs(query_string.decode("latin-1")).get("key", []) if v]


QUERY_KEY_REFUSED = (
    "management API keys are accepted only in headers ('Authorization: Bearer sk-omni-…' or "
    "x-api-key), never in the URL (?key=), where they end up in logs and history"
)


def presented_keys(headers: dict[bytes, bytes], query_string: bytes) -> list[str]:
    """Every credential the caller sent, in the order clients of each format send them."""
    found = []
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        found.append(token.strip())
    for name in (b"x-api-key", b"x-goog-api-key"):
        value = headers.get(name, b"").decode("latin-1").strip()
        if value:
            found.append(value)
    return found + query_key(query_string)


class ApiKeyCheck:
    """The API-key guard of the guard pass (`omniroute.api.guard_pass`): `warm` loads the key
    table in a store thread after a change, the call itself is synchronous."""

    def __init__(self, settings: Settings, internal_token: str, cache: KeyCache, store: Store,
                 proxied_peers: set[tuple[str, int]], require_login: Callable[[], bool] = lambda: False) -> None:
        self.proxied_peers = proxied_peers
        self.require_login = require_login
        self.settings = settings
        self.token = internal_token.encode() if internal_token else b""
        self.cache = cache
        self.store = store

    async def warm(self, scope: Scope) -> None:
        if self.cache.stale and route_kind(scope["path"]) is not None:
            await self.store.call(self.cache.load)

    def __call__(self, scope: Scope, headers: dict[bytes, bytes]) -> Denial | None:
        kind = route_kind(scope["path"])
        if kind is None:
            return None
        internal = headers.get(INTERNAL_HEADER)
        token = self.token
        if internal and token and hmac.compare_digest(internal, token):
            return None
        query = scope.get("query_string", b"")
        if kind == "management" and query_key(query):
            return Denial(401, QUERY_KEY_REFUSED)
        entry = None
        candidates = presented_keys(headers, query)
        for candidate in candidates:
            entry = self.cache.lookup(candidate)
            if entry is not None:
                break
        if entry is not None:
            # Read by the /v1 routes to attribute usage to the key (request.state.api_key_id).
            state = scope.setdefault("state", {})
            state["api_key_id"], state["api_key_scope"] = entry.id, entry.scope
            self.cache.touch(entry)
        if not self._protected(scope, kind):
            return None
        # A WebSocket on the model API is a model call (write); elsewhere it only reads.
        method = scope.get("method") or ("POST" if kind == "model" else "GET")
        needed = required_scope(kind, method)
        if entry is None and candidates and (kind == "management" or self.cache.has_keys):
            return Denial(401, (
                "the API key sent is not a valid OmniRoute key (unknown, deactivated or "
                "deleted); create one with POST /api/keys"
            ))
        if entry is None:
            return Denial(401, self._missing_message(kind))
        if _LEVEL.get(entry.scope, 0) < _LEVEL[needed]:
            return Denial(403, (
                f"this API key has scope {entry.scope!r}; {method} {scope['path']} needs "
                f"{needed!r} or higher (scopes: read < write < admin)"
            ))
        return None

    def _protected(self, scope: Scope, kind: str) -> bool:
        if kind == "model":
            return self.settings.require_api_key or self.require_login()
        if self.cache.admin_exists:
            return True
        if is_loopback(self.settings.host):
            return False
        # Bootstrap from this machine (never through our own proxy).
        return not is_local_caller(scope.get("client"), self.proxied_peers)

    def _missing_message(self, kind: str) -> str:
        if kind == "model":
            return (
                "an OmniRoute API key is required: send 'Authorization: Bearer sk-omni-…' "
                "(or x-api-key / x-goog-api-key); create one with POST /api/keys"
            )
        if not self.cache.admin_exists:
            return (
                "management from another machine needs an admin API key; create one on this "
                "machine with POST /api/keys {\"label\": \"admin\", \"scope\": \"admin\"}"
            )
        return (
            "an OmniRoute API key is required for management (scope 'read' to read, 'admin' "
            "to change): send 'Authorization: Bearer sk-omni-…'"
        )


def install(app: FastAPI, services: Services) -> None:
    cache = KeyCache(services.db)
    app.state.api_keys = cache
    check = ApiKeyCheck(services.settings, services.tokens.internal, cache, services.store, services.proxied_peers,
                        require_login=lambda: services.runtime_settings.require_login)
    guards_of(app).add(check, warm=check.warm)
