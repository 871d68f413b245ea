"""What each route may be handed: one dependency per service (FastAPI `Depends`).

A route declares the services it uses in its signature (``router: RouterDep``); the app
holds the `Services` the composition root built, and nothing else reaches into it. The
providers are `async def` because FastAPI runs plain `def` dependencies in a worker thread:
a thread hop per service per request for a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from omniroute.bridge.agent_state import AgentStates
from omniroute.bridge.bypass_rules import BypassRules
from omniroute.bridge.ca import CertificateAuthority
from omniroute.bridge.catalog import AgentCatalog
from omniroute.bridge.control import ProxyControl
from omniroute.bridge.mapping_store import MappingStore
from omniroute.bridge.user_agents import UserAgentStore
from omniroute.config import Settings
from omniroute.db.store import Store
from omniroute.engine.registry import Registry
from omniroute.engine.router import Router
from omniroute.engine.runtime_settings import RuntimeSettings
from omniroute.engine.usage import UsageRecorder
from omniroute.inspector.capture import Capture
from omniroute.inspector.custom_hosts import CustomHosts
from omniroute.inspector.ring import Ring
from omniroute.inspector.sessions import SessionStore
from omniroute.inspector.system_proxy import SystemProxy
from omniroute.listeners import ListenerBoard
from omniroute.providers.pool import ClientPool
from omniroute.providers.secrets import SecretBox
from omniroute.services import Services, Tokens
from omniroute.shared.config_sync import ConfigSync
from omniroute.shared.state import SharedState


def services_of(conn: HTTPConnection) -> Services:
    """For the app's own wiring (middleware, start-up); routes declare single services."""
    return conn.app.state.services  # type: ignore[no-any-return]


async def _settings(conn: HTTPConnection) -> Settings:
    return services_of(conn).settings


async def _store(conn: HTTPConnection) -> Store:
    return services_of(conn).store


async def _sync(conn: HTTPConnection) -> ConfigSync:
    return services_of(conn).sync


async def _shared(conn: HTTPConnection) -> SharedState:
    return services_of(conn).shared


async def _registry(conn: HTTPConnection) -> Registry:
    return services_of(conn).registry


async def _secrets(conn: HTTPConnection) -> SecretBox:
    return services_of(conn).secrets


async def _pool(conn: HTTPConnection) -> ClientPool:
    return services_of(conn).pool


async def _router(conn: HTTPConnection) -> Router:
    return services_of(conn).router


async def _runtime_settings(conn: HTTPConnection) -> RuntimeSettings:
    return services_of(conn).runtime_settings


async def _usage(conn: HTTPConnection) -> UsageRecorder:
    return services_of(conn).usage


async def _catalog(conn: HTTPConnection) -> AgentCatalog:
    return services_of(conn).catalog


async def _user_agents(conn: HTTPConnection) -> UserAgentStore:
    return services_of(conn).user_agents


async def _mappings(conn: HTTPConnection) -> MappingStore:
    return services_of(conn).mappings


async def _agent_states(conn: HTTPConnection) -> AgentStates:
    return services_of(conn).agent_states


async def _bypass(conn: HTTPConnection) -> BypassRules:
    return services_of(conn).bypass


async def _ca(conn: HTTPConnection) -> CertificateAuthority:
    return services_of(conn).ca


async def _board(conn: HTTPConnection) -> ListenerBoard:
    return services_of(conn).board


async def _control(conn: HTTPConnection) -> ProxyControl:
    return services_of(conn).control


async def _ring(conn: HTTPConnection) -> Ring:
    return services_of(conn).ring


async def _capture(conn: HTTPConnection) -> Capture:
    return services_of(conn).capture


async def _sessions(conn: HTTPConnection) -> SessionStore:
    return services_of(conn).inspector_sessions


async def _custom_hosts(conn: HTTPConnection) -> CustomHosts:
    return services_of(conn).custom_hosts


async def _system_proxy(conn: HTTPConnection) -> SystemProxy:
    return services_of(conn).system_proxy


async def _tokens(conn: HTTPConnection) -> Tokens:
    return services_of(conn).tokens


async def _reload_registry(conn: HTTPConnection) -> Callable[[], Awaitable[None]]:
    services = services_of(conn)

    async def reload() -> None:
        """After a provider, combo or alias write: reload here, tell the other instances."""
        await services.store.call(services.registry.reload)
        services.sync.changed("registry")

    return reload


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[Store, Depends(_store)]
SyncDep = Annotated[ConfigSync, Depends(_sync)]
SharedDep = Annotated[SharedState, Depends(_shared)]
RegistryDep = Annotated[Registry, Depends(_registry)]
SecretsDep = Annotated[SecretBox, Depends(_secrets)]
PoolDep = Annotated[ClientPool, Depends(_pool)]
RouterDep = Annotated[Router, Depends(_router)]
RuntimeSettingsDep = Annotated[RuntimeSettings, Depends(_runtime_settings)]
UsageDep = Annotated[UsageRecorder, Depends(_usage)]
CatalogDep = Annotated[AgentCatalog, Depends(_catalog)]
MappingsDep = Annotated[MappingStore, Depends(_mappings)]
UserAgentsDep = Annotated[UserAgentStore, Depends(_user_agents)]
AgentStatesDep = Annotated[AgentStates, Depends(_agent_states)]
BypassDep = Annotated[BypassRules, Depends(_bypass)]
CADep = Annotated[CertificateAuthority, Depends(_ca)]
BoardDep = Annotated[ListenerBoard, Depends(_board)]
ControlDep = Annotated[ProxyControl, Depends(_control)]
RingDep = Annotated[Ring, Depends(_ring)]
CaptureDep = Annotated[Capture, Depends(_capture)]
SessionsDep = Annotated[SessionStore, Depends(_sessions)]
CustomHostsDep = Annotated[CustomHosts, Depends(_custom_hosts)]
SystemProxyDep = Annotated[SystemProxy, Depends(_system_proxy)]
TokensDep = Annotated[Tokens, Depends(_tokens)]
ReloadRegistryDep = Annotated[Callable[[], Awaitable[None]], Depends(_reload_registry)]
