"""Per-request auth for cloud providers: AWS SigV4, Google OAuth tokens, Entra ID tokens.

An `Authorizer` turns (method, url, body, headers) into the headers to send. The cloud SDK
pieces (botocore's signer and credential chain, google-auth) are imported on first use, so a
setup without cloud connections never loads them. Anything that may block (credential chains
that ask a metadata service, token endpoints through google-auth's sync transport) runs off
the event loop; tokens are cached until shortly before they expire and refreshed by one
caller at a time. Token requests go out through the connection's upstream proxy (``proxy``,
from the client pool), as its model calls do: a network that only lets the proxy out lets
nothing else out either.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
GOOGLE_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_TOKEN_TIMEOUT = httpx.Timeout(30.0)
_EARLY_REFRESH_S = 300.0  # renew a token this long before it expires
# Google's metadata server (credentials of a VM or a pod) is on the machine's own link: never
# asked through a proxy, as google-auth's own transports do not.
_METADATA_HOSTS = frozenset({"metadata.google.internal", "169.254.169.254"})


class AuthorizationFailed(Exception):
    """Credentials are missing or refused by the token service (an auth failure upstream)."""


class Authorizer(Protocol):
    async def authorize(self, method: str, url: str, body: bytes, headers: dict[str, str],
                        proxy: str | None = None) -> dict[str, str]: ...


class StaticBearer:
    """A long-lived key sent as a bearer token (Bedrock API keys)."""

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    async def authorize(self, method: str, url: str, body: bytes, headers: dict[str, str],
                        proxy: str | None = None) -> dict[str, str]:
        return {**headers, "authorization": self._value}


class SigV4:
    """AWS Signature Version 4 with botocore's signer. Credentials: the connection's access
    key (secret in the API key field, optional session token) or the standard AWS chain
    (environment, shared config/credentials files, SSO, container and instance roles)."""

    SERVICE = "bedrock"  # the signing name of both bedrock and bedrock-runtime

    def __init__(self, region: str, access_key: str | None, secret_key: str | None, session_token: str | None) -> None:
        self.region = region
        self._static = (access_key, secret_key, session_token) if access_key and secret_key else None
        self._credentials: Any = None
        self._lock = asyncio.Lock()

    async def _frozen(self) -> Any:
        from botocore.credentials import Credentials

        if self._static is not None:
            if self._credentials is None:
                self._credentials = Credentials(*self._static).get_frozen_credentials()
            return self._credentials
        async with self._lock:
            if self._credentials is None:
                self._credentials = await asyncio.to_thread(_chain_credentials)
            creds = self._credentials
            if getattr(creds, "refresh_needed", None) is not None and creds.refresh_needed():
                return await asyncio.to_thread(creds.get_frozen_credentials)
            return creds.get_frozen_credentials()

    async def authorize(self, method: str, url: str, body: bytes, headers: dict[str, str],
                        proxy: str | None = None) -> dict[str, str]:
        # Signing is local; the credential chain's own services (SSO, instance roles) are botocore's.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = await self._frozen()
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(credentials, self.SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())


def _chain_credentials() -> Any:
    import botocore.session

    credentials = botocore.session.Session().get_credentials()
    if credentials is None:
        raise AuthorizationFailed(
            "no AWS credentials: set accessKeyId and apiKey (the secret access key) on the "
            "connection, or configure the AWS credential chain (AWS_PROFILE, ~/.aws, a role)"
        )
    return credentials


class _HttpxRequest:
    """google-auth's transport interface over a plain httpx client (no `requests` needed),
    through the connection's proxy."""

    def __init__(self, proxy: str | None = None) -> None:
        self.proxy = proxy

    def __call__(self, url: str, method: str = "GET", body: Any = None, headers: Any = None,
                 timeout: Any = None, **kwargs: Any) -> Any:
        from google.auth import exceptions

        proxy = None if urlsplit(url).hostname in _METADATA_HOSTS else self.proxy
        try:
            with httpx.Client(timeout=_TOKEN_TIMEOUT, trust_env=False, proxy=proxy) as client:
                response = client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise exceptions.TransportError(f"{url}: {exc.__class__.__name__}") from exc
        return _GoogleResponse(response)


class _GoogleResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        self.data = response.content


class GoogleToken:
    """OAuth access tokens for Google Cloud: from the service-account JSON in the API key field
    (its own ``token_uri``), else Application Default Credentials."""

    def __init__(self, service_account_json: str | None) -> None:
        self._info = service_account_json
        self._credentials: Any = None
        self._lock = asyncio.Lock()

    def _load(self) -> Any:
        import google.auth
        from google.oauth2 import service_account

        if not self._info:
            credentials, _ = google.auth.default(scopes=[GOOGLE_SCOPE])
            return credentials
        try:
            info = json.loads(self._info)
            return service_account.Credentials.from_service_account_info(info, scopes=[GOOGLE_SCOPE])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthorizationFailed(f"the service-account JSON is not usable ({exc})") from None

    def _refresh(self, proxy: str | None) -> None:
        from google.auth import exceptions

        if self._credentials is None:
            self._credentials = self._load()
        try:
            self._credentials.refresh(_HttpxRequest(proxy))
        except exceptions.GoogleAuthError as exc:
            raise AuthorizationFailed(f"Google token request failed: {exc}") from None

    async def token(self, proxy: str | None = None) -> str:
        credentials = self._credentials
        if credentials is None or not credentials.valid:
            async with self._lock:
                if self._credentials is None or not self._credentials.valid:
                    await asyncio.to_thread(self._refresh, proxy)
                credentials = self._credentials
        return str(credentials.token)

    async def authorize(self, method: str, url: str, body: bytes, headers: dict[str, str],
                        proxy: str | None = None) -> dict[str, str]:
        return {**headers, "authorization": f"Bearer {await self.token(proxy)}"}


class EntraToken:
    """Microsoft Entra ID client-credentials tokens for Azure OpenAI (tenant, client id, and
    the client secret in the API key field)."""

    def __init__(self, tenant: str, client_id: str, secret: str, authority: str = ENTRA_AUTHORITY) -> None:
        self._url = f"{authority.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        self._form = {"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret, "scope": ENTRA_SCOPE}  # fmt: skip
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def token(self, proxy: str | None = None) -> str:
        if self._token is None or time.monotonic() >= self._expires:
            async with self._lock:
                if self._token is None or time.monotonic() >= self._expires:
                    await self._fetch(proxy)
        assert self._token is not None
        return self._token

    async def _fetch(self, proxy: str | None) -> None:
        try:
            async with httpx.AsyncClient(timeout=_TOKEN_TIMEOUT, trust_env=False, proxy=proxy) as client:
                response = await client.post(self._url, data=self._form)
        except httpx.HTTPError as exc:
            raise AuthorizationFailed(f"Entra ID token endpoint unreachable ({exc.__class__.__name__})") from None
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400 or not isinstance(data, dict) or not data.get("access_token"):
            detail = data.get("error_description") or data.get("error") if isinstance(data, dict) else None
            raise AuthorizationFailed(f"Entra ID refused the client credentials ({response.status_code}: {detail})")
        self._token = str(data["access_token"])
        lifetime = float(data.get("expires_in") or 3600)
        self._expires = time.monotonic() + max(lifetime - _EARLY_REFRESH_S, lifetime / 2)

    async def authorize(self, method: str, url: str, body: bytes, headers: dict[str, str],
                        proxy: str | None = None) -> dict[str, str]:
        return {**headers, "authorization": f"Bearer {await self.token(proxy)}"}
