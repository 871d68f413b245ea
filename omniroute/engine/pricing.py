"""Model prices and exact request cost.

Prices are USD per 1M tokens (input, output, cached input), kept as ``Decimal`` so a cost is
exact and the ``X-OmniRoute-Response-Cost`` header (10 decimals) never shows float noise.

Matching, for a request on ``provider`` with ``model`` (user overrides searched first, then
the defaults; in each layer the candidates ``provider/model``, ``model`` and the part after the
model's last ``/`` are tried in that order, and the first candidate that matches wins):

1. an exact key;
2. else the longest matching key, where a key containing ``*?[`` is a glob and any other key
   is a prefix ending at a boundary (``gpt-4o`` covers ``gpt-4o-2024-08-06`` but not
   ``gpt-4oo``; the longer ``gpt-4o-mini`` wins for the mini).

Unknown models cost 0 (the header then reads ``0.0000000000``, as the OmniRoute API specification says for
unpriced requests). Defaults are list prices at the time of writing; users correct them
through ``/api/pricing`` overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
import re
from fnmatch import fnmatchcase
from types import MappingProxyType

from omniroute.engine.targets import Target

_MILLION = Decimal(1_000_000)
# A Bedrock model id or inference profile: optional geography, vendor, then the vendor's model.
_BEDROCK_ID = re.compile(r"^(?:[a-z]{2,4}\.)?(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|writer)\.(.+)$")
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

_DEFAULTS: dict[str, ModelPrice] = {
    # OpenAI
    "gpt-4o": _P("2.50", "10.00", "1.25"),
    "gpt-4o-mini": _P("0.15", "0.60", "0.075"),
    "gpt-4.1": _P("2.00", "8.00", "0.50"),
    "gpt-4.1-mini": _P("0.40", "1.60", "0.10"),
    "gpt-4.1-nano": _P("0.10", "0.40", "0.025"),
    "gpt-5": _P("1.25", "10.00", "0.125"),
    "gpt-5-mini": _P("0.25", "2.00", "0.025"),
    "gpt-5-nano": _P("0.05", "0.40", "0.005"),
    "o1": _P("15.00", "60.00", "7.50"),
    "o3": _P("2.00", "8.00", "0.50"),
    "o3-pro": _P("20.00", "80.00"),
    "o3-mini": _P("1.10", "4.40", "0.55"),
    "o4-mini": _P("1.10", "4.40", "0.275"),
    # Anthropic (cache reads at 10% of input)
    "claude-3-haiku": _P("0.25", "1.25", "0.03"),
    "claude-3-opus": _P("15.00", "75.00", "1.50"),
    "claude-3-5-sonnet": _P("3.00", "15.00", "0.30"),
    "claude-3-5-haiku": _P("0.80", "4.00", "0.08"),
    "claude-3-7-sonnet": _P("3.00", "15.00", "0.30"),
    "claude-sonnet-4": _P("3.00", "15.00", "0.30"),
    "claude-sonnet-4-5": _P("3.00", "15.00", "0.30"),
    "claude-opus-4": _P("15.00", "75.00", "1.50"),
    "claude-opus-4-1": _P("15.00", "75.00", "1.50"),
    "claude-opus-4-5": _P("5.00", "25.00", "0.50"),
    "claude-haiku-4-5": _P("1.00", "5.00", "0.10"),
    # Google
    "gemini-2.0-flash": _P("0.10", "0.40", "0.025"),
    "gemini-2.0-flash-lite": _P("0.075", "0.30"),
    "gemini-2.5-pro": _P("1.25", "10.00", "0.125"),
    "gemini-2.5-flash": _P("0.30", "2.50", "0.03"),
    "gemini-2.5-flash-lite": _P("0.10", "0.40", "0.01"),
    # DeepSeek
    "deepseek-chat": _P("0.27", "1.10", "0.07"),
    "deepseek-reasoner": _P("0.55", "2.19", "0.14"),
    # Llama via Groq (model ids as Groq names them)
    "llama-3.1-8b-instant": _P("0.05", "0.08"),
    "llama-3.3-70b-versatile": _P("0.59", "0.79"),
    "meta-llama/llama-4-scout-17b-16e-instruct": _P("0.11", "0.34"),
    "meta-llama/llama-4-maverick-17b-128e-instruct": _P("0.20", "0.60"),
    # Mistral
    "mistral-large": _P("2.00", "6.00"),
    "mistral-small": _P("0.10", "0.30"),
    "codestral": _P("0.30", "0.90"),
    # Free: the built-in demo provider and local Ollama models
    "demo/*": FREE,
    "ollama/*": FREE,
}
DEFAULT_PRICES: Mapping[str, ModelPrice] = MappingProxyType(_DEFAULTS)


class PriceTable:
    """Defaults with user overrides on top. Lookups are memoised per (model, provider)."""

    __slots__ = ("_layers", "_cache")

    _CACHE_MAX = 4096

    def __init__(
        self,
        overrides: Mapping[str, ModelPrice | Mapping[str, object]] | None = None,
        defaults: Mapping[str, ModelPrice] = DEFAULT_PRICES,
    ) -> None:
        merged = {k: _coerce(v, defaults.get(k)) for k, v in (overrides or {}).items()}
        self._layers = (_Layer(merged), _Layer(defaults))
        self._cache: dict[tuple[str, str], ModelPrice | None] = {}

    def lookup(self, model: str, provider: str = "") -> ModelPrice | None:
        cache_key = (model, provider)
        try:
            return self._cache[cache_key]
        except KeyError:
            pass
        name = model.lower()
        candidates = [f"{provider.lower()}/{name}"] if provider else []
        candidates.append(name)
        if "/" in name:
            candidates.append(name.rsplit("/", 1)[1])
        bare = _BEDROCK_ID.match(candidates[-1])
        if bare is not None:  # Bedrock ids: "us.anthropic.claude-sonnet-4-5-…-v1:0" is priced as claude-…
            candidates.append(bare.group(1))
        found = None
        for layer in self._layers:
            found = layer.match(candidates)
            if found is not None:
                break
        if len(self._cache) >= self._CACHE_MAX:
            self._cache.clear()
        self._cache[cache_key] = found
        return found

    def cost(
        self, model: str, provider: str, tokens_in: int, tokens_out: int, cached_in: int = 0
    ) -> Decimal:
        """Exact USD cost. ``tokens_in`` is the whole prompt, cached part included (the IR's
        usage convention); ``cached_in`` of it is billed at the cached-input price."""
        price = self.lookup(model, provider)
        if price is None:
            return Decimal(0)
        cached = min(max(cached_in, 0), max(tokens_in, 0))
        fresh = max(tokens_in, 0) - cached
        cached_price = price.input if price.cached_input is None else price.cached_input
        total = fresh * price.input + cached * cached_price + max(tokens_out, 0) * price.output
        return total / _MILLION

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
        """The effective table (defaults, then overrides) for ``/api/pricing``."""
        out = {key: price.as_dict() for key, price in self._layers[1].prices.items()}
        out.update((key, price.as_dict()) for key, price in self._layers[0].prices.items())
        return out


def cost(
    model: str,
    provider: str,
    tokens_in: int,
    tokens_out: int,
    cached_in: int = 0,
    table: PriceTable | None = None,
) -> Decimal:
    """``PriceTable.cost`` on the given table (defaults only if none is given)."""
    return (table or PriceTable()).cost(model, provider, tokens_in, tokens_out, cached_in)


def format_cost(value: Decimal) -> str:
    """Fixed 10 decimals for ``X-OmniRoute-Response-Cost``: ``Decimal("0.00012345")`` →
    ``"0.0001234500"``; half-up rounding beyond the 10th decimal."""
    return f"{value.quantize(_TEN_DECIMALS, rounding=ROUND_HALF_UP):f}"


class _Layer:
    __slots__ = ("prices", "_patterns")

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
