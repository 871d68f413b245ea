"""The ASGI app: `/v1` (and `/api/v1`) model APIs, `/api` management, health."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from omniroute import __version__
from omniroute.api import bridge, bridge_control, errors, hardening, health, inspector, providers, responses_ws, v1
from omniroute.api import aliases, auth, cli_tools, combos, config_file, keys, pricing, resilience, usage
from omniroute.api import ui
from omniroute.api import inspector_capture, inspector_live, inspector_replay, inspector_sessions

if TYPE_CHECKING:
    from omniroute.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="OmniRoute",
        version=__version__,
        description="Local interception and routing proxy for AI coding agents.",
    )
    app.state.runtime = runtime
    errors.install(app)
    hardening.install(app, runtime)  # Host/Origin checks against DNS rebinding
    auth.install(app, runtime)  # API keys on /v1 and /api (see omniroute/api/auth.py)
    app.include_router(health.router)
    app.include_router(v1.router, prefix="/v1")
    app.include_router(v1.router, prefix="/api/v1", include_in_schema=False)
    app.include_router(responses_ws.router, prefix="/v1")
    app.include_router(responses_ws.router, prefix="/api/v1", include_in_schema=False)
    app.include_router(v1.gemini_router)
    app.include_router(providers.router)
    app.include_router(bridge.router)
    app.include_router(bridge_control.router)
    app.include_router(bridge_control.capture_router)
    app.include_router(inspector.router)
    app.include_router(inspector_replay.router)
    app.include_router(inspector_live.router)
    app.include_router(inspector_live.ws_router)
    app.include_router(inspector_sessions.router)
    app.include_router(inspector_capture.router)
    app.include_router(combos.router)
    app.include_router(aliases.router)
    app.include_router(aliases.chains_router)
    app.include_router(keys.router)
    app.include_router(usage.router)
    app.include_router(pricing.router)
    app.include_router(resilience.router)
    app.include_router(config_file.router)
    app.include_router(cli_tools.router)
    app.include_router(ui.router)
    cli_tools.install(app, runtime)
    # Saved user settings go into the engine before the first request is served.
    pricing.apply_overrides(runtime)
    resilience.apply_stored(runtime)
    # ... and again whenever another instance behind the same balancer changes them.
    runtime.follow_config("pricing", lambda: pricing.apply_overrides(runtime))
    runtime.follow_config("resilience", lambda: resilience.apply_stored(runtime))
    runtime.follow_config("keys", app.state.api_keys.invalidate)
    return app
