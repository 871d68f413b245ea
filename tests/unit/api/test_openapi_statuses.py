"""Our /openapi.json declares what a model call can really answer: the upstream's own status
is relayed (`AttemptFailed.client_status`), so any 4xx or 5xx may reach the caller."""

from __future__ import annotations

import pytest

from omniroute.api.openapi_doc import document, statuses
from omniroute.engine import failures
from omniroute.engine.attempt import AttemptFailed
from omniroute.engine.targets import Target


def _declares(declared: list[int | str], status: int) -> bool:
    return status in declared or f"{status // 100}XX" in declared


@pytest.mark.parametrize("status", [402, 408, 418, 451, 500, 501, 529, 599])
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/messages", "/api/v1/responses",
                                  "/v1beta/models/{target}", "/v1/images/generations"])
def test_every_relayed_upstream_status_is_declared_on_model_calls(path: str, status: int) -> None:
    classification = failures.classify_status(status, now=0.0)
    assert classification is not None
    failed = AttemptFailed(Target("c1", "openai", "m1"), classification, "upstream said no", status, "openai-chat")
    assert failed.client_status == status  # relayed as it came
    assert _declares(statuses(path, "post"), failed.client_status)


def test_model_lists_and_management_routes_keep_their_exact_list() -> None:
    # They never relay an upstream's status: a range there would hide an undeclared answer.
    for path, method in (("/v1/models", "get"), ("/api/tags", "get"), ("/api/providers", "post")):
        assert all(isinstance(s, int) for s in statuses(path, method)), path


def test_ingest_declares_its_token_refusal() -> None:
    assert 401 in statuses("/api/tools/traffic-inspector/internal/ingest", "post")


def test_the_ranges_carry_the_error_schema() -> None:
    schema = document({"paths": {"/v1/chat/completions": {"post": {"responses": {"200": {"description": "ok"}}}}}})
    responses = schema["paths"]["/v1/chat/completions"]["post"]["responses"]
    for key in ("4XX", "5XX"):
        assert responses[key]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
        assert "upstream" in responses[key]["description"]
