"""The routing settings a user changes while OmniRoute runs (`/api/settings/...`), kept in the
key-value table and applied to the services that act on them.

One section per setting, each stored under ``settings.<name>`` as the API shows it (already
validated by the API's models): the system prompt, thinking budget and payload rules (the
router's `Shaping`), combo defaults (the router), the upstream proxy (the client pool), the IP
filter (the request guards), require-login (the API-key check), rate limits and budgets
(`Admission`). `save` writes one section and applies it here; `load` reads them all (start-up,
and when another instance says "settings" changed through `ConfigSync`). Sync: call both from
a store thread.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from omniroute.db.database import Database
from omniroute.db.kv import kv_get_many, kv_set_many
from omniroute.engine.admission import Admission
from omniroute.engine.budgets import LIMIT_FIELDS, PERIODS, Budget
from omniroute.engine.ip_filter import IpFilter, IpFilterConfig
from omniroute.engine.payload_rules import PayloadRules
from omniroute.engine.rate_limits import RateRule
from omniroute.engine.registry import Registry
from omniroute.engine.request_shaping import Shaping, SystemPrompt, ThinkingBudget
from omniroute.engine.router import Router
from omniroute.providers.pool import ClientPool

log = logging.getLogger("omniroute.settings")

PREFIX = "settings."
SECTIONS = ("systemPrompt", "thinkingBudget", "payloadRules", "comboDefaults", "proxy", "ipFilter",
            "requireLogin", "rateLimit", "budgets")
DEFAULTS: dict[str, Any] = {
    "systemPrompt": {"enabled": False, "prompt": ""},
    "thinkingBudget": {"mode": "passthrough", "customBudget": 10240, "effortLevel": "medium"},
    "payloadRules": {"default": [], "override": [], "filter": [], "defaultRaw": []},
    "comboDefaults": {"strategy": "priority", "maxAttempts": None},
    "proxy": {"global": None, "providers": {}},
    "ipFilter": IpFilterConfig().to_stored(),
    "requireLogin": {"requireLogin": False},
    "rateLimit": {"enabled": False, "rules": []},
    "budgets": {},
}


def proxy_url(config: dict[str, Any] | None) -> str | None:
    """``type://user:password@host:port`` for a proxy setting, None for none."""
    if not config:
        return None
    auth = ""
    if config.get("username"):
        auth = quote(str(config["username"]), safe="")
        if config.get("password"):
            auth += ":" + quote(str(config["password"]), safe="")
        auth += "@"
    host = str(config["host"])
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{config.get('type') or 'http'}://{auth}{host}:{int(config['port'])}"


class UnusableSetting(ValueError):
    """A section's value that the engine cannot put in force (nothing was changed)."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(reason)
        self.name = name


class RuntimeSettings:
    def __init__(self, db: Database, router: Router, pool: ClientPool, registry: Registry,
                 admission: Admission, ip_filter: IpFilter) -> None:
        self._db = db
        self._router = router
        self._pool = pool
        self._registry = registry
        self._admission = admission
        self.ip_filter = ip_filter
        self.require_login = False
        self._lock = threading.Lock()
        self._values: dict[str, Any] = {name: DEFAULTS[name] for name in SECTIONS}
        self._appliers: dict[str, Callable[[Any], None]] = {
            "systemPrompt": lambda _: self._apply_shaping(),
            "thinkingBudget": lambda _: self._apply_shaping(),
            "payloadRules": lambda _: self._apply_shaping(),
            "comboDefaults": self._apply_combo_defaults,
            "proxy": self._apply_proxy,
            "ipFilter": lambda v: self.ip_filter.configure(IpFilterConfig.from_stored(v)),
            "requireLogin": lambda v: setattr(self, "require_login", bool(v.get("requireLogin"))),
            "rateLimit": self._apply_rate_limit,
            "budgets": self._apply_budgets,
        }
        pool.proxy_for = self.proxy_for

    def get(self, name: str) -> Any:
        return self._values[name]

    def all(self) -> dict[str, Any]:
        return dict(self._values)

    def save(self, values: dict[str, Any]) -> None:
        """Put sections (validated by the caller) in force here and store them, all or none:
        a value the engine cannot use (`UnusableSetting`), or a failed write, leaves every
        section as it was. One transaction, so another instance reloading meanwhile never reads
        half of a change."""
        with self._lock:
            before = {name: self._values[name] for name in values}
            try:
                self._put_in_force(values)
                kv_set_many(self._db, {PREFIX + name: value for name, value in values.items()})
            except BaseException:
                self._put_in_force(before)  # in force until now, so usable
                raise

    def load(self) -> None:
        """Every section from the database, read in one query before any is put in force, so
        a reload after another instance's change is applied whole rather than section by
        section between round trips. A stored value that no longer applies is logged and the
        default used: one bad row never stops the server."""
        stored = kv_get_many(self._db, {PREFIX + name: DEFAULTS[name] for name in SECTIONS})
        with self._lock:
            for name in SECTIONS:
                try:
                    self._put_in_force({name: stored[PREFIX + name]})
                except UnusableSetting as exc:
                    log.warning("stored setting %s is not usable (%s); using the default", name, exc)
                    self._put_in_force({name: DEFAULTS[name]})

    def _put_in_force(self, values: dict[str, Any]) -> None:
        # The value first: the shaping applier reads the three sections it combines from it.
        for name, value in values.items():
            self._values[name] = value
            try:
                self._appliers[name](value)
            except (ValueError, TypeError, KeyError) as exc:
                raise UnusableSetting(name, str(exc)) from exc

    # -- what each section changes --------------------------------------------------------
    def _apply_shaping(self) -> None:
        prompt, thinking = self._values["systemPrompt"], self._values["thinkingBudget"]
        self._router.shaping = Shaping(
            SystemPrompt(bool(prompt.get("enabled")), str(prompt.get("prompt") or "")),
            ThinkingBudget(thinking.get("mode") or "passthrough", int(thinking.get("customBudget", 10240)),
                           thinking.get("effortLevel") or "medium"),
            PayloadRules.from_config(self._values["payloadRules"]),
        )

    def _apply_combo_defaults(self, value: dict[str, Any]) -> None:
        most = value.get("maxAttempts")
        self._router.max_combo_attempts = int(most) if most else None

    def _apply_proxy(self, value: dict[str, Any]) -> None:
        for config in (value.get("global"), *(value.get("providers") or {}).values()):
            url = proxy_url(config)  # raises on a malformed stored entry, before anything changes
            if url is not None and url.startswith("socks5") and importlib.util.find_spec("socksio") is None:
                raise ValueError("a SOCKS5 proxy needs the socksio package (pip install 'httpx[socks]')")
        self._pool.reset()

    def proxy_for(self, connection_id: str, name: str | None = None, provider: str | None = None) -> str | None:
        """The proxy a provider connection goes through: its own (by id, name or provider
        type, in that order), else the global one, else none (direct). ``name`` and
        ``provider`` come from the caller for a connection that is not saved (validated before
        it is created); a saved one named by its id alone is looked up."""
        value = self._values["proxy"]
        providers = value.get("providers") or {}
        if name is None and provider is None:
            connection = self._registry.snapshot.connections.get(connection_id)
            if connection is not None:
                name, provider = connection.name, connection.provider
        for key in (connection_id, name, provider):
            if key is not None and key in providers:
                return proxy_url(providers[key])  # null: this one goes direct
        return proxy_url(value.get("global"))

    def _apply_rate_limit(self, value: dict[str, Any]) -> None:
        rules = tuple(RateRule(int(r["limit"]), int(r.get("windowSeconds") or 60), r.get("apiKeyId") or "*",
                               r.get("model") or "*") for r in value.get("rules") or ())
        self._admission.limiter.configure(bool(value.get("enabled")), rules)

    def _apply_budgets(self, value: dict[str, Any]) -> None:
        self._admission.budgets.configure({key: budget_of(entry) for key, entry in value.items()})


def budget_of(entry: dict[str, Any]) -> Budget:
    limits = {}
    for period in PERIODS:
        amount = entry.get(LIMIT_FIELDS[period])
        if amount:
            limits[period] = Decimal(str(amount))
    # A budget stored before resetInterval was refused may still carry it: it never chose anything.
    return Budget(entry["apiKeyId"], limits, float(entry.get("warningThreshold") or 0.8),
                  reset_time=entry.get("resetTime") or "00:00")
