"""Routing settings (the OmniRoute API specification's "Settings"): `GET`/`PATCH /api/settings`
and one route per section — payload rules, combo defaults, IP filter, system prompt, thinking
budget, require-login (the upstream proxy is in `settings_proxy`).

Every write is validated whole, stored, put in force in this instance (`RuntimeSettings`) and
announced to the others (`ConfigSync` kind ``settings``); the answer is the section as it now
stands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from omniroute.api.deps import RuntimeSettingsDep, SettingsDep, StoreDep, SyncDep
from omniroute.api.errors import error_response, validation_response
from omniroute.api.management import invalid
from omniroute.api.settings_merge import MERGERS, view
from omniroute.api.settings_models import (
    SECTION_MODELS,
    ComboDefaultsIn,
    IpFilterIn,
    PayloadRulesIn,
    RequireLoginIn,
    SystemPromptIn,
    ThinkingBudgetIn,
)
from omniroute.db.store import Store
from omniroute.engine.runtime_settings import RuntimeSettings, UnusableSetting
from omniroute.shared.config_sync import ConfigSync


class InvalidIs400(APIRoute):
    """For operations where the OmniRoute API specification answers an invalid body with 400
    (ValidationError) rather than our usual 422; the body is the same."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return validation_response(request, exc, 400)
            except HTTPException as exc:  # a body that is not JSON at all
                if exc.status_code != 400:
                    raise
                detail = str(exc.detail)
                return error_response(request, 400, detail, details=[{"field": "body", "message": detail}])

        return route


router = APIRouter(prefix="/api/settings", tags=["Settings"])
_invalid_is_400 = APIRouter(tags=["Settings"], route_class=InvalidIs400)


async def save_section(
    settings: RuntimeSettings, store: Store, sync: ConfigSync, name: str, patch: Any
) -> Any:
    """Merge ``patch`` into section ``name``, store it, apply it here and on the other
    instances; the section as the API shows it."""
    return (await save_sections(settings, store, sync, {name: patch}))[name]


async def save_sections(
    settings: RuntimeSettings, store: Store, sync: ConfigSync, patches: dict[str, Any]
) -> dict[str, Any]:
    """`save_section` for several sections at once, all or none, announced once."""
    now = time.time()
    values = {name: MERGERS[name](settings.get(name), patch, now) for name, patch in patches.items()}
    try:
        await store.call(settings.save, values)
    except UnusableSetting as exc:
        raise invalid(exc.name, str(exc)) from None
    sync.changed("settings")
    return {name: view(name, settings.get(name), now) for name in values}


@router.get("")
async def get_settings(settings: RuntimeSettingsDep) -> dict[str, Any]:
    now = time.time()
    return {name: view(name, settings.get(name), now) for name in SECTION_MODELS}


@router.patch("")
async def patch_settings(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Any of the sections of GET, each validated as its own route does; all or nothing is
    stored."""
    patches = {}
    for name, value in body.items():
        model = SECTION_MODELS.get(name)
        if model is None:
            raise invalid(name, f"unknown setting; use {', '.join(SECTION_MODELS)}")
        try:
            patches[name] = model.model_validate(value)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", name, *e["loc"])} for e in exc.errors()]
            ) from None
    await save_sections(settings, store, sync, patches)
    return await get_settings(settings)


@router.get("/payload-rules")
async def get_payload_rules(settings: RuntimeSettingsDep) -> dict[str, Any]:
    return settings.get("payloadRules")  # type: ignore[no-any-return]


@_invalid_is_400.put("/payload-rules")
async def put_payload_rules(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: PayloadRulesIn
) -> dict[str, Any]:
    return await save_section(settings, store, sync, "payloadRules", payload)  # type: ignore[no-any-return]


@router.get("/combo-defaults")
async def get_combo_defaults(settings: RuntimeSettingsDep) -> dict[str, Any]:
    return {"comboDefaults": settings.get("comboDefaults")}


@router.patch("/combo-defaults")
async def patch_combo_defaults(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: ComboDefaultsIn
) -> dict[str, Any]:
    return {"comboDefaults": await save_section(settings, store, sync, "comboDefaults", payload.comboDefaults)}


@router.get("/ip-filter")
async def get_ip_filter(settings: RuntimeSettingsDep) -> dict[str, Any]:
    return view("ipFilter", settings.get("ipFilter"), time.time())  # type: ignore[no-any-return]


@router.put("/ip-filter")
async def put_ip_filter(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: IpFilterIn
) -> dict[str, Any]:
    return await save_section(settings, store, sync, "ipFilter", payload)  # type: ignore[no-any-return]


@router.get("/system-prompt")
async def get_system_prompt(settings: RuntimeSettingsDep) -> dict[str, Any]:
    return settings.get("systemPrompt")  # type: ignore[no-any-return]


@router.put("/system-prompt")
async def put_system_prompt(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: SystemPromptIn
) -> dict[str, Any]:
    return await save_section(settings, store, sync, "systemPrompt", payload)  # type: ignore[no-any-return]


@router.get("/thinking-budget")
async def get_thinking_budget(settings: RuntimeSettingsDep) -> dict[str, Any]:
    return settings.get("thinkingBudget")  # type: ignore[no-any-return]


@router.put("/thinking-budget")
async def put_thinking_budget(
    settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: ThinkingBudgetIn
) -> dict[str, Any]:
    return await save_section(settings, store, sync, "thinkingBudget", payload)  # type: ignore[no-any-return]


def _login_view(settings: RuntimeSettings, from_env: bool) -> dict[str, Any]:
    # No passwords here: "login" is an OmniRoute API key (scope write or admin) on the model APIs.
    return {"requireLogin": settings.require_login, "requireApiKeyFromEnvironment": from_env,
            "enforced": settings.require_login or from_env}


@router.get("/require-login")
async def get_require_login(settings: RuntimeSettingsDep, env: SettingsDep) -> dict[str, Any]:
    return _login_view(settings, env.require_api_key)


@router.post("/require-login")
async def post_require_login(
    settings: RuntimeSettingsDep, env: SettingsDep, store: StoreDep, sync: SyncDep, payload: RequireLoginIn
) -> dict[str, Any]:
    await save_section(settings, store, sync, "requireLogin", payload)
    return {"success": True, **_login_view(settings, env.require_api_key)}


router.include_router(_invalid_is_400)
