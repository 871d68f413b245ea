"""Model resolution: one function turning a requested model name into ordered targets.

Order (first match wins): combo name → fallback chain (`/api/fallback/chains`) →
connection-name prefix (`name/model`) → alias → provider type prefix (`openai/…`). An alias
target goes through the same order again. Pure: it reads a registry snapshot, nothing else.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from omniroute.engine.errors import BadRequest, ModelNotFound
from omniroute.engine.registry import ChainEntry, ComboSpec, Connection, Snapshot
from omniroute.engine.targets import Target

MAX_ALIAS_DEPTH = 8  # an alias may name another alias; a cycle must not hang a request


@dataclass(frozen=True, slots=True)
class Resolution:
    requested: str
    targets: tuple[Target, ...]
    combo: ComboSpec | None = None


def _target(connection: Connection, model: str, weight: int = 1, priority: int = 0) -> Target:
    return Target(connection.id, connection.provider, model, weight, priority)


def _combo_targets(combo: ComboSpec, snapshot: Snapshot) -> tuple[Target, ...]:
    targets = []
    for index, node in enumerate(combo.nodes):
        connection = snapshot.connections.get(str(node.get("connectionId", "")))
        if connection is None or not connection.is_active:
            continue
        targets.append(
            _target(
                connection,
                str(node.get("model") or combo.model),
                int(node.get("weight", 1) or 1),
                int(node.get("priority", index) if node.get("priority") is not None else index),
            )
        )
    return tuple(targets)


def chain_connection(entry: ChainEntry, snapshot: Snapshot) -> Connection | None:
    """A chain entry names a connection by id or by name (ids first: they never change)."""
    return snapshot.connections.get(entry.connection) or snapshot.by_name.get(entry.connection)


def _chain_targets(
    name: str, chain: tuple[ChainEntry, ...], snapshot: Snapshot
) -> tuple[Target, ...]:
    targets = []
    for entry in chain:  # already enabled-only and in priority order
        connection = chain_connection(entry, snapshot)
        if connection is None or not connection.is_active:
            continue  # a deleted or paused connection drops out; the rest still serve
        targets.append(_target(connection, entry.model or name, priority=entry.priority))
    return tuple(targets)


def resolve(model: str, snapshot: Snapshot) -> Resolution:
    # Model names travel in URLs and response headers (x-omniroute-model): a control or
    # non-ASCII character there would split a header or fail to encode. Real names are ASCII.
    if not model.isascii() or not model.isprintable():
        raise BadRequest(f"model name {model!r} must be printable ASCII (no control characters)", param="model")
    name = model
    for _ in range(MAX_ALIAS_DEPTH):
        combo = snapshot.combos.get(name)
        if combo is not None:
            return Resolution(model, _combo_targets(combo, snapshot), combo)
        chain = snapshot.chains.get(name)
        if chain is not None:
            targets = _chain_targets(name, chain, snapshot)
            if targets:
                return Resolution(model, targets)
        prefix, sep, rest = name.partition("/")
        if sep and rest:
            connection = snapshot.by_name.get(prefix)
            if connection is not None and connection.is_active:
                return Resolution(model, (_target(connection, rest),))
        alias_target = snapshot.aliases.get(name)
        if alias_target is None:
            break
        name = alias_target
    prefix, sep, rest = name.partition("/")
    if sep and rest:
        typed = sorted(
            (c for c in snapshot.connections.values() if c.provider == prefix and c.is_active),
            key=lambda c: c.priority,
        )
        if typed:
            return Resolution(model, tuple(_target(c, rest, priority=i) for i, c in enumerate(typed)))
    raise ModelNotFound(_not_found_message(model, snapshot), param="model")


def resolvable_names(snapshot: Snapshot) -> list[str]:
    """Names `resolve` accepts as they are: combos, chains, aliases, and `connection/model` for
    the models a connection lists."""
    names = list(snapshot.combos) + list(snapshot.chains) + list(snapshot.aliases)
    for connection in snapshot.connections.values():
        models = connection.extra.get("models")
        if connection.is_active and isinstance(models, list | tuple):
            names += [f"{connection.name}/{m}" for m in models if isinstance(m, str)]
    return names


def close_matches(model: str, snapshot: Snapshot, n: int = 3) -> list[str]:
    """Resolvable names like ``model``: whole names first, then ``model``'s own model under the
    connections (and provider types) whose names are closest to its prefix, however far: a
    user who typed ``nosuch/gpt-4o`` is better served by ``mycloud/gpt-4o`` than by nothing."""
    found = difflib.get_close_matches(model, resolvable_names(snapshot) + list(snapshot.by_name), n=n, cutoff=0.5)
    prefix, sep, rest = model.partition("/")
    if sep and rest:
        prefixes = [c.name for c in snapshot.connections.values() if c.is_active]
        prefixes += sorted({c.provider for c in snapshot.connections.values() if c.is_active})
        near = difflib.get_close_matches(prefix, list(dict.fromkeys(prefixes)), n=n, cutoff=0.0)
        found += [f"{p}/{rest}" for p in near]
    return list(dict.fromkeys(found))[:n]


def _not_found_message(model: str, snapshot: Snapshot) -> str:
    close = close_matches(model, snapshot)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    if not snapshot.connections:
        hint += " No provider connection exists yet: add one with POST /api/providers."
    else:
        hint += " Use <connection-name>/<model>, a combo name, a fallback chain or an alias."
    return f"model {model!r} is not routed by any combo, connection, alias or provider.{hint}"
