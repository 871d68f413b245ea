"""Mapped, non-streamed agent calls answered on mitmproxy's own loop, without the API hop.

A mapped call otherwise goes to ``/v1/bridge/{format}`` on loopback: a second HTTP exchange
(mitmproxy's client side, uvicorn, the middleware stack) before the engine runs. For a call
answered in one piece the addon can run the engine itself and set the flow's response. A
streamed call still takes the loopback route: mitmproxy cannot stream a response an addon
makes, and the API's StreamingResponse can.

Same engine call as the API's route (`build_call` with the same origin and forwarded headers),
same error bodies in the agent's own format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from omniroute.bridge.handoff import agent_origin
from omniroute.bridge.interceptor import Decision
from omniroute.engine.body import parse_json_object
from omniroute.engine.calls import Reply, build_call
from omniroute.engine.counting import count_for
from omniroute.engine.errors import EngineError
from omniroute.engine.router import Router
from omniroute.translate import TranslationError
from omniroute.translate.errors import client_error_body
from omniroute.translate.formats import WireFormat

log = logging.getLogger("omniroute.bridge")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def answers_in_process(decision: Decision) -> bool:
    """A routed call that wants one JSON answer (Zed's envelope always streams)."""
    return (decision.route and decision.target_model is not None and not decision.stream
            and not decision.websocket and decision.wire_format != WireFormat.ZED)


async def answer(router: Router, decision: Decision, *, original_host: str, body: bytes | None,
                 headers: Mapping[str, str]) -> Answer:
    assert decision.agent is not None and decision.target_model is not None
    fmt = decision.engine_format or decision.wire_format or WireFormat.OPENAI_CHAT
    try:
        if decision.counting:
            counted = await count_for(router, parse_json_object(body), decision.target_model)
            return Answer(200, counted.headers(), counted.body())
        call = build_call(fmt, parse_json_object(decision.engine_body or body), decision.target_model, False,
                          origin=agent_origin(decision, original_host), headers=headers)
        return await _collect(await router.dispatch(call))
    except EngineError as exc:
        return _error(fmt, exc.status, exc.message, exc.param, exc.headers)
    except TranslationError as exc:
        return _error(fmt, 400, str(exc), exc.field)
    except Exception as exc:  # the agent gets one clear line, the log the traceback
        log.exception("in-process dispatch failed for %s", original_host)
        return _error(fmt, 500, f"internal error ({exc.__class__.__name__}); see the OmniRoute log")


async def _collect(reply: Reply) -> Answer:
    body = reply.body
    if body is None:  # a provider that streamed anyway: the agent asked for one piece
        body = b"".join([chunk async for chunk in reply.stream]) if reply.stream is not None else b""
    return Answer(reply.status, {**reply.headers, "content-type": reply.media_type}, body)


def _error(fmt: str, status: int, message: str, param: str | None = None,
           headers: Mapping[str, str] | None = None) -> Answer:
    payload = json.dumps(client_error_body(fmt, status, message, param)).encode()
    return Answer(status, {**(headers or {}), "content-type": "application/json"}, payload)
