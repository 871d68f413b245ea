"""Cloud model services: Amazon Bedrock, Google Vertex AI and Azure OpenAI.

Each is a `ProviderAdapter` whose endpoint depends on the connection's settings (region,
project, API version; stored in `ProviderConnection.extra` under the API's field names) and
whose auth is computed per request (SigV4, OAuth tokens: see `cloud_auth`). A connection's
`url`, when set, replaces the service endpoint (private endpoints, gateways, tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from omniroute.providers import cloud_auth
from omniroute.providers.adapter_base import (
    ANTHROPIC,
    BEDROCK,
    BEDROCK_ANTHROPIC,
    EMBEDDINGS,
    GEMINI,
    NO_SETTINGS,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    ProviderAdapter,
)

# Connection settings (API field = `extra` key). Secrets are not here: the API key field
# carries them, encrypted (`sessionToken` is encrypted under SESSION_TOKEN_KEY).
REGION, PROJECT, API_VERSION = "region", "project", "apiVersion"
ACCESS_KEY_ID, TENANT_ID, CLIENT_ID, AUTHORITY_URL = "accessKeyId", "tenantId", "clientId", "authorityUrl"
SESSION_TOKEN = "sessionToken"
SESSION_TOKEN_KEY = "sessionTokenEncrypted"
SETTING_KEYS = (REGION, PROJECT, API_VERSION, ACCESS_KEY_ID, TENANT_ID, CLIENT_ID, AUTHORITY_URL)

BEDROCK_REGION = "us-east-1"
VERTEX_REGION = "us-central1"
AZURE_API_VERSION = "2025-04-01-preview"  # the first that serves both chat and Responses
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


def apply_settings(extra: Mapping[str, Any], given: Mapping[str, Any], encrypt: Callable[[str], str]) -> dict[str, Any]:
    """A connection's `extra` with the cloud settings in ``given`` (API field names; a falsy
    value clears one). The session token is stored encrypted. Used by the API and the config
    file alike."""
    out = dict(extra)
    for key in (*SETTING_KEYS, SESSION_TOKEN):
        if key not in given:
            continue
        stored = SESSION_TOKEN_KEY if key == SESSION_TOKEN else key
        out.pop(stored, None)
        if given[key]:
            out[stored] = encrypt(given[key]) if key == SESSION_TOKEN else given[key]
    return out


def _q(model: str) -> str:
    return quote(model, safe="")


@dataclass(frozen=True, slots=True)
class BedrockAdapter(ProviderAdapter):
    """Converse / ConverseStream on bedrock-runtime; the model part is the Bedrock model id
    (or an inference profile id / ARN). Anthropic clients calling a Claude model use
    InvokeModel with Anthropic's own body instead, so nothing of theirs is lost in between."""

    def upstream_format(self, client_format: str, model: str = "") -> str:
        return BEDROCK_ANTHROPIC if client_format == ANTHROPIC and "anthropic." in model else BEDROCK

    def base_url(self, url: str, settings: Mapping[str, Any] = NO_SETTINGS) -> str:
        return url or f"https://bedrock-runtime.{settings.get(REGION) or BEDROCK_REGION}.amazonaws.com"

    def endpoint(self, base_url: str, wire_format: str, model: str, stream: bool,
                 settings: Mapping[str, Any] = NO_SETTINGS) -> str:
        if wire_format == BEDROCK:
            action = "converse-stream" if stream else "converse"
        elif wire_format == BEDROCK_ANTHROPIC:
            action = "invoke-with-response-stream" if stream else "invoke"
        else:
            raise ValueError(f"provider type bedrock cannot speak {wire_format}")
        return f"{base_url.rstrip('/')}/model/{_q(model)}/{action}"

    def models_url(self, base_url: str, settings: Mapping[str, Any] = NO_SETTINGS) -> str | None:
        # The model list is on the control plane (bedrock.<region>), not bedrock-runtime;
        # an overridden endpoint is asked at its own base.
        region = settings.get(REGION) or BEDROCK_REGION
        if base_url.rstrip("/") == f"https://bedrock-runtime.{region}.amazonaws.com":
            return f"https://bedrock.{region}.amazonaws.com/foundation-models"
        return base_url.rstrip("/") + "/foundation-models"

    def model_ids(self, data: Any) -> list[str]:
        rows = data.get("modelSummaries") if isinstance(data, dict) else None
        return [str(m["modelId"]) for m in rows or [] if isinstance(m, dict) and m.get("modelId")]

    def authorizer(self, api_key: str | None, settings: Mapping[str, Any]) -> cloud_auth.Authorizer | None:
        region = settings.get(REGION) or BEDROCK_REGION
        if api_key and not settings.get(ACCESS_KEY_ID):
            return cloud_auth.StaticBearer(api_key)  # a Bedrock API key
        return cloud_auth.SigV4(region, settings.get(ACCESS_KEY_ID), api_key, settings.get(SESSION_TOKEN))


@dataclass(frozen=True, slots=True)
class VertexAdapter(ProviderAdapter):
    """Gemini models through the Gemini format, Claude models through the Anthropic one."""

    def base_url(self, url: str, settings: Mapping[str, Any] = NO_SETTINGS) -> str:
        if url:
            return url
        region = settings.get(REGION) or VERTEX_REGION
        return "https://aiplatform.googleapis.com" if region == "global" else f"https://{region}-aiplatform.googleapis.com"

    def connection_settings(self, api_key: str | None, extra: Mapping[str, Any]) -> Mapping[str, Any]:
        project = extra.get(PROJECT) or vertex_project(api_key)
        return {**extra, PROJECT: project} if project else extra

    def upstream_format(self, client_format: str, model: str = "") -> str:
        return ANTHROPIC if model.startswith("claude") else GEMINI

    def endpoint(self, base_url: str, wire_format: str, model: str, stream: bool,
                 settings: Mapping[str, Any] = NO_SETTINGS) -> str:
        region = settings.get(REGION) or VERTEX_REGION
        where = f"{base_url.rstrip('/')}/v1/projects/{_q(str(settings.get(PROJECT) or ''))}/locations/{_q(region)}"
        if wire_format == GEMINI:
            action = "streamGenerateContent?alt=sse" if stream else "generateContent"
            return f"{where}/publishers/google/models/{_q(model)}:{action}"
        if wire_format == ANTHROPIC:
            return f"{where}/publishers/anthropic/models/{_q(model)}:{'streamRawPredict' if stream else 'rawPredict'}"
        raise ValueError(f"provider type vertex cannot speak {wire_format}")

    def finish_body(self, wire_format: str, body: dict[str, Any]) -> dict[str, Any]:
        if wire_format == ANTHROPIC:  # the model is in the URL; the version in the body
            body.pop("model", None)
            body["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
        return body

    def models_url(self, base_url: str, settings: Mapping[str, Any] = NO_SETTINGS) -> str | None:
        return f"{base_url.rstrip('/')}/v1beta1/publishers/google/models"

    def model_ids(self, data: Any) -> list[str]:
        rows = data.get("publisherModels") if isinstance(data, dict) else None
        return [str(m["name"]).rsplit("/", 1)[-1] for m in rows or [] if isinstance(m, dict) and m.get("name")]

    def authorizer(self, api_key: str | None, settings: Mapping[str, Any]) -> cloud_auth.Authorizer | None:
        return cloud_auth.GoogleToken(api_key)


def vertex_project(api_key: str | None) -> str | None:
    """The project named in a service-account file (the default for `project`)."""
    info = service_account_info(api_key) if api_key else None
    return str(info["project_id"]) if info and info.get("project_id") else None


def service_account_info(text: str) -> dict[str, Any] | None:
    try:
        info = json.loads(text)
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


@dataclass(frozen=True, slots=True)
class AzureAdapter(ProviderAdapter):
    """Azure OpenAI: the model part is the deployment name."""

    def endpoint(self, base_url: str, wire_format: str, model: str, stream: bool,
                 settings: Mapping[str, Any] = NO_SETTINGS) -> str:
        base, version = base_url.rstrip("/"), quote(str(settings.get(API_VERSION) or AZURE_API_VERSION), safe="")
        if base.endswith("/openai/v1"):  # the v1 API: OpenAI's paths, the deployment in the body
            return ProviderAdapter.endpoint(self, base, wire_format, model, stream, settings)
        if wire_format == OPENAI_CHAT:
            return f"{base}/openai/deployments/{_q(model)}/chat/completions?api-version={version}"
        if wire_format == OPENAI_RESPONSES:
            return f"{base}/openai/responses?api-version={version}"
        if wire_format == EMBEDDINGS:
            return f"{base}/openai/deployments/{_q(model)}/embeddings?api-version={version}"
        raise ValueError(f"provider type azure cannot speak {wire_format}")

    def models_url(self, base_url: str, settings: Mapping[str, Any] = NO_SETTINGS) -> str | None:
        if base_url.rstrip("/").endswith("/openai/v1"):
            return base_url.rstrip("/") + "/models"
        version = quote(str(settings.get(API_VERSION) or AZURE_API_VERSION), safe="")
        return f"{base_url.rstrip('/')}/openai/models?api-version={version}"

    def authorizer(self, api_key: str | None, settings: Mapping[str, Any]) -> cloud_auth.Authorizer | None:
        if settings.get(TENANT_ID) and settings.get(CLIENT_ID):
            return cloud_auth.EntraToken(
                str(settings[TENANT_ID]), str(settings[CLIENT_ID]), api_key or "",
                str(settings.get(AUTHORITY_URL) or cloud_auth.ENTRA_AUTHORITY),
            )
        return None


CLOUD_ADAPTERS: dict[str, ProviderAdapter] = {
    "bedrock": BedrockAdapter("bedrock", (BEDROCK, BEDROCK_ANTHROPIC), "", auth_header=None, embeddings_path=None),
    "vertex": VertexAdapter("vertex", (GEMINI, ANTHROPIC), "", auth_header=None, embeddings_path=None),
    "azure": AzureAdapter("azure", (OPENAI_CHAT, OPENAI_RESPONSES), "", auth_header="api-key", auth_scheme=""),
}
# The settings each cloud type takes (the UI shows these fields) and what its API key is.
CLOUD_FIELDS: dict[str, tuple[str, ...]] = {
    "bedrock": (REGION, ACCESS_KEY_ID, SESSION_TOKEN),
    "vertex": (REGION, PROJECT),
    "azure": (API_VERSION, TENANT_ID, CLIENT_ID, AUTHORITY_URL),
}
KEY_LABELS = {
    "bedrock": "secret access key (with accessKeyId) or Bedrock API key; empty: the AWS credential chain",
    "vertex": "service-account JSON; empty: Application Default Credentials",
    "azure": "api-key, or the Entra ID client secret (with tenantId and clientId)",
}
# Types whose endpoint is computed from settings rather than required as a URL.
URL_REQUIRED = frozenset({"azure"})
