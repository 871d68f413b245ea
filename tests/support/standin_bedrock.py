"""Amazon Bedrock stand-in: verifies each request's AWS Signature V4, then answers Converse /
ConverseStream through the mock provider's Anthropic endpoint.

The signature is recomputed with botocore's signer from the request as received (method, raw
path and query, the headers named in SignedHeaders, the body) and the known secret key, the
way AWS does; the credential scope must name the expected key, region and ``bedrock``.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from omniroute.translate import StreamTranslator, translate_request, translate_response
from omniroute.translate.bedrock_anthropic import ANTHROPIC_VERSION as INVOKE_VERSION
from omniroute.translate.bedrock_anthropic import chunk_event
from omniroute.translate.sse import SSEDecoder
from tests.support.standin_server import StandInServer

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_EXCEPTIONS = {400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException",
               404: "ResourceNotFoundException", 429: "ThrottlingException", 500: "InternalServerException",
               503: "ServiceUnavailableException"}  # fmt: skip
EVENTSTREAM = "application/vnd.amazon.eventstream"


def _aws_error(status: int, name: str, message: str) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps({"message": message}).encode(), {"x-amzn-errortype": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"}


class BedrockStandIn(StandInServer):
    def __init__(self, mock_url: str, access_key: str, secret_key: str, region: str = "us-east-1",
                 session_token: str | None = None, api_key: str | None = None) -> None:
        super().__init__(mock_url)
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.session_token = session_token
        self.api_key = api_key  # a Bedrock API key, accepted as a bearer token instead of SigV4
        self.verified = 0  # requests whose signature checked out

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/model/{model_id:path}/converse", self.converse, methods=["POST"]),
            Route("/model/{model_id:path}/converse-stream", self.converse_stream, methods=["POST"]),
            Route("/model/{model_id:path}/invoke", self.invoke, methods=["POST"]),
            Route("/model/{model_id:path}/invoke-with-response-stream", self.invoke_stream, methods=["POST"]),
            Route("/foundation-models", self.foundation_models, methods=["GET"]),
        ]

    def _refuse(self, status: int, name: str, message: str) -> Response:
        code, body, headers = _aws_error(status, name, message)
        return self.reject(code, f"{name}: {message}", json.loads(body), headers)

    async def _check(self, request: Request) -> tuple[Response | None, bytes]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        body = await request.body()
        self.requests.append({"method": request.method, "path": request.url.path, "query": request.url.query})
        authorization = request.headers.get("authorization", "")
        if self.api_key is not None and authorization.startswith("Bearer "):
            if not hmac.compare_digest(authorization[7:], self.api_key):
                return self._refuse(403, "UnrecognizedClientException", "The API key is invalid."), body
            self.verified += 1
            return None, body
        match = _AUTH.match(authorization)
        if match is None:
            return self._refuse(403, "MissingAuthenticationTokenException", "Missing Authentication Token"), body
        if match["key"] != self.access_key:
            return self._refuse(403, "UnrecognizedClientException", "The security token included in the request is invalid."), body
        if (match["region"], match["service"]) != (self.region, "bedrock"):
            return self._refuse(403, "InvalidSignatureException", f"Credential should be scoped to a valid region and service ({match['region']}/{match['service']})"), body
        amz_date = request.headers.get("x-amz-date", "")
        try:
            when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._refuse(403, "InvalidSignatureException", "X-Amz-Date is missing or malformed"), body
        if abs((datetime.now(UTC) - when).total_seconds()) > 300 or match["date"] != amz_date[:8]:
            return self._refuse(403, "InvalidSignatureException", "Signature expired"), body
        if self.session_token is not None and request.headers.get("x-amz-security-token") != self.session_token:
            return self._refuse(403, "UnrecognizedClientException", "The security token included in the request is invalid."), body
        signed = match["signed"].split(";")
        raw_path = request.scope["raw_path"].decode("latin-1")
        query = request.scope["query_string"].decode("latin-1")
        url = f"http://{request.headers['host']}{raw_path}" + (f"?{query}" if query else "")
        aws_request = AWSRequest(method=request.method, url=url, data=body,
                                 headers={name: request.headers.get(name, "") for name in signed})  # fmt: skip
        aws_request.context["timestamp"] = amz_date
        auth = SigV4Auth(Credentials(self.access_key, self.secret_key, self.session_token), "bedrock", self.region)
        expected = auth.signature(auth.string_to_sign(aws_request, auth.canonical_request(aws_request)), aws_request)
        if not hmac.compare_digest(expected, match["signature"]):
            return self._refuse(403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."), body
        self.verified += 1
        return None, body

    def _anthropic_body(self, raw: bytes, model_id: str, stream: bool) -> dict[str, Any]:
        converse = json.loads(raw)
        if "modelId" in converse or "model" in converse:
            raise ValueError("the model id belongs in the URL")
        body = translate_request("bedrock", "anthropic", converse)
        body.update(model=model_id, stream=stream)
        return body

    @staticmethod
    def _convert(status: int, content: bytes) -> tuple[int, bytes, dict[str, str]]:
        data = json.loads(content)
        if status >= 400:
            message = (data.get("error") or {}).get("message", "error") if isinstance(data, dict) else "error"
            return _aws_error(status, _EXCEPTIONS.get(status, "InternalServerException"), message)
        return status, json.dumps(translate_response("anthropic", "bedrock", data)).encode(), {}

    async def converse(self, request: Request) -> Response:
        return await self._call(request, stream=False)

    async def converse_stream(self, request: Request) -> Response:
        return await self._call(request, stream=True)

    async def _call(self, request: Request, stream: bool) -> Response:
        refused, raw = await self._check(request)
        if refused is not None:
            return refused
        model_id = request.path_params["model_id"]
        try:
            body = self._anthropic_body(raw, model_id, stream)
        except (ValueError, KeyError, TypeError) as exc:
            return self._refuse(400, "ValidationException", f"malformed Converse request: {exc}")

        def stream_convert() -> Any:
            translator = StreamTranslator("anthropic", "bedrock", model_id)
            return lambda chunk: translator.finish() if chunk is None else translator.feed(chunk)

        return await self.forward("/v1/messages", body, stream, EVENTSTREAM, self._convert, stream_convert)

    async def invoke(self, request: Request) -> Response:
        return await self._invoke(request, stream=False)

    async def invoke_stream(self, request: Request) -> Response:
        return await self._invoke(request, stream=True)

    async def _invoke(self, request: Request, stream: bool) -> Response:
        """Anthropic's body with Bedrock's version and no model or stream field; a stream comes
        back as ``chunk`` events each carrying one Anthropic event, base64 encoded."""
        refused, raw = await self._check(request)
        if refused is not None:
            return refused
        body = json.loads(raw)
        self.requests[-1]["body"] = dict(body)
        if body.pop("anthropic_version", None) != INVOKE_VERSION or {"model", "stream", "metadata"} & body.keys():
            return self._refuse(400, "ValidationException", f"anthropic_version must be {INVOKE_VERSION}; "
                                "model, stream and metadata are not permitted")  # fmt: skip
        body.update(model=request.path_params["model_id"], stream=stream)

        def stream_convert() -> Any:
            decoder = SSEDecoder()

            def step(chunk: bytes | None) -> bytes:
                frames = decoder.flush() if chunk is None else decoder.feed(chunk)
                return b"".join(chunk_event(data) for _, data in frames if data)

            return step

        def convert(status: int, content: bytes) -> tuple[int, bytes, dict[str, str]]:
            if status < 400:
                return status, content, {}
            return self._convert(status, content)

        return await self.forward("/v1/messages", body, stream, EVENTSTREAM, convert, stream_convert)

    async def foundation_models(self, request: Request) -> Response:
        refused, _ = await self._check(request)
        if refused is not None:
            return refused
        listing = (await self._http().get("/v1/models")).json()
        summaries = [{"modelId": m["id"], "providerName": "Anthropic", "modelArn": f"arn:aws:bedrock:{self.region}::foundation-model/{m['id']}"}
                     for m in listing.get("data", [])]  # fmt: skip
        return JSONResponse({"modelSummaries": summaries})
