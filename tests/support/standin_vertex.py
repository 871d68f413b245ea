"""Google Vertex AI stand-in: an OAuth token endpoint for a throwaway service account, and the
Gemini (`generateContent`) and Anthropic (`rawPredict`) publisher endpoints behind a bearer
check, answered by the mock provider.

The token endpoint does what Google's does for a service account: it verifies the RS256
signature of the JWT assertion with the account's public key and its claims (issuer,
audience = the token URI, scope, expiry), then issues a short-lived access token.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.support.standin_server import StandInServer

CLIENT_EMAIL = "omniroute-test@test-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ANTHROPIC_VERSION = "vertex-2023-10-16"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _google_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": code}}


class VertexStandIn(StandInServer):
    def __init__(self, mock_url: str, project: str = "test-project", region: str = "us-east5") -> None:
        super().__init__(mock_url)
        self.project, self.region = project, region
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.tokens_issued: list[str] = []

    def service_account_json(self) -> str:
        """A service-account key file for this stand-in (its token_uri is ours)."""
        pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()  # fmt: skip
        return json.dumps({
            "type": "service_account", "project_id": self.project, "private_key_id": "test-key-1",
            "private_key": pem, "client_email": CLIENT_EMAIL, "client_id": "1",
            "token_uri": f"{self.url}/token",
        })  # fmt: skip

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/token", self.token, methods=["POST"]),
            Route("/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{call:path}",
                  self.predict, methods=["POST"]),
            Route("/v1beta1/publishers/google/models", self.models, methods=["GET"]),
        ]

    def _assertion_error(self, assertion: str) -> str | None:
        try:
            header_b64, claims_b64, signature_b64 = assertion.split(".")
            header, claims = json.loads(_b64decode(header_b64)), json.loads(_b64decode(claims_b64))
            self._key.public_key().verify(_b64decode(signature_b64), f"{header_b64}.{claims_b64}".encode(),
                                          padding.PKCS1v15(), hashes.SHA256())  # fmt: skip
        except (ValueError, InvalidSignature):
            return "invalid JWT signature"
        now = time.time()
        if header.get("alg") != "RS256":
            return f"unsupported alg {header.get('alg')!r}"
        if claims.get("iss") != CLIENT_EMAIL:
            return "invalid issuer"
        # google-auth addresses its assertions to Google's token URI whatever the key file's
        # token_uri says (where it is posted); Google checks that audience.
        if claims.get("aud") not in (GOOGLE_TOKEN_URI, f"{self.url}/token"):
            return f"invalid audience {claims.get('aud')!r}"
        if SCOPE not in str(claims.get("scope", "")).split():
            return "missing cloud-platform scope"
        if not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0)):
            return "assertion expired or not yet valid"
        return None

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.reject(400, "grant_type", {"error": "unsupported_grant_type"})
        problem = self._assertion_error(str(form.get("assertion", "")))
        if problem is not None:
            return self.reject(400, problem, {"error": "invalid_grant", "error_description": problem})
        token = "ya29." + secrets.token_urlsafe(24)
        self.tokens_issued.append(token)
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _bearer_error(self, request: Request) -> Response | None:
        self.requests.append({"method": request.method, "path": request.url.path, "query": request.url.query})
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens_issued:
            return self.reject(401, "bearer", _google_error(401, "UNAUTHENTICATED",
                               "Request had invalid authentication credentials."))  # fmt: skip
        return None

    async def predict(self, request: Request) -> Response:
        refused = self._bearer_error(request)
        if refused is not None:
            return refused
        p = request.path_params
        if (p["project"], p["region"]) != (self.project, self.region):
            return self.reject(404, "location", _google_error(404, "NOT_FOUND",
                               f"project {p['project']} / location {p['region']} not found"))  # fmt: skip
        model, _, action = p["call"].rpartition(":")
        body = json.loads(await request.body())
        if p["publisher"] == "google" and action in ("generateContent", "streamGenerateContent"):
            stream = action == "streamGenerateContent"
            if stream and request.query_params.get("alt") != "sse":
                return self.reject(400, "alt", _google_error(400, "INVALID_ARGUMENT", "this stand-in serves alt=sse"))
            path = f"/v1beta/models/{model}:{action}" + ("?alt=sse" if stream else "")
            return await self.forward(path, body, stream)
        if p["publisher"] == "anthropic" and action in ("rawPredict", "streamRawPredict"):
            if body.get("anthropic_version") != ANTHROPIC_VERSION or "model" in body:
                return self.reject(400, "anthropic body", {"type": "error", "error": {
                    "type": "invalid_request_error",
                    "message": f"anthropic_version must be {ANTHROPIC_VERSION} and model must not be set"}})
            body = {**{k: v for k, v in body.items() if k != "anthropic_version"}, "model": model}
            return await self.forward("/v1/messages", body, action == "streamRawPredict")
        return self.reject(404, "action", _google_error(404, "NOT_FOUND", f"{p['publisher']} has no {action}"))

    async def models(self, request: Request) -> Response:
        refused = self._bearer_error(request)
        if refused is not None:
            return refused
        listing = (await self._http().get("/v1beta/models")).json()
        names = [m["name"].rsplit("/", 1)[-1] for m in listing.get("models", [])]
        return JSONResponse({"publisherModels": [{"name": f"publishers/google/models/{n}"} for n in names]})
