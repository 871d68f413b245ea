"""Model prices: `/api/pricing` (effective table, user overrides) and `/api/pricing/defaults`.

The defaults are the maintained table `genai-prices` ships (`engine/price_source.py`) plus our
free local entries (demo, Ollama); `source` names the package and version they come from.

Prices are USD per 1M tokens. Overrides live in the KeyValue row `pricing_overrides` as
decimal strings (exact), and replace the router's price table at once and at every start.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Body

from omniroute.api.deps import RouterDep, StoreDep, SyncDep
from omniroute.api.management import invalid, refuse_config_entry
from omniroute.engine.price_names import SOURCE
from omniroute.engine.pricing import PriceTable, defaults
from omniroute.engine.router import Router

router = APIRouter(prefix="/api/pricing", tags=["Pricing"])

SETTING = "pricing_overrides"
UNIT = "USD per 1M tokens"
_FIELDS = ("input", "output", "cached_input")


def apply_overrides(router: Router, overrides: dict[str, dict[str, str]]) -> None:
    """The stored overrides into the router (start-up and after each change)."""
    router.prices = PriceTable(overrides)


def parse_price(model: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise invalid(
            model, 'must be an object like {"input": 2.5, "output": 10, "cached_input": 1.25}'
        )
    unknown = set(value) - set(_FIELDS) - {"cachedInput"}
    if unknown:
        raise invalid(f"{model}.{sorted(unknown)[0]}", f"unknown field; use {', '.join(_FIELDS)}")
    price = {}
    for name in (*_FIELDS, "cachedInput"):
        raw = value.get(name)
        if raw is None:
            continue
        try:
            number = Decimal(str(raw))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number < 0 or isinstance(raw, bool):
            raise invalid(f"{model}.{name}", f"must be a number >= 0 ({UNIT}), got {raw!r}")
        price["cached_input" if name == "cachedInput" else name] = str(number)
    if not price:
        raise invalid(model, f"give at least one of {', '.join(_FIELDS)}")
    return price


@router.get("")
async def get_pricing(router: RouterDep, store: StoreDep) -> dict[str, Any]:
    return {
        "unit": UNIT,
        "source": SOURCE,
        "pricing": router.prices.entries(),
        "overrides": await store.get_setting(SETTING, {}) or {},
        "overridesFromConfig": await store.setting_from_config(SETTING),
    }


@router.post("")
async def set_pricing(
    router: RouterDep,
    store: StoreDep,
    sync: SyncDep,
    payload: dict[str, Any] = Body(examples=[{"gpt-4o": {"input": 2.5, "output": 10}}]),
) -> dict[str, Any]:
    """Merge overrides `{model: {input, output, cached_input}}`; `{model: null}` removes one.
    A partial override keeps the default's other prices."""
    refuse_config_entry(await store.setting_from_config(SETTING), "the pricing overrides")
    overrides: dict[str, dict[str, str]] = dict(await store.get_setting(SETTING, {}) or {})
    for model, value in payload.items():
        if not model.strip():
            raise invalid("body", "model names must not be empty")
        if value is None:
            overrides.pop(model, None)
        else:
            overrides[model] = parse_price(model, value)
    await store.set_setting(SETTING, overrides)
    apply_overrides(router, overrides)
    sync.changed("pricing")
    return {"unit": UNIT, "pricing": router.prices.entries(), "overrides": overrides}


@router.get("/defaults")
async def default_pricing() -> dict[str, Any]:
    return {"unit": UNIT, "source": SOURCE, "pricing": defaults()}


@router.get("/models")
async def pricing_by_model(router: RouterDep, store: StoreDep) -> dict[str, Any]:
    """The effective table as one entry per model, saying where each price comes from."""
    overrides = await store.get_setting(SETTING, {}) or {}
    models = [{"model": model, **price, "source": "override" if model in overrides else "default"}
              for model, price in sorted(router.prices.entries().items())]
    return {"unit": UNIT, "models": models}
