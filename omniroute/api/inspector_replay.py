"""`POST /api/tools/traffic-inspector/requests/{id}/replay`: re-send a captured call.

The captured request goes through the engine (`Router.dispatch`) in its own wire format, with
the model taken from, in order: the `model` override, the model the call was mapped to, the
model the agent asked for. The replay is recorded like any engine call (a usage row with source
`replay`). What is replayed, and what is not:

- the body as stored, i.e. masked: secrets in the body (rare in model calls) stay masked, and a
  body cut at the capture cap cannot be replayed (400);
- no headers: the agent's credentials were never stored; the engine uses the connection's key;
- not the original host: the engine picks the provider for the model.

The answer is the engine's reply, streamed when the call streams (as `/v1` would answer it).
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from omniroute.api.deps import CaptureDep, RouterDep
from omniroute.api.fields import NoControl
from omniroute.api.guards import loopback_only
from omniroute.api.hangup import StreamReply
from omniroute.api.inspector import PREFIX, find_row
from omniroute.bridge.wire import extract_model, wants_stream
from omniroute.engine.calls import Call, Origin, build_call
from omniroute.engine.errors import BadRequest, EngineError, ModelNotFound
from omniroute.inspector import direct
from omniroute.inspector.model import InterceptedRequest
from omniroute.translate.formats import TRANSLATED

router = APIRouter(prefix=PREFIX, tags=["Traffic Inspector"], dependencies=[Depends(loopback_only)])

GEMINI_FORMATS = ("gemini", "gemini-cloudcode")


class ReplayPost(BaseModel):
    model: Annotated[str, Field(max_length=512), NoControl] | None = None
    stream: bool | None = None  # default: as the captured call


def replay_call(row: InterceptedRequest, model: str | None, stream: bool | None) -> Call:
    """The engine call that replays a row (BadRequest when it cannot be replayed)."""
    fmt = row.wire_format
    if fmt not in TRANSLATED:
        raise BadRequest(f"only model calls can be replayed; this one is {fmt or 'not a model call'}")
    if row.request_truncated or row.request_body_encoding != "text":
        raise BadRequest("the captured request body was truncated or is binary; it cannot be replayed")
    try:
        body = json.loads(row.request_body or "")
    except ValueError:
        raise BadRequest("the captured request body is not JSON; it cannot be replayed") from None
    if not isinstance(body, dict):
        raise BadRequest("the captured request body is not a JSON object; it cannot be replayed")
    target = (model or "").strip() or row.mapped_model or row.source_model or extract_model(None, body, row.path)
    if not target:
        raise BadRequest("no model known for this request; pass one as 'model'", param="model")
    if "model" in body and fmt not in GEMINI_FORMATS:
        body["model"] = target
    if stream is None:
        stream = wants_stream(fmt, row.path, body)
    if fmt not in GEMINI_FORMATS and "stream" in body:
        body["stream"] = stream
    return build_call(fmt, body, target, stream, origin=Origin("replay", row.agent, row.host))


@router.post("/requests/{request_id}/replay")
async def replay(
    request: Request, router: RouterDep, capture: CaptureDep, row: Annotated[InterceptedRequest, Depends(find_row)],
    payload: ReplayPost | None = None,
) -> Response:
    """Re-send a captured model call through the engine (consumes quota; usage source `replay`).

    The stored body is replayed as stored — masked, so masked secrets stay masked; a body cut at
    the capture cap is refused. Headers are not replayed (the agent's credentials were never
    stored; the engine uses the connection's key). Model: `model` if given, else the model the
    call was mapped to, else the one the agent asked for. A model nothing routes is a 400 (the
    404 of this route means the captured request is gone).
    """
    options = payload or ReplayPost()
    call = replay_call(row, options.model, options.stream)
    # The replay gets its own row (source `replay`), noted as the replay of the original.
    body = json.dumps(call.body).encode()
    mark = direct.start(capture, request, body, request_id=call.ctx.request_id, agent=row.agent,
                        wire_format=call.client_format, stream=call.stream, source_model=row.source_model or call.model,
                        mapped_model=call.model, source=direct.REPLAY, note=f"replay of {row.id}")
    try:
        reply = await router.dispatch(call)
    except ModelNotFound as exc:
        # A 404 on this URL would read as "no such captured request": the row exists, the
        # model it was replayed with does not.
        refused = BadRequest(f"not replayed: {exc.message}", param="model")
        if mark is not None:
            direct.failed(capture, mark, refused, call.client_format)
        raise refused from None
    except EngineError as exc:
        if mark is not None:
            direct.failed(capture, mark, exc, call.client_format)
        raise
    headers = {**reply.headers, "x-omniroute-replay-of": row.id, "x-omniroute-replay-model": call.model}
    if reply.stream is not None:
        chunks = reply.stream if mark is None else direct.tee(capture, mark, reply.status, headers, reply.stream)
        return StreamReply(chunks, reply.status, {**headers, "cache-control": "no-cache"},
                           media_type=reply.media_type)
    if mark is not None:
        direct.finish(capture, mark, reply.status, headers, reply.body or b"", len(reply.body or b""))
    return Response(reply.body, reply.status, headers, media_type=reply.media_type)

