"""The declarative config file's shape: pydantic models whose field names are the API's JSON.

Each section reuses the validators of the API route that edits the same thing, so a value the
API refuses is refused here too, with the same message. The JSON Schema published with the
package (`omniroute-config.schema.json`, for editors) is generated from `ConfigFile`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from omniroute.api.aliases import ChainSet, ModelName
from omniroute.api.combos import ComboCreate
from omniroute.api.keys import ApiKeyCreate
from omniroute.api.providers import ConnectionName, ProviderConnectionCreate
from omniroute.api.resilience import ResiliencePatch
from omniroute.bridge.bypass import validate_bypass_pattern
from omniroute.bridge.mapping import validate_rules

ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")


def _check_env_ref(value: str) -> str:
    if not ENV_REF.match(value):
        raise ValueError(
            "must be an environment variable reference like 'env:OPENAI_API_KEY' "
            "(secrets stay out of a file kept under version control)"
        )
    return value


EnvRef = Annotated[str, AfterValidator(_check_env_ref)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderEntry(ProviderConnectionCreate):
    """`POST /api/providers`'s body, with `name` required (the file names connections by it)
    and the key as a reference to an environment variable."""

    name: ConnectionName
    apiKey: EnvRef | None = None
    # Temporary AWS credentials do not belong in a file that outlives them: a Bedrock entry
    # takes accessKeyId + apiKey, or nothing (the AWS credential chain).
    sessionToken: None = None  # type: ignore[assignment]


class ComboNodeEntry(_Section):
    connection: ConnectionName  # a provider connection's name, from this file or the API
    weight: int = Field(default=1, ge=0)
    priority: int | None = None
    model: str | None = Field(default=None, min_length=1)


class ComboEntry(ComboCreate):
    nodes: list[ComboNodeEntry] = Field(default_factory=list)  # type: ignore[assignment]


def _check_mappings(rules: list[MappingEntry]) -> list[MappingEntry]:
    validate_rules(rule.model_dump() for rule in rules)  # same rules as PUT .../mappings
    return rules


class MappingEntry(_Section):
    source: str = Field(max_length=256)
    target: str = Field(max_length=512)


class AgentEntry(_Section):
    """A built-in agent's mappings; with `wireFormat`, also the definition of an agent of the
    user's (`POST /api/tools/agent-bridge/agents`'s fields)."""

    name: str | None = Field(default=None, max_length=200)
    hosts: list[str] = Field(default_factory=list, max_length=50)
    userAgents: list[str] = Field(default_factory=list, max_length=20)
    wireFormat: Literal["openai-chat", "openai-responses", "anthropic", "gemini"] | None = None
    paths: list[str] = Field(default_factory=list, max_length=20)
    mappings: Annotated[list[MappingEntry], AfterValidator(_check_mappings)] = Field(
        default_factory=list, max_length=1000
    )

    @model_validator(mode="after")
    def _definition_needs_a_format(self) -> AgentEntry:
        if self.wireFormat is None and (self.name or self.hosts or self.userAgents or self.paths):
            raise ValueError("an agent of your own needs wireFormat (openai-chat, openai-responses, "
                             "anthropic or gemini) beside its hosts / userAgents")
        return self


class PriceEntry(_Section):
    """USD per 1M tokens (`POST /api/pricing`'s values)."""

    input: float | None = Field(default=None, ge=0)
    output: float | None = Field(default=None, ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class ApiKeyEntry(ApiKeyCreate):
    """One of OmniRoute's API keys, by the sha256 of its secret (hex): the secret itself is
    never in the file. `keyPreview` is what lists show (the API keeps the last 4 characters)."""

    keyHash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    isActive: bool = True
    keyPreview: str | None = Field(default=None, max_length=16)


class SettingsEntry(_Section):
    resilience: ResiliencePatch | None = None  # `PATCH /api/resilience`'s body


BypassPattern = Annotated[str, AfterValidator(validate_bypass_pattern)]


class ConfigFile(_Section):
    """`omniroute run --config FILE`: everything in it is owned by the file."""

    model_config = ConfigDict(
        extra="forbid",
        title="OmniRoute config file",
        json_schema_extra={"$id": "https://omniroute.dev/schema/omniroute-config.schema.json"},
    )

    providers: list[ProviderEntry] = Field(default_factory=list)
    aliases: dict[ModelName, ModelName] = Field(default_factory=dict)
    combos: list[ComboEntry] = Field(default_factory=list)
    fallbacks: list[ChainSet] = Field(default_factory=list)
    agents: dict[str, AgentEntry] = Field(default_factory=dict)
    bypass: list[BypassPattern] | None = None
    pricing: dict[ModelName, PriceEntry] | None = None
    settings: SettingsEntry = Field(default_factory=SettingsEntry)
    apiKeys: list[ApiKeyEntry] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    schema = ConfigFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema

