"""Fallback chains in model resolution: after combos, before connection prefixes and aliases."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from omniroute.engine.errors import ModelNotFound
from omniroute.engine.registry import ComboSpec, Connection, Snapshot, chain_entries
from omniroute.engine.resolve import resolve
from omniroute.providers.adapters import adapter_for


def _connection(cid: str, name: str, active: bool = True) -> Connection:
    return Connection(cid, "openai", name, "http://x", None, active, None, 0, adapter_for("openai"))


def _snapshot(chains: dict[str, list[dict[str, Any]]], aliases: dict[str, str] | None = None,
              combos: dict[str, ComboSpec] | None = None) -> Snapshot:
    conns = [_connection("id-a", "a"), _connection("id-b", "b"), _connection("id-c", "c", active=False)]
    return Snapshot(
        MappingProxyType({c.id: c for c in conns}),
        MappingProxyType({c.name: c for c in conns}),
        MappingProxyType(aliases or {}),
        MappingProxyType(combos or {}),
        MappingProxyType({model: chain_entries(chain) for model, chain in chains.items()}),
    )


def test_chain_orders_by_priority_and_skips_disabled_and_inactive() -> None:
    snapshot = _snapshot({"gpt-x": [
        {"provider": "b", "priority": 2},
        {"provider": "id-a", "priority": 1},  # by id
        {"provider": "a", "priority": 0, "enabled": False},
        {"provider": "c", "priority": 0},  # connection paused
        {"provider": "gone", "priority": 0},  # connection deleted
    ]})
    targets = resolve("gpt-x", snapshot).targets
    assert [(t.connection_id, t.model) for t in targets] == [("id-a", "gpt-x"), ("id-b", "gpt-x")]


def test_chain_entry_may_name_the_upstream_model() -> None:
    snapshot = _snapshot({"smart": [{"provider": "a", "model": "gpt-4o"}]})
    assert resolve("smart", snapshot).targets[0].model == "gpt-4o"


def test_combo_wins_over_chain_and_chain_over_connection_prefix() -> None:
    combo = ComboSpec("k", "a/m", "m", "priority", ({"connectionId": "id-b"},))
    snapshot = _snapshot({"a/m": [{"provider": "a"}], "b/m": [{"provider": "a"}]}, combos={"a/m": combo})
    assert resolve("a/m", snapshot).combo is combo
    chained = resolve("b/m", snapshot).targets
    assert [(t.connection_id, t.model) for t in chained] == [("id-a", "b/m")]


def test_alias_can_point_at_a_chain_and_an_unusable_chain_falls_through() -> None:
    snapshot = _snapshot({"gpt-x": [{"provider": "a"}], "dead": [{"provider": "c"}]}, aliases={"x": "gpt-x"})
    assert resolve("x", snapshot).targets[0].connection_id == "id-a"
    with pytest.raises(ModelNotFound):
        resolve("dead", snapshot)


def test_close_matches_offer_the_model_under_the_nearest_connections() -> None:
    from types import MappingProxyType

    from omniroute.engine.registry import Connection, Snapshot
    from omniroute.engine.resolve import close_matches
    from omniroute.providers.adapters import adapter_for

    def conn(name: str) -> Connection:
        return Connection(name, "openai", name, "http://x", None, True, None, 0, adapter_for("openai"))

    connections = {c.id: c for c in (conn("mock"), conn("team"))}
    snapshot = Snapshot(MappingProxyType(connections), MappingProxyType(connections),
                        MappingProxyType({"fast": "mock/gpt"}), MappingProxyType({}))
    assert set(close_matches("nosuch/model", snapshot)) == {"mock/model", "team/model", "openai/model"}
    assert close_matches("fsat", snapshot) == ["fast"]
    assert close_matches("moc/gpt-4o", snapshot)[0] == "mock/gpt-4o"
