"""How a validated settings request changes the stored section, and how a section is shown.

Pure: the routes (`settings_api`, `settings_proxy`, `limits_api`) read the current value,
merge the request in with these, and hand the result to `RuntimeSettings.save`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omniroute.api.settings_models import (
    IpFilterIn,
    PayloadRulesIn,
    ProxyConfigIn,
    ProxyIn,
    RateLimitIn,
    RequireLoginIn,
    Strict,
)
from omniroute.engine.ip_filter import IpFilterConfig


def merge_fields(current: dict[str, Any], patch: Strict, *, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
    """Fields sent replace the stored ones; ``null`` leaves a field as it is, except for the
    ``nullable`` ones, where it clears the setting."""
    sent = patch.model_dump(exclude_unset=True)
    return {**current, **{k: v for k, v in sent.items() if v is not None or k in nullable}}


def merge_payload_rules(current: dict[str, Any], patch: PayloadRulesIn) -> dict[str, Any]:
    return patch.merged_into(current)


def merge_ip_filter(current: dict[str, Any], patch: IpFilterIn, now: float) -> dict[str, Any]:
    out = {**current}
    for name in ("enabled", "mode", "blacklist", "whitelist"):
        value = getattr(patch, name)
        if value is not None:
            out[name] = list(dict.fromkeys(value)) if isinstance(value, list) else value
    black, white = list(out.get("blacklist") or ()), list(out.get("whitelist") or ())
    if patch.addBlacklist and patch.addBlacklist not in black:
        black.append(patch.addBlacklist)
    if patch.addWhitelist and patch.addWhitelist not in white:
        white.append(patch.addWhitelist)
    black = [e for e in black if e != patch.removeBlacklist]
    white = [e for e in white if e != patch.removeWhitelist]
    lifted = {ip for ip in (patch.removeBan, patch.tempBan.removeBan if patch.tempBan else None) if ip}
    bans = [b for b in out.get("tempBans") or () if b["until"] > now and b["ip"] not in lifted]
    if patch.tempBan is not None and patch.tempBan.ip:
        ban = patch.tempBan
        bans = [b for b in bans if b["ip"] != ban.ip]
        bans.append({"ip": ban.ip, "until": now + ban.durationMs / 1000, "reason": ban.reason})
    out.update(blacklist=black, whitelist=white, tempBans=bans)
    return out


def merge_proxy(current: dict[str, Any], patch: ProxyIn) -> dict[str, Any]:
    """``global`` sent replaces the global proxy (null: none); each ``providers`` entry sent
    replaces that provider's (null: removed). A password left out keeps the stored one for the
    same proxy (GET never shows it)."""
    out = {"global": current.get("global"), "providers": dict(current.get("providers") or {})}
    if "global_" in patch.model_fields_set:
        out["global"] = _with_password(patch.global_, current.get("global"))
    for key, config in (patch.providers or {}).items():
        if config is None:
            out["providers"].pop(key, None)
        else:
            out["providers"][key] = _with_password(config, out["providers"].get(key))
    return out


def _with_password(config: ProxyConfigIn | None, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    value = config.model_dump(exclude_none=True)
    same = stored and all(stored.get(k) == value.get(k) for k in ("type", "host", "port", "username"))
    if config.password is None and same and stored and stored.get("password"):
        value["password"] = stored["password"]
    return value


def merge_require_login(current: dict[str, Any], patch: RequireLoginIn) -> dict[str, Any]:
    return {"requireLogin": patch.requireLogin}


def merge_rate_limit(current: dict[str, Any], patch: RateLimitIn) -> dict[str, Any]:
    out = {**current}
    if patch.enabled is not None:
        out["enabled"] = patch.enabled
    if patch.rules is not None:
        out["rules"] = [rule.model_dump() for rule in patch.rules]
    return out


# Section name -> merge(current, validated patch, now).
MERGERS: dict[str, Callable[[dict[str, Any], Any, float], dict[str, Any]]] = {
    "systemPrompt": lambda c, p, now: merge_fields(c, p),
    "thinkingBudget": lambda c, p, now: merge_fields(c, p),
    "payloadRules": lambda c, p, now: merge_payload_rules(c, p),
    "comboDefaults": lambda c, p, now: merge_fields(c, p, nullable=("maxAttempts",)),
    "proxy": lambda c, p, now: merge_proxy(c, p),
    "ipFilter": merge_ip_filter,
    "requireLogin": lambda c, p, now: merge_require_login(c, p),
    "rateLimit": lambda c, p, now: merge_rate_limit(c, p),
}


def masked_proxy(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    shown = {k: v for k, v in config.items() if k != "password"}
    shown["password"] = None
    shown["passwordSet"] = bool(config.get("password"))
    return shown


def view(name: str, value: Any, now: float) -> Any:
    """A stored section as the API shows it (no secrets, expired bans gone)."""
    if name == "proxy":
        return {"global": masked_proxy(value.get("global")),
                "providers": {k: masked_proxy(v) for k, v in (value.get("providers") or {}).items()}}
    if name == "ipFilter":
        return IpFilterConfig.from_stored(value).to_api(now)
    return value

