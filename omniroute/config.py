"""The one settings object.

Precedence, highest first: CLI flags (passed as keyword arguments), environment
(`OMNIROUTE_*`, plus the conventional `DATABASE_URL` / `REDIS_URL`), the optional TOML
settings file (`$OMNIROUTE_CONFIG` when it names a `.toml` file, else `<home>/config.toml`),
then defaults.

`--config FILE` / `$OMNIROUTE_CONFIG` naming a YAML (or JSON) file is the declarative config
file instead (providers, combos, ... : `omniroute.configfile`), kept here as `config_file`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from omniroute.private_home import lock_down

DEFAULT_HOME = Path("~/.omniroute")


class SettingsError(Exception):
    """A setting that cannot be used; the message is one line meant for the user."""


def _is_settings_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".toml"


def _config_file() -> Path:
    explicit = os.environ.get("OMNIROUTE_CONFIG")
    if explicit and _is_settings_file(explicit):
        return Path(explicit).expanduser()
    home = os.environ.get("OMNIROUTE_HOME")
    return (Path(home) if home else DEFAULT_HOME).expanduser() / "config.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNIROUTE_", extra="ignore")

    home: Path = DEFAULT_HOME
    host: str = "127.0.0.1"
    api_port: int = Field(default=20128, ge=0, le=65535)
    proxy_port: int = Field(default=8080, ge=0, le=65535)
    bridge_port: int = Field(default=443, ge=0, le=65535)
    demo: bool = False
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "OMNIROUTE_DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "OMNIROUTE_REDIS_URL")
    )
    # A Redis call slower than this counts as Redis away: the instance serves from local state
    # until the probe finds it again. Each call blocks the loop, so keep it short; raise it
    # for a Redis across a slow link.
    redis_timeout_s: float = Field(default=0.25, gt=0, le=10)
    # When on, /v1 model calls need one of our API keys (`/api/keys`); env name as in the
    # OmniRoute API specification.
    require_api_key: bool = Field(
        default=False,
        validation_alias=AliasChoices(
            "REQUIRE_API_KEY", "OMNIROUTE_REQUIRE_API_KEY", "require_api_key"
        ),
    )
    # Beyond loopback (`host` not a loopback address) the proxy listeners and `/v1` refuse to
    # start open; see `omniroute.exposure`. `proxy_auth` is mitmproxy's `proxyauth` option for
    # the HTTP proxy listener ("user:pass", "@htpasswd-file", "ldap[s]:…").
    proxy_auth: str | None = None
    allow_open_proxy: bool = False  # beyond loopback: proxy listeners without authentication
    allow_open_v1: bool = False  # beyond loopback: /v1 without REQUIRE_API_KEY
    hosts_file: Path = Path("/etc/hosts")
    # The declarative config file (YAML or JSON), applied at start and on reload.
    config_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("OMNIROUTE_CONFIG", "config_file")
    )
    # Real resolvers for passthrough traffic; empty means the system's resolv.conf servers.
    # NoDecode: the env value is "1.1.1.1,8.8.8.8", not JSON; `_split_servers` parses it.
    upstream_dns: Annotated[list[str], NoDecode] = Field(default_factory=list)
    upstream_dns_port: int = Field(default=53, ge=1, le=65535)
    # Extra names the API answers to besides loopback (DNS-rebinding guard, api/hardening.py):
    # "name" (any port) or "name:port"; "*" turns the Host check off (behind a reverse proxy).
    # Env: OMNIROUTE_ALLOWED_HOSTS="omniroute.lan,10.0.0.5:20128".
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Route agents' Responses WebSocket sessions (Codex); off: refuse the upgrade, and Codex
    # falls back to HTTPS, where each call is mapped on its own.
    bridge_websocket: bool = True
    # OmniRoute's own log (logger "omniroute"); any case is accepted (OMNIROUTE_LOG_LEVEL=DEBUG).
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    inspector_ring_size: int = Field(default=1000, ge=1)
    inspector_body_cap: int = Field(default=1024 * 1024, ge=0)
    # Off: the capture addon records nothing (benchmarks compare proxying with and without it).
    inspector_enabled: bool = True
    # Calls made straight to /v1 (no agent, no proxy) get inspector rows too (source "api").
    inspector_api_calls: bool = True
    # Token for POST .../internal/ingest from another process; unset means a random one per
    # start, written to <home>/inspector-ingest.token (0600) for local tools to read.
    inspector_ingest_token: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "INSPECTOR_INTERNAL_INGEST_TOKEN", "OMNIROUTE_INSPECTOR_INGEST_TOKEN", "inspector_ingest_token"
        ),
    )

    # Limits (docs/RELIABILITY.md, "Limits"). Upstream: per attempt, the first two can be set
    # per provider connection (firstByteTimeoutSeconds, idleTimeoutSeconds).
    upstream_first_byte_timeout: float = Field(default=600.0, gt=0)
    upstream_idle_timeout: float = Field(default=300.0, gt=0)
    upstream_max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    upstream_max_event_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Listeners: a client must finish sending a request's headers within this many seconds of
    # connecting (or of starting its next request); idle proxy connections close after
    # proxy_idle_timeout (mitmproxy's tcp_timeout; the API's keep-alive is fixed at 65 s).
    header_timeout: float = Field(default=15.0, gt=0)
    proxy_idle_timeout: int = Field(default=600, ge=1)
    # Live inspector WebSocket listeners, and the events each may have queued.
    inspector_max_listeners: int = Field(default=32, ge=1)
    inspector_listener_queue: int = Field(default=256, ge=2)

    @field_validator("home", "hosts_file", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("config_file", mode="after")
    @classmethod
    def _declarative_only(cls, value: Path | None) -> Path | None:
        # A .toml file there is the settings file, read by the TOML source below.
        if value is None or _is_settings_file(value):
            return None
        return value.expanduser().absolute()

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("upstream_dns", "allowed_hosts", mode="before")
    @classmethod
    def _split_servers(cls, value: Any) -> Any:
        # Env gives "1.1.1.1,8.8.8.8"; TOML gives a list.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_config_file()),
        )

    # Paths under the home directory -------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.home / "omniroute.db"

    @property
    def certs_dir(self) -> Path:
        return self.home / "certs"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def secret_key_path(self) -> Path:
        return self.home / "secret.key"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    @property
    def api_base_url(self) -> str:
        """Where rewritten agent flows are sent: the API on loopback."""
        return f"http://127.0.0.1:{self.api_port}"

    def prepare_home(self) -> None:
        """Create the home layout, private to its owner (`omniroute.private_home`), or fail
        with one line saying what is wrong."""
        try:
            for path in (self.home, self.certs_dir, self.logs_dir):
                path.mkdir(parents=True, exist_ok=True)
            probe = self.home / ".write-test"
            probe.write_text("ok")
            probe.unlink()
            lock_down(self)
        except OSError as exc:
            raise SettingsError(
                f"home directory {self.home} is not usable ({exc.strerror or exc}); "
                "pass --home DIR or set OMNIROUTE_HOME to a writable directory"
            ) from None
