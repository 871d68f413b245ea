"""The maintained price table: the one pydantic's ``genai-prices`` package ships, read as data.

``genai-prices`` carries the list prices of some thousand models from every major provider,
with the rules that match a model id to its entry (dated ids, aliases, provider prefixes) and
tiered prices (a long-context rate that applies past a prompt size). Its maintainers update it
with each release, so a newer package is newer prices; nothing is fetched at run time.

Our provider types are mapped to its provider ids where they differ (``gemini`` is ``google``,
``bedrock`` is ``aws``); a provider it does not know (a mock, an ``openai-compatible`` server)
searches every provider by the model id, as does a model its provider does not list (Groq's
Llama served through an ``openai``-type connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from genai_prices import Usage
from genai_prices import types as gp
from genai_prices.data_snapshot import DataSnapshot, get_snapshot

from omniroute.engine.price_names import model_names

# Our provider types (and hosts' names) that genai-prices spells another way.
_PROVIDER_IDS = {
    "gemini": "google", "vertex": "google", "google-vertex": "google", "cloudcode": "google",
    "bedrock": "aws", "xai": "x-ai", "grok": "x-ai", "azure-openai": "azure",
    "copilot": "github-copilot", "moonshot": "moonshotai", "zhipu": "zhipuai",
}


@dataclass(frozen=True, slots=True)
class Rates:
    """The base rates of a maintained entry, USD per 1M tokens (the first tier when tiered)."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None


class MaintainedPrices:
    """Lookups and exact costs against the snapshot genai-prices ships."""

    __slots__ = ("_found", "_snapshot")

    def __init__(self, snapshot: DataSnapshot | None = None) -> None:
        self._snapshot = snapshot or get_snapshot()
        self._found: dict[tuple[str, str], _Entry | None] = {}

    def find(self, model: str, provider: str = "") -> _Entry | None:
        key = (model.lower(), provider.lower())
        if key in self._found:
            return self._found[key]
        found = None
        for name in model_names(key[0]):
            hit = self._lookup(name, _PROVIDER_IDS.get(key[1], key[1]) or None)
            if hit is not None:
                found = _Entry(hit[0], hit[1], _flat_rates(hit[1]))
                break
        if len(self._found) > 4096:
            self._found.clear()
        self._found[key] = found
        return found

    def rates(self, model: str, provider: str = "") -> Rates | None:
        found = self.find(model, provider)
        if found is None:
            return None
        price = found.model.get_prices(datetime.now(UTC))
        base_in, base_out = _base(price.input_mtok), _base(price.output_mtok)
        if base_in is None and base_out is None:
            return None  # priced per request or per image only: not a token price we can show
        return Rates(base_in or Decimal(0), base_out or Decimal(0), _base(getattr(price, "cache_read_mtok", None)))

    def cost(self, model: str, provider: str, tokens_in: int, tokens_out: int, cached_in: int) -> Decimal | None:
        """Exact USD, with the package's own rules (tiers included); None when unpriced."""
        found = self.find(model, provider)
        if found is None:
            return None
        flat = found.flat
        if flat is not None:  # most entries: the sum genai-prices makes, without its generic units
            prompt = max(tokens_in, 0)
            cached = min(max(cached_in, 0), prompt)
            rate_in = _at(flat[0], prompt)
            rate_cached = rate_in if flat[2] is None else _at(flat[2], prompt)
            total = (prompt - cached) * rate_in + cached * rate_cached + max(tokens_out, 0) * _at(flat[1], prompt)
            return total / _MILLION
        usage = Usage(input_tokens=max(tokens_in, 0), output_tokens=max(tokens_out, 0),
                      cache_read_tokens=min(max(cached_in, 0), max(tokens_in, 0)))
        try:
            result = found.model.calc_price(usage, found.provider, genai_request_timestamp=datetime.now(UTC))
        except (ValueError, LookupError):  # an entry whose units our counts cannot price
            return None
        return result.total_price

    def entries(self) -> dict[str, Rates]:
        """Every entry as ``provider/model`` with its base rates (for ``/api/pricing``)."""
        now = datetime.now(UTC)
        out: dict[str, Rates] = {}
        for provider in self._snapshot.providers:
            for model in provider.models:
                price = model.get_prices(now)
                base_in, base_out = _base(price.input_mtok), _base(price.output_mtok)
                if base_in is not None or base_out is not None:
                    cached = _base(getattr(price, "cache_read_mtok", None))
                    out[f"{provider.id}/{model.id}"] = Rates(base_in or Decimal(0), base_out or Decimal(0), cached)
        return out

    def _lookup(self, name: str, provider_id: str | None) -> tuple[gp.Provider, gp.ModelInfo] | None:
        for pid in (provider_id, None) if provider_id else (None,):
            try:
                return self._snapshot.find_provider_model(name, None, pid, None)
            except LookupError:
                continue
        for provider in self._snapshot.providers:  # a model only its own host lists (Groq's Llama)
            model = provider.find_model(name)
            if model is not None:
                return provider, model
        return None


_MILLION = Decimal(1_000_000)
# Units genai-prices bills for every call whatever its counts: such entries go through it.
_PER_CALL = ("requests_kcount", "input_text_messages_kcount")
_TokenPrices = tuple[Decimal | gp.TieredPrices, Decimal | gp.TieredPrices, Decimal | gp.TieredPrices | None]


@dataclass(frozen=True, slots=True)
class _Entry:
    provider: gp.Provider
    model: gp.ModelInfo
    flat: _TokenPrices | None


def _flat_rates(model: gp.ModelInfo) -> _TokenPrices | None:
    """The prices of our counts (prompt, output, cache reads) when an entry has one price set
    (no dated or hourly variants): then cost is one sum. Its other units (web searches, audio,
    cache writes) are ones we never count. None sends the entry to genai-prices."""
    if not isinstance(model.prices, gp.ModelPrice):
        return None
    values = [getattr(model.prices, key, None) for key in ("input_mtok", "output_mtok", "cache_read_mtok")]
    if values[0] is None or values[1] is None or any(getattr(model.prices, key, None) for key in _PER_CALL):
        return None
    return values[0], values[1], values[2]


def _at(value: Decimal | gp.TieredPrices, prompt_tokens: int) -> Decimal:
    """A tiered price applies its highest tier the prompt is past, to every token (as
    genai-prices bills it)."""
    if not isinstance(value, gp.TieredPrices):
        return value
    for tier in reversed(value.tiers):
        if prompt_tokens > tier.start:
            return tier.price
    return value.base


def _base(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value.base if isinstance(value, gp.TieredPrices) else Decimal(value)
