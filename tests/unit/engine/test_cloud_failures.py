"""Cloud services' errors classified for fallback and cooldown (Bedrock, Vertex AI, Azure)."""

from __future__ import annotations

import pytest

from omniroute.engine.failures import (
    FailureKind,
    FallbackAction,
    classify_status,
    retry_after_from_headers,
)

NOW = 1_700_000_000.0
AMZN = "x-amzn-errortype"


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "action"),
    [
        # AWS refuses a bad signature / unknown key with 403, which alone would mean "quota".
        (403, {AMZN: "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/"},
         '{"message":"The request signature we calculated does not match"}', FailureKind.AUTH,
         FallbackAction.MARK_AUTH_FAILED_NEXT),
        (403, {AMZN: "UnrecognizedClientException"}, '{"message":"The security token included in the request is invalid."}',
         FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
        (400, {AMZN: "ExpiredTokenException"}, '{"message":"The security token included in the request is expired"}',
         FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
        # Model access not granted in this account/region: other models may still work.
        (403, {AMZN: "AccessDeniedException"}, '{"message":"You don\'t have access to the model with the specified model ID."}',
         FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
        (400, {AMZN: "ServiceQuotaExceededException"}, '{"message":"Too many tokens per day"}', FailureKind.QUOTA,
         FallbackAction.COOLDOWN_NEXT),
        (429, {AMZN: "ThrottlingException"}, '{"message":"Too many requests, please wait before trying again."}',
         FailureKind.RATE_LIMITED, FallbackAction.BACKOFF_NEXT),
        (424, {AMZN: "ModelErrorException"}, '{"message":"The model returned an error"}', FailureKind.SERVER,
         FallbackAction.BACKOFF_NEXT),
        # Wrong region for the model: a ValidationException naming it.
        (400, {AMZN: "ValidationException"}, '{"message":"The provided model identifier is invalid."}',
         FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
        (400, {AMZN: "ValidationException"}, '{"message":"messages: final assistant content cannot end with whitespace"}',
         FailureKind.CLIENT, FallbackAction.RETURN_TO_CLIENT),
        # The __type field (some Bedrock errors carry it in the body only).
        (400, {}, '{"__type":"com.amazon.coral.service#ServiceQuotaExceededException","message":"quota"}',
         FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT),
        # Azure OpenAI
        (404, {}, '{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}',
         FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
        (400, {}, '{"error":{"code":"OperationNotSupported","message":"The chatCompletion operation does not work with the specified model"}}',
         FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
        (400, {}, '{"error":{"code":"content_filter","message":"The response was filtered"}}', FailureKind.CLIENT,
         FallbackAction.RETURN_TO_CLIENT),
        # Google Vertex AI
        (429, {}, '{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute","status":"RESOURCE_EXHAUSTED"}}',
         FailureKind.RATE_LIMITED, FallbackAction.BACKOFF_NEXT),
        (403, {}, '{"error":{"code":403,"message":"This API method requires billing to be enabled.","status":"PERMISSION_DENIED"}}',
         FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT),
        (404, {}, '{"error":{"code":404,"message":"Publisher Model `projects/p/locations/europe-west1/publishers/google/models/gemini-x` was not found","status":"NOT_FOUND"}}',
         FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
        (400, {}, '{"error":{"code":400,"message":"User location is not supported for the API use.","status":"FAILED_PRECONDITION"}}',
         FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
    ],
)
def test_cloud_errors(status: int, headers: dict[str, str], body: str, kind: FailureKind, action: FallbackAction) -> None:
    result = classify_status(status, headers, now=NOW, body=body)
    assert result is not None
    assert (result.kind, result.action) == (kind, action)


def test_azure_retry_after_ms_header() -> None:
    assert retry_after_from_headers({"x-ms-retry-after-ms": "1500"}, NOW) == 1.5
