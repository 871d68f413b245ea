"""The upstream (corporate) proxy the provider clients go through: `/api/settings/proxy` and
`POST /api/settings/proxy/test` (the OmniRoute API specification's "Settings").

``{"global": {type, host, port, username?, password?} | null, "providers": {key: ... | null}}``:
a provider entry (keyed by connection id, connection name or provider type) wins over the
global one. Passwords are stored and used, never shown (``passwordSet`` says there is one).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body

from omniroute.api.deps import RuntimeSettingsDep, StoreDep, SyncDep
from omniroute.api.settings_api import save_section
from omniroute.api.settings_merge import view
from omniroute.api.settings_models import ProxyIn, ProxyTestIn
from omniroute.engine.errors import BadRequest
from omniroute.engine.runtime_settings import proxy_url

router = APIRouter(prefix="/api/settings/proxy", tags=["Settings"])
TEST_TIMEOUT_S = 10.0


@router.get("")
async def get_proxy(settings: RuntimeSettingsDep) -> dict[str, Any]:
    return view("proxy", settings.get("proxy"), time.time())  # type: ignore[no-any-return]


@router.patch("")
async def patch_proxy(settings: RuntimeSettingsDep, store: StoreDep, sync: SyncDep, payload: ProxyIn) -> dict[str, Any]:
    return await save_section(settings, store, sync, "proxy", payload)  # type: ignore[no-any-return]


# The OmniRoute API reference lists PUT too; the same merge.
router.add_api_route("", patch_proxy, methods=["PUT"], include_in_schema=False)


def shown_url(url: str) -> str:
    """The proxy URL with its password hidden."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(password="***")) if parsed.password else url


@router.post("/test")
async def test_proxy(settings: RuntimeSettingsDep, payload: Annotated[ProxyTestIn | None, Body()] = None) -> dict[str, Any]:
    """Fetch ``url`` through the proxy (the one sent, else the global one in force):
    ``{success, status?, publicIp?, latencyMs, proxyUrl, error?}``. An unreachable proxy or
    target is a result (``success: false``), not an error of this route."""
    payload = payload or ProxyTestIn()
    if payload.proxy is not None:
        url = proxy_url(payload.proxy.model_dump(exclude_none=True))
    else:
        url = proxy_url(settings.get("proxy").get("global"))
    if url is None:
        raise BadRequest("no proxy to test: send {\"proxy\": {\"host\": …, \"port\": …}} or set a global proxy first")
    started = time.perf_counter()
    result: dict[str, Any] = {"proxyUrl": shown_url(url), "url": payload.url}
    try:
        async with httpx.AsyncClient(proxy=url, trust_env=False, timeout=TEST_TIMEOUT_S) as client:
            response = await client.get(payload.url)
        result.update(success=response.status_code < 400, status=response.status_code,
                      publicIp=_public_ip(response))
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, OSError) as exc:  # a proxy or URL httpx refuses
        result.update(success=False, error=f"{exc.__class__.__name__}: {exc}"[:300] or exc.__class__.__name__)
    result["latencyMs"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _public_ip(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    ip = data.get("ip") if isinstance(data, dict) else None
    return ip if isinstance(ip, str) else None
