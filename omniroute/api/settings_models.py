"""Request bodies of the routing settings (`/api/settings/...`, `/api/rate-limit`,
`/api/usage/budget`), with the OmniRoute API specification's names. Unknown fields are refused
(422 naming them): a setting that would be stored and change nothing is not accepted."""

from __future__ import annotations

import importlib.util
import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from omniroute.engine.ip_filter import parse_entry
from omniroute.engine.payload_rules import protocol_name
from omniroute.engine.request_shaping import EFFORT_BUDGETS, MAX_BUDGET, THINKING_MODES
from omniroute.engine.strategies import validate_strategy

NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _protocol(value: str | None) -> str | None:
    if value is not None:
        protocol_name(value)  # ValueError names the accepted protocols
    return value


def _param_path(value: str) -> str:
    if any(not part for part in value.split(".")):
        raise ValueError(f"{value!r} is not a dot path (e.g. generationConfig.thinkingConfig.thinkingBudget)")
    return value


ParamPath = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_param_path)]


class ModelSpecIn(Strict):
    name: NonEmpty
    protocol: Annotated[str | None, Field(default=None, min_length=1), AfterValidator(_protocol)] = None


class MutationRuleIn(Strict):
    models: list[ModelSpecIn] = Field(min_length=1, max_length=100)
    params: dict[ParamPath, Any] = Field(min_length=1, max_length=100)


class FilterRuleIn(Strict):
    models: list[ModelSpecIn] = Field(min_length=1, max_length=100)
    params: list[ParamPath] = Field(min_length=1, max_length=100)


Rules = Annotated[list[MutationRuleIn], Field(max_length=200)]


class PayloadRulesIn(Strict):
    default: Rules | None = None
    override: Rules | None = None
    filter: Annotated[list[FilterRuleIn], Field(max_length=200)] | None = None
    defaultRaw: Rules | None = None
    default_raw_legacy: Rules | None = Field(default=None, alias="default-raw")

    @model_validator(mode="after")
    def _one_section(self) -> PayloadRulesIn:
        if all(v is None for v in (self.default, self.override, self.filter, self.defaultRaw,
                                   self.default_raw_legacy)):
            raise ValueError("send at least one of default, override, filter, defaultRaw")
        return self

    def merged_into(self, current: dict[str, Any]) -> dict[str, Any]:
        """The stored document: sections sent replace the stored ones; ``default-raw`` is
        ``defaultRaw``."""
        out = dict(current)
        raw = self.defaultRaw if self.defaultRaw is not None else self.default_raw_legacy
        for name, rules in (("default", self.default), ("override", self.override),
                            ("filter", self.filter), ("defaultRaw", raw)):
            if rules is not None:
                out[name] = [r.model_dump(exclude_none=True) for r in rules]
        return out


class SystemPromptIn(Strict):
    prompt: Annotated[str, Field(max_length=100_000)] | None = None
    enabled: bool | None = None


class ThinkingBudgetIn(Strict):
    mode: Literal[THINKING_MODES] | None = None  # type: ignore[valid-type]
    customBudget: Annotated[int, Field(ge=0, le=MAX_BUDGET)] | None = None
    effortLevel: Literal[tuple(EFFORT_BUDGETS)] | None = None  # type: ignore[valid-type]


def _ip(value: str) -> str:
    parse_entry(value)
    return value.strip()


IpEntry = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_ip)]


class TempBanIn(Strict):
    ip: IpEntry | None = None
    durationMs: Annotated[int, Field(ge=1, le=365 * 86_400_000)] = 3_600_000
    reason: Annotated[str, Field(max_length=200)] = "Manual ban"
    removeBan: IpEntry | None = None

    @model_validator(mode="after")
    def _something(self) -> TempBanIn:
        if self.ip is None and self.removeBan is None:
            raise ValueError("tempBan needs ip (to ban) or removeBan (to lift a ban)")
        return self


class IpFilterIn(Strict):
    enabled: bool | None = None
    mode: Literal["blacklist", "whitelist"] | None = None
    blacklist: Annotated[list[IpEntry], Field(max_length=10_000)] | None = None
    whitelist: Annotated[list[IpEntry], Field(max_length=10_000)] | None = None
    addBlacklist: IpEntry | None = None
    removeBlacklist: IpEntry | None = None
    addWhitelist: IpEntry | None = None
    removeWhitelist: IpEntry | None = None
    tempBan: TempBanIn | None = None
    removeBan: IpEntry | None = None


class ComboDefaultsValues(Strict):
    strategy: Annotated[str, AfterValidator(validate_strategy)] | None = None
    maxAttempts: Annotated[int, Field(ge=1, le=100)] | None = None


class ComboDefaultsIn(Strict):
    comboDefaults: ComboDefaultsValues


class RequireLoginIn(Strict):
    requireLogin: bool


def _proxy_type(value: str) -> str:
    if value == "socks5" and importlib.util.find_spec("socksio") is None:
        raise ValueError("SOCKS5 proxies need the socksio package (pip install 'httpx[socks]'); "
                         "use an http or https proxy")
    return value


def _proxy_host(value: str) -> str:
    """A host name or an IP address (IPv6 with or without brackets), stored bare."""
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if ":" in bare:
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            raise ValueError(f"{value!r} is neither a host name nor an IP address") from None
    elif not re.fullmatch(r"[A-Za-z0-9._-]+", bare):
        raise ValueError("a host name or an IP address, e.g. proxy.corp or 10.0.0.5")
    return bare


class ProxyConfigIn(Strict):
    type: Annotated[Literal["http", "https", "socks5"], AfterValidator(_proxy_type)] = "http"
    host: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_proxy_host)]
    port: Annotated[int, Field(ge=1, le=65535)]
    username: Annotated[str, Field(max_length=255)] | None = None
    password: Annotated[str, Field(max_length=1000)] | None = None


class ProxyIn(Strict):
    global_: ProxyConfigIn | None = Field(default=None, alias="global")
    providers: dict[Annotated[str, Field(min_length=1, max_length=200)], ProxyConfigIn | None] | None = None


class ProxyTestIn(Strict):
    proxy: ProxyConfigIn | None = None  # default: the global proxy in force
    url: Annotated[str, Field(max_length=2000, pattern=r"^https?://[\x21-\x7e]+$")] = "https://api64.ipify.org?format=json"


class RateRuleIn(Strict):
    apiKeyId: NonEmpty = "*"
    model: NonEmpty = "*"
    limit: Annotated[int, Field(ge=1, le=1_000_000)]
    windowSeconds: Annotated[int, Field(ge=1, le=86_400)] = 60


class RateLimitIn(Strict):
    enabled: bool | None = None
    rules: Annotated[list[RateRuleIn], Field(max_length=1000)] | None = None


Usd = Annotated[float, Field(ge=0, le=1e9)]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class BudgetIn(Strict):
    apiKeyId: NonEmpty
    dailyLimitUsd: Usd | None = None
    weeklyLimitUsd: Usd | None = None
    monthlyLimitUsd: Usd | None = None
    warningThreshold: Annotated[float, Field(ge=0, le=1)] = 0.8
    resetTime: Annotated[str, Field(pattern=_HHMM.pattern)] = "00:00"

    @model_validator(mode="before")
    @classmethod
    def _no_reset_interval(cls, data: Any) -> Any:
        # The specification leaves the body open; each limit already names its period, so a
        # separate interval would be stored and change nothing (docs/API.md says so).
        if isinstance(data, dict) and "resetInterval" in data:
            raise ValueError("resetInterval is not taken: each limit has its own period (dailyLimitUsd resets "
                             "every day, weeklyLimitUsd every Monday, monthlyLimitUsd on the 1st, at resetTime UTC)")
        return data

    @model_validator(mode="after")
    def _a_limit(self) -> BudgetIn:
        if not any((self.dailyLimitUsd, self.weeklyLimitUsd, self.monthlyLimitUsd)):
            raise ValueError("set at least one of dailyLimitUsd, weeklyLimitUsd, monthlyLimitUsd above 0")
        return self


# GET/PATCH /api/settings: each section and the model that validates it.
SECTION_MODELS: dict[str, type[Strict]] = {
    "systemPrompt": SystemPromptIn,
    "thinkingBudget": ThinkingBudgetIn,
    "payloadRules": PayloadRulesIn,
    "comboDefaults": ComboDefaultsValues,
    "proxy": ProxyIn,
    "ipFilter": IpFilterIn,
    "requireLogin": RequireLoginIn,
    "rateLimit": RateLimitIn,
}
