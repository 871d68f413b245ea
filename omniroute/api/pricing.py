"""Model prices: `/api/pricing` (effective table, user overrides) and `/api/pricing/defaults`.

Prices are USD per 1M tokens. Overrides live in the KeyValue row `pricing_overrides` as
decimal strings (exact), and replace the router's price table at once and at every start.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Body, Request

from omniroute.api.deps import runtime_of
from omniroute.api.management import (
    invalid, read_setting, refuse_config_entry, setting_from_config, write_setting,
)
from omniroute.engine.pricing import DEFAULT_PRICES, PriceTable

if TYPE_CHECKING:
    from omniroute.runtime import Runtime

router = APIRouter(prefix="/api/pricing", tags=["Pricing"])

SETTING = "pricing_overrides"
UNIT = "USD per 1M tokens"
_FIELDS = ("input", "output", "cached_input")


def apply_overrides(runtime: Runtime) -> dict[str, dict[str, str]]:
    """Load the stored overrides into the router (start-up and after each change)."""
    overrides: dict[str, dict[str, str]] = read_setting(runtime.db, SETTING, {}) or {}
    runtime.router.prices = PriceTable(overrides)
    return overrides


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
async def get_pricing(request: Request) -> dict[str, Any]:
    runtime = runtime_of(request)
    return {
        "unit": UNIT,
        "pricing": runtime.router.prices.entries(),
        "overrides": read_setting(runtime.db, SETTING, {}) or {},
        "overridesFromConfig": setting_from_config(runtime.db, SETTING),
    }


@router.post("")
async def set_pricing(
    request: Request,
    payload: dict[str, Any] = Body(examples=[{"gpt-4o": {"input": 2.5, "output": 10}}]),
) -> dict[str, Any]:
    """Merge overrides `{model: {input, output, cached_input}}`; `{model: null}` removes one.
    A partial override keeps the default's other prices."""
    runtime = runtime_of(request)
    refuse_config_entry(setting_from_config(runtime.db, SETTING), "the pricing overrides")
    overrides: dict[str, dict[str, str]] = dict(read_setting(runtime.db, SETTING, {}) or {})
    for model, value in payload.items():
        if not model.strip():
            raise invalid("body", "model names must not be empty")
        if value is None:
            overrides.pop(model, None)
        else:
            overrides[model] = parse_price(model, value)
    write_setting(runtime.db, SETTING, overrides)
    apply_overrides(runtime)
    runtime.config_changed("pricing")
    return {"unit": UNIT, "pricing": runtime.router.prices.entries(), "overrides": overrides}


@router.get("/defaults")
async def default_pricing() -> dict[str, Any]:
    return {"unit": UNIT, "pricing": {key: p.as_dict() for key, p in DEFAULT_PRICES.items()}}
