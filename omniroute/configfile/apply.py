"""Apply a validated config file to the database in one transaction, idempotently.

Every row the file declares is marked `from_config` (the API then refuses to change it); a row
the API created under the same name is adopted; a marked row the file no longer declares is
removed. Checks that need the database (a combo node naming a connection the API created, an
alias cycle through the API's aliases) run inside the transaction, which is rolled back with
every problem listed if any fails, so a bad file changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlmodel import Session, delete, select

from omniroute.api import aliases as aliases_api
from omniroute.api import combos as combos_api
from omniroute.api.pricing import SETTING as PRICING_KEY
from omniroute.api.pricing import parse_price
from omniroute.api.resilience import SETTING as RESILIENCE_KEY
from omniroute.api.resilience import patched_config
from omniroute.bridge.bypass import BYPASS_KEY, combined_patterns
from omniroute.configfile.load import ConfigFileError, LoadedConfig, Loc, Problem
from omniroute.db.database import Database
from omniroute.db.tables import (
    AgentMapping,
    ApiKey,
    Combo,
    FallbackChain,
    KeyValue,
    ModelAlias,
    ProviderConnection,
    utcnow,
)
from omniroute.engine.limits import TIMING_KEYS
from omniroute.engine.resilience import ResilienceConfig
from omniroute.providers.adapters import adapter_for
from omniroute.providers.clouds import SETTING_KEYS, apply_settings
from omniroute.providers.secrets import SecretBox, SecretBoxError, preview

KEY_REF = "api_key_ref"  # ProviderConnection.extra: the `env:NAME` the key came from (export)
CONFIG_KEY_PREVIEW = "(config file)"


@dataclass
class Applied:
    """What changed: which runtime parts reload, which connections' HTTP clients are dropped."""

    # registry, mappings, user-agents, bypass, pricing, resilience, keys
    kinds: set[str] = field(default_factory=set)
    connections: set[str] = field(default_factory=set)


class _Run:
    def __init__(self, session: Session, secrets: SecretBox, loaded: LoadedConfig) -> None:
        self.session, self.secrets, self.loaded = session, secrets, loaded
        self.config = loaded.config
        self.problems: list[Problem] = []
        self.applied = Applied()

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(self.loaded.problem(loc, message))

    def rule(self, loc: Loc, check: Callable[..., Any], *args: Any) -> Any:
        """Run one of the API's checks; its 422 becomes a problem at ``loc`` (None returned)."""
        try:
            return check(*args)
        except RequestValidationError as exc:
            for error in exc.errors():
                self.problem(loc, str(error.get("msg", "invalid")))
        return None

    def set(self, row: Any, kind: str, **values: Any) -> None:
        """Set fields; only a real difference marks the row changed (a re-apply writes nothing)."""
        changed = not row.from_config
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                changed = True
        if changed:
            row.from_config = True
            if hasattr(row, "updated_at"):
                row.updated_at = utcnow()
            self.session.add(row)
            self.applied.kinds.add(kind)
            if isinstance(row, ProviderConnection):
                self.applied.connections.add(row.id)

    def same_key(self, row: ProviderConnection, key: str) -> bool:
        try:
            return bool(row.api_key_encrypted) and self.secrets.decrypt(row.api_key_encrypted) == key
        except SecretBoxError:  # the key file was replaced: the file's key is stored anew
            return False

    def drop_unlisted(self, rows: Iterable[Any], keep: Callable[[Any], bool], kind: str) -> None:
        for row in rows:
            if row.from_config and not keep(row):
                self.session.delete(row)
                self.applied.kinds.add(kind)
                if isinstance(row, ProviderConnection):
                    self.applied.connections.add(row.id)

    # -- sections, in dependency order -------------------------------------------------------
    def providers(self) -> None:
        rows = self.session.exec(select(ProviderConnection)).all()
        names = {p.name for p in self.config.providers}
        self.drop_unlisted(rows, lambda r: r.name in names, "registry")
        by_name = {r.name: r for r in rows}
        for entry in self.config.providers:
            row = by_name.get(entry.name) or ProviderConnection(name=entry.name, provider=entry.provider, url="")
            extra = {k: v for k, v in (row.extra or {}).items() if k not in (*TIMING_KEYS, KEY_REF, *SETTING_KEYS)}
            extra.update((key, value) for key in TIMING_KEYS if (value := getattr(entry, key)))
            extra = apply_settings(extra, {k: getattr(entry, k) for k in SETTING_KEYS}, self.secrets.encrypt)
            key = self.loaded.api_keys.get(entry.name)
            if key is None:
                encrypted = key_preview = None
            else:
                extra[KEY_REF] = entry.apiKey
                encrypted = row.api_key_encrypted if self.same_key(row, key) else self.secrets.encrypt(key)
                key_preview = preview(key)
            self.set(row, "registry", provider=entry.provider,
                     url=entry.url or adapter_for(entry.provider).default_url,
                     is_active=entry.isActive, max_concurrent=entry.maxConcurrent,
                     priority=entry.priority, extra=extra, api_key_encrypted=encrypted,
                     key_preview=key_preview)
        self.session.flush()

    def combos(self) -> None:
        rows = self.session.exec(select(Combo)).all()
        names = {c.name for c in self.config.combos}
        self.drop_unlisted(rows, lambda r: r.name in names, "registry")
        by_name = {r.name: r for r in rows}
        api_aliases = {a.alias for a in self.session.exec(select(ModelAlias)).all() if not a.from_config}
        for index, entry in enumerate(self.config.combos):
            if entry.name in api_aliases:
                self.problem(("combos", index, "name"), f"{entry.name!r} is already a model alias "
                             "(created through the API); delete it or pick another name")
                continue
            nodes = [combos_api.ComboNode(connectionId=n.connection, weight=n.weight,
                                          priority=n.priority, model=n.model) for n in entry.nodes]
            stored = self.rule(("combos", index, "nodes"), combos_api.stored_nodes, self.session, nodes)
            if stored is None:
                continue
            row = by_name.get(entry.name) or Combo(name=entry.name, model=entry.model)
            self.set(row, "registry", model=entry.model, strategy=entry.strategy, nodes=stored)

    def aliases(self) -> None:
        rows = self.session.exec(select(ModelAlias)).all()
        self.drop_unlisted(rows, lambda r: r.alias in self.config.aliases, "registry")
        combo_names = {c.name for c in self.session.exec(select(Combo)).all()}
        by_alias = {r.alias: r for r in rows}
        targets = {r.alias: r.target for r in rows if not r.from_config}
        targets.update(self.config.aliases)
        for alias, target in self.config.aliases.items():
            if alias == target or alias in combo_names:
                why = "an alias cannot name itself" if alias == target else (
                    f"{alias!r} is a combo name (combos resolve first)")
                self.problem(("aliases", alias), why)
                continue
            others = {a: t for a, t in targets.items() if a != alias}
            if self.rule(("aliases", alias), _no_cycle, others, alias, target):
                row = by_alias.get(alias) or ModelAlias(alias=alias, target=target)
                self.set(row, "registry", target=target)

    def fallbacks(self) -> None:
        rows = self.session.exec(select(FallbackChain)).all()
        models = {c.model for c in self.config.fallbacks}
        self.drop_unlisted(rows, lambda r: r.model in models, "registry")
        combo_names = {c.name for c in self.session.exec(select(Combo)).all()}
        by_model = {r.model: r for r in rows}
        for index, entry in enumerate(self.config.fallbacks):
            if entry.model in combo_names:
                self.problem(("fallbacks", index, "model"),
                             f"{entry.model!r} is a combo name; a chain for it would never be used")
                continue
            steps = self.rule(("fallbacks", index, "chain"), aliases_api.stored_chain_steps, self.session, entry.chain)
            if steps is not None:
                row = by_model.get(entry.model) or FallbackChain(model=entry.model)
                self.set(row, "registry", chain=steps)

    def user_agents(self) -> None:
        from omniroute.configfile.user_agents import (
            apply_user_agents,  # it types its argument as _Run
        )

        apply_user_agents(self)

    def agent_mappings(self) -> None:
        rows = self.session.exec(select(AgentMapping).order_by(AgentMapping.id)).all()
        current: dict[str, list[AgentMapping]] = {}
        for row in rows:
            current.setdefault(row.agent_id, []).append(row)
        for agent, agent_rows in current.items():
            if agent not in self.config.agents and any(r.from_config for r in agent_rows):
                self.session.exec(delete(AgentMapping).where(AgentMapping.agent_id == agent))
                self.applied.kinds.add("mappings")
        for agent, entry in self.config.agents.items():
            wanted = [(m.source, m.target) for m in entry.mappings]
            have = current.get(agent, [])
            if [(r.source_model, r.target_model) for r in have] == wanted and all(r.from_config for r in have):
                continue
            self.session.exec(delete(AgentMapping).where(AgentMapping.agent_id == agent))
            self.session.add_all(AgentMapping(agent_id=agent, source_model=s, target_model=t, from_config=True)
                                 for s, t in wanted)
            self.applied.kinds.add("mappings")

    def setting(self, key: str, value: Any, kind: str) -> None:
        """A KeyValue setting the file owns whole (None: the file does not declare it)."""
        row = self.session.get(KeyValue, key)
        if value is None:
            if row is not None and row.from_config:
                self.session.delete(row)
                self.applied.kinds.add(kind)
            return
        self.set(row or KeyValue(key=key), kind, value=value)

    def settings(self) -> None:
        config = self.config
        bypass = None
        if config.bypass is not None:
            bypass = [p for p, source in combined_patterns(config.bypass) if source == "user"]
        self.setting(BYPASS_KEY, bypass, "bypass")
        pricing = None
        if config.pricing is not None:
            pricing = {}
            for model, price in config.pricing.items():
                got = self.rule(("pricing", model), parse_price, model, price.model_dump(exclude_none=True))
                if got is not None:
                    pricing[model] = got
        self.setting(PRICING_KEY, pricing, "pricing")
        resilience = config.settings.resilience
        if resilience is not None:
            self.rule(("settings", "resilience"), patched_config, ResilienceConfig(), resilience)
        self.setting(RESILIENCE_KEY, resilience.model_dump(exclude_defaults=True) if resilience else None,
                     "resilience")

    def api_keys(self) -> None:
        rows = self.session.exec(select(ApiKey)).all()
        hashes = {k.keyHash for k in self.config.apiKeys}
        self.drop_unlisted(rows, lambda r: r.key_hash in hashes, "keys")
        by_hash = {r.key_hash: r for r in rows}
        for entry in self.config.apiKeys:
            row = by_hash.get(entry.keyHash) or ApiKey(key_hash=entry.keyHash, key_preview="")
            self.set(row, "keys", label=entry.label, scope=entry.scope, is_active=entry.isActive,
                     key_preview=entry.keyPreview or CONFIG_KEY_PREVIEW)


def _no_cycle(aliases: dict[str, str], alias: str, target: str) -> bool:
    aliases_api.check_alias_cycle(aliases, alias, target)  # raises the API's 422 on a cycle
    return True


def apply(db: Database, secrets: SecretBox, loaded: LoadedConfig) -> Applied:
    """Apply ``loaded`` in one transaction; ConfigFileError (nothing changed) on any problem."""
    with db.session() as session:
        run = _Run(session, secrets, loaded)
        for section in (run.providers, run.combos, run.aliases, run.fallbacks, run.user_agents,
                        run.agent_mappings, run.settings, run.api_keys):
            section()
        if run.problems:
            session.rollback()
            raise ConfigFileError(loaded.path, sorted(run.problems, key=lambda p: p.line))
        session.commit()
    return run.applied
