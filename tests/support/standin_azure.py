"""Azure OpenAI stand-in: deployment chat completions, the Responses API and the model list,
each checking the path, ``api-version`` and the ``api-key`` header (or an Entra ID bearer
token it issued from its client-credentials token endpoint), answered by the mock provider.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.support.standin_server import StandInServer

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


def _azure_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class AzureStandIn(StandInServer):
    def __init__(self, mock_url: str, api_key: str, api_version: str = "2025-04-01-preview",
                 tenant: str = "test-tenant", client_id: str = "test-client", client_secret: str = "") -> None:
        super().__init__(mock_url)
        self.api_key, self.api_version = api_key, api_version
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.tokens_issued: list[str] = []

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/openai/deployments/{deployment}/chat/completions", self.chat, methods=["POST"]),
            Route("/openai/responses", self.responses, methods=["POST"]),
            Route("/openai/deployments/{deployment}/embeddings", self.embeddings, methods=["POST"]),
            Route("/openai/models", self.models, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
        ]

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (request.path_params["tenant"], form.get("grant_type"), form.get("client_id"), form.get("client_secret"),
                form.get("scope")) != (self.tenant, "client_credentials", self.client_id, self.client_secret,
                                       ENTRA_SCOPE) or not self.client_secret:  # fmt: skip
            return self.reject(401, "client credentials", {"error": "invalid_client",
                               "error_description": "AADSTS7000215: Invalid client secret provided."})  # fmt: skip
        token = "eyJ0eXAi." + secrets.token_urlsafe(24)
        self.tokens_issued.append(token)
        return JSONResponse({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    def _refusal(self, request: Request) -> Response | None:
        self.requests.append({"method": request.method, "path": request.url.path, "query": request.url.query})
        if request.query_params.get("api-version") != self.api_version:
            return self.reject(404, "api-version", _azure_error(404, "404", "Resource not found"))
        bearer = request.headers.get("authorization", "")
        if bearer.startswith("Bearer ") and bearer[7:] in self.tokens_issued:
            return None
        if request.headers.get("api-key") != self.api_key or bearer:
            return self.reject(401, "api-key", _azure_error(401, "401", "Access denied due to invalid subscription "
                               "key or wrong API endpoint. Make sure to provide a valid key for an active "
                               "subscription and use a correct regional API endpoint for your resource."))  # fmt: skip
        return None

    async def chat(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = json.loads(await request.body())
        body["model"] = request.path_params["deployment"]  # the deployment decides the model
        return await self.forward("/v1/chat/completions", body, bool(body.get("stream")))

    async def embeddings(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = {**json.loads(await request.body()), "model": request.path_params["deployment"]}
        return await self.forward("/v1/embeddings", body, False)

    async def responses(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        body = json.loads(await request.body())
        return await self.forward("/v1/responses", body, bool(body.get("stream")))

    async def models(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        return await self.forward("/v1/models", None, False, method="GET")
