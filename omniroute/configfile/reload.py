"""Applying the config file to running services: at start-up (`Runtime.open`), on SIGHUP and
on `POST /api/config/reload`."""

from __future__ import annotations

from omniroute.configfile import Applied, apply_file
from omniroute.services import Services


async def reload_config_file(services: Services) -> Applied:
    """Apply the file again in a store thread, then reload what it changed, here and on the
    other instances. ConfigFileError: nothing changed."""
    store, sync = services.store, services.sync
    applied = await store.call(apply_file, services.settings.config_file, services.db, services.secrets)
    for connection_id in applied.connections:
        await services.pool.drop(connection_id)
    for kind in sorted(applied.kinds):
        await store.call(sync.reload_here, kind)
        sync.changed(kind)
    return applied
