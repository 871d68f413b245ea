"""The ASGI app: `/v1` (and `/api/v1`) model APIs, `/api` management, health."""

from __future__ import annotations

from fastapi import FastAPI

from omniroute import __version__
from omniroute.api import (
    aliases,
    auth,
    bridge,
    bridge_control,
    chat_ws,
    cli_tools,
    combo_checks,
    combos,
    config_file,
    errors,
    guard_pass,
    hardening,
    health,
    inspector,
    inspector_capture,
    inspector_insight,
    inspector_live,
    inspector_replay,
    inspector_sessions,
    keys,
    limits_api,
    model_lists,
    openapi_doc,
    pricing,
    provider_checks,
    providers,
    resilience,
    responses_ws,
    settings_api,
    settings_proxy,
    ui,
    usage,
    usage_charts,
    usage_views,
    user_agents,
    v1,
    v1_media,
)
from omniroute.api.guard_pass import guards_of
from omniroute.api.guards import ip_filter_check
from omniroute.api.model_calls import model_calls
from omniroute.api.usage_reads import usage_reads
from omniroute.db.kv import kv_get
from omniroute.services import Services


def create_app(services: Services) -> FastAPI:
    """The app for ``services``; reads the saved pricing and resilience settings (sync)."""
    app = FastAPI(
        title="OmniRoute",
        version=__version__,
        description="Local interception and routing proxy for AI coding agents.",
    )
    app.state.services = services
    errors.install(app)
    # One guard pass in front of every route, its checks in this order: the user's IP filter
    # (guards.py), API keys on /v1 and
    # /api (auth.py), then Host/Origin against DNS rebinding and the declared body size
    # (hardening.py). The model calls and the Usage page's reads are served right after it
    # (direct.py), once the routes are in.
    guards_of(app).add(ip_filter_check(services.runtime_settings.ip_filter, services.tokens.internal))
    auth.install(app, services)
    hardening.install(app, services)
    app.include_router(health.router)
    # The Usage routes ahead of the long list: FastAPI tries the included routers one by one,
    # each walking all its routes, on the loop that carries the agents' calls (the page's main
    # reads skip it: usage_reads.py). Among them, /api/usage/{connectionId} comes last.
    app.include_router(limits_api.router)  # /api/usage/budget is not a connection id
    app.include_router(usage.router)
    app.include_router(usage_charts.router)
    app.include_router(usage_views.router)
    app.include_router(usage_views.connection_router)
    app.include_router(v1.router, prefix="/v1")
    app.include_router(v1.router, prefix="/api/v1", include_in_schema=False)
    app.include_router(responses_ws.router, prefix="/v1")
    app.include_router(responses_ws.router, prefix="/api/v1", include_in_schema=False)
    app.include_router(v1.gemini_router)
    for prefix, listed in (("/v1", True), ("/api/v1", False)):  # the images, audio, ... and /ws routes
        app.include_router(v1_media.router, prefix=prefix, include_in_schema=listed)
        app.include_router(chat_ws.router, prefix=prefix, include_in_schema=listed)
        app.include_router(model_lists.info_router, prefix=prefix, include_in_schema=listed)
    app.include_router(model_lists.router)
    app.include_router(provider_checks.router)  # before /api/providers/{id}
    app.include_router(providers.router)
    app.include_router(bridge.router)
    app.include_router(user_agents.router)
    app.include_router(bridge_control.router)
    app.include_router(bridge_control.capture_router)
    app.include_router(inspector.router)
    app.include_router(inspector_replay.router)
    app.include_router(inspector_live.router)
    app.include_router(inspector_live.ws_router)
    app.include_router(inspector_sessions.router)
    app.include_router(inspector_capture.router)
    app.include_router(combo_checks.router)  # before /api/combos/{id}
    app.include_router(inspector_insight.router)
    app.include_router(combos.router)
    app.include_router(aliases.router)
    app.include_router(aliases.chains_router)
    app.include_router(keys.router)
    app.include_router(settings_api.router)
    app.include_router(settings_proxy.router)
    app.include_router(pricing.router)
    app.include_router(resilience.router)
    app.include_router(config_file.router)
    app.include_router(cli_tools.router)
    app.include_router(ui.router)
    guard_pass.install(app, {"POST": model_calls(services), "GET": usage_reads(app, services)})
    openapi_doc.install(app)
    cli_tools.install(app, services)
    # Saved user settings go into the engine before the first request is served.
    db, router, sync = services.db, services.router, services.sync

    def load_pricing() -> None:
        pricing.apply_overrides(router, kv_get(db, pricing.SETTING, {}))

    def load_resilience() -> None:
        resilience.apply_stored(router, kv_get(db, resilience.SETTING, {}))

    load_pricing()
    load_resilience()
    # ... and again whenever another instance behind the same balancer changes them.
    sync.follow("pricing", load_pricing)
    sync.follow("resilience", load_resilience)
    sync.follow("keys", app.state.api_keys.invalidate)
    return app
