"""Model prices and exact request cost: one place for every cost OmniRoute shows.

Prices are USD per 1M tokens (input, output, cached input), kept as ``Decimal`` so a cost is
exact and the ``X-OmniRoute-Response-Cost`` header (10 decimals) never shows float noise.

Three layers, searched in order, the first that prices a model wins:

1. the user's overrides (``/api/pricing``, the config file);
2. our own local entries: the demo provider and Ollama models are free;
3. the maintained table ``genai-prices`` ships (``price_source``), with its own matching rules
   and long-context tiers. It is read once per process when first needed (`load_maintained`):
   start-up leaves it to a thread started a moment after the listeners are up; a call that
   needs a price sooner reads it itself, or waits for that thread's read.

In layers 1 and 2 the candidates ``provider/model``, ``model`` and the part after the model's
last ``/`` are tried in that order; each is matched by an exact key, else by the longest
matching key, where a key containing ``*?[`` is a glob and any other key is a prefix ending at
a boundary (``gpt-4o`` covers ``gpt-4o-2024-08-06`` but not ``gpt-4oo``).

A model no layer prices has an unknown cost (``priced_cost`` is None; the UI says "unknown").
The response header still reads ``0.0000000000`` for it, as the OmniRoute API specification
says for unpriced requests.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fnmatch import fnmatchcase
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING

from omniroute.engine.price_names import SOURCE, model_names
from omniroute.engine.targets import Target

if TYPE_CHECKING:
    from omniroute.engine.price_source import MaintainedPrices

_MILLION = Decimal(1_000_000)
_TEN_DECIMALS = Decimal("1e-10")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class ModelPrice:
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None  # None: cached tokens are billed as plain input

    @classmethod
    def of(cls, input: str, output: str, cached_input: str | None = None) -> ModelPrice:
        return cls(
            Decimal(input), Decimal(output), None if cached_input is None else Decimal(cached_input)
        )

    def as_dict(self) -> dict[str, str | None]:
        cached = None if self.cached_input is None else str(self.cached_input)
        return {"input": str(self.input), "output": str(self.output), "cached_input": cached}


_P = ModelPrice.of
FREE = ModelPrice(Decimal(0), Decimal(0), Decimal(0))

# Ours, not a price list: the built-in demo provider and local Ollama models cost nothing.
_LOCAL: dict[str, ModelPrice] = {"demo/*": FREE, "ollama/*": FREE}
LOCAL_PRICES: Mapping[str, ModelPrice] = MappingProxyType(_LOCAL)


class PriceTable:
    """Overrides, then local entries, then the maintained table. Lookups are memoised."""

    __slots__ = ("_cache", "_layers", "_local", "_maintained", "_overrides")

    _CACHE_MAX = 4096

    def __init__(
        self,
        overrides: Mapping[str, ModelPrice | Mapping[str, object]] | None = None,
        local: Mapping[str, ModelPrice] = LOCAL_PRICES,
        maintained: MaintainedPrices | None = None,
    ) -> None:
        self._maintained = maintained  # None: the process's table (`load_maintained`), when first needed
        self._local = _Layer(local)
        # A partial override keeps the other prices of the entry it corrects, which may come
        # from the maintained table: merged when first needed (`layers`), not when built.
        self._overrides = dict(overrides or {})
        self._layers: tuple[_Layer, _Layer] | None = None if self._overrides else (_Layer({}), self._local)
        self._cache: dict[tuple[str, str], ModelPrice | None] = {}

    @property
    def source(self) -> str:
        return SOURCE

    @property
    def maintained(self) -> MaintainedPrices:
        found = self._maintained
        if found is None:
            found = self._maintained = load_maintained()
        return found

    @property
    def layers(self) -> tuple[_Layer, _Layer]:
        """The overrides (merged onto the entries they correct), then the local entries."""
        layers = self._layers
        if layers is None:
            plain = PriceTable(local=self._local.prices, maintained=self.maintained)
            merged = {k: _coerce(v, None if isinstance(v, ModelPrice) else plain.lookup(k))
                      for k, v in self._overrides.items()}
            layers = self._layers = (_Layer(merged), self._local)
        return layers

    def lookup(self, model: str, provider: str = "") -> ModelPrice | None:
        """The rates a model is billed at (a tiered entry's first tier)."""
        cache_key = (model, provider)
        cache = self._cache
        if cache_key in cache:
            return cache[cache_key]
        found = self._own(model, provider)
        if found is None:
            rates = self.maintained.rates(model, provider)
            if rates is not None:
                found = ModelPrice(rates.input, rates.output, rates.cached_input)
        if len(cache) >= self._CACHE_MAX:
            cache.clear()
        cache[cache_key] = found
        return found

    def priced_cost(
        self, model: str, provider: str, tokens_in: int, tokens_out: int, cached_in: int = 0
    ) -> Decimal | None:
        """Exact USD cost, or None when no layer prices the model. ``tokens_in`` is the whole
        prompt, cached part included (the IR's usage convention); ``cached_in`` of it is billed
        at the cached-input price."""
        own = self._own(model, provider)
        if own is None:
            return self.maintained.cost(model, provider, tokens_in, tokens_out, cached_in)
        cached = min(max(cached_in, 0), max(tokens_in, 0))
        fresh = max(tokens_in, 0) - cached
        cached_price = own.input if own.cached_input is None else own.cached_input
        total = fresh * own.input + cached * cached_price + max(tokens_out, 0) * own.output
        return total / _MILLION

    def cost(
        self, model: str, provider: str, tokens_in: int, tokens_out: int, cached_in: int = 0
    ) -> Decimal:
        """``priced_cost`` with 0 for an unpriced model (the response header's convention)."""
        value = self.priced_cost(model, provider, tokens_in, tokens_out, cached_in)
        return Decimal(0) if value is None else value

    def blended(self, model: str, provider: str = "") -> Decimal | None:
        """One comparable number per model (60% input + 40% output, as the OmniRoute API specification's auto
        scoring blends them); ``None`` when unpriced."""
        price = self.lookup(model, provider)
        if price is None:
            return None
        return (price.input * 6 + price.output * 4) / 10

    def price_of(self, target: Target) -> Decimal | None:
        """Adapter for ``order_targets(..., price_of=table.price_of)``."""
        return self.blended(target.model, target.provider)

    def entries(self) -> dict[str, dict[str, str | None]]:
        """The effective table (maintained, local, then overrides) for ``/api/pricing``."""
        out = defaults()
        out.update((key, price.as_dict()) for key, price in self.layers[0].prices.items())
        return out

    def _own(self, model: str, provider: str) -> ModelPrice | None:
        name = model.lower()
        candidates = [f"{provider.lower()}/{name}"] if provider else []
        candidates.extend(model_names(name))
        for layer in self.layers:
            found = layer.match(candidates)
            if found is not None:
                return found
        return None


_LOADING = threading.Lock()


def load_maintained() -> MaintainedPrices:
    """The maintained table, read once per process; a caller that comes while another thread
    reads it waits for that read instead of starting its own."""
    with _LOADING:
        return _read_maintained()


@cache
def _read_maintained() -> MaintainedPrices:
    # genai-prices and its table are imported here, when first needed, not at start-up.
    from omniroute.engine.price_source import MaintainedPrices

    return MaintainedPrices()


def defaults() -> dict[str, dict[str, str | None]]:
    """The table without overrides: the maintained entries and our local ones."""
    out = {key: ModelPrice(r.input, r.output, r.cached_input).as_dict()
           for key, r in load_maintained().entries().items()}
    out.update((key, price.as_dict()) for key, price in LOCAL_PRICES.items())
    return out


def cost(
    model: str,
    provider: str,
    tokens_in: int,
    tokens_out: int,
    cached_in: int = 0,
    table: PriceTable | None = None,
) -> Decimal:
    """``PriceTable.cost`` on the given table (no overrides if none is given)."""
    return (table or PriceTable()).cost(model, provider, tokens_in, tokens_out, cached_in)


def format_cost(value: Decimal) -> str:
    """Fixed 10 decimals for ``X-OmniRoute-Response-Cost``: ``Decimal("0.00012345")`` →
    ``"0.0001234500"``; half-up rounding beyond the 10th decimal."""
    return f"{value.quantize(_TEN_DECIMALS, rounding=ROUND_HALF_UP):f}"


class _Layer:
    __slots__ = ("_patterns", "prices")

    def __init__(self, prices: Mapping[str, ModelPrice]) -> None:
        self.prices = {key.lower(): value for key, value in prices.items()}
        # Longest first, so the first hit is the most specific one.
        self._patterns = sorted(self.prices.items(), key=lambda item: -len(item[0]))

    def match(self, candidates: list[str]) -> ModelPrice | None:
        for name in candidates:
            exact = self.prices.get(name)
            if exact is not None:
                return exact
            for key, price in self._patterns:
                if _matches(key, name):
                    return price
        return None


def _matches(key: str, name: str) -> bool:
    if _GLOB_CHARS.isdisjoint(key):
        if not name.startswith(key):
            return False
        # Prefix must end at a boundary: "o3" covers "o3-2025-04-16", not "o3x".
        return len(name) == len(key) or not name[len(key)].isalnum()
    return fnmatchcase(name, key)


def _coerce(value: ModelPrice | Mapping[str, object], base: ModelPrice | None) -> ModelPrice:
    """An override is a full ``ModelPrice`` or a partial mapping merged onto the default."""
    if isinstance(value, ModelPrice):
        return value
    start = base or ModelPrice(Decimal(0), Decimal(0))

    def pick(names: tuple[str, ...], current: Decimal | None) -> Decimal | None:
        for name in names:
            raw = value.get(name)
            if raw is not None:
                return Decimal(str(raw))
        return current

    return ModelPrice(
        pick(("input",), start.input) or Decimal(0),
        pick(("output",), start.output) or Decimal(0),
        pick(("cached_input", "cachedInput"), start.cached_input),
    )
