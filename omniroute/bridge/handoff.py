"""How a routed agent call reaches the engine, both ways it can go.

A call answered in one piece runs the engine on mitmproxy's loop (`omniroute.bridge.in_process`);
a streamed one is rewritten to the API on loopback (`/v1/bridge/{format}`), carrying who sent it
in the `x-omniroute-*` headers written and read here. Either way the engine's call is built by
`omniroute.engine.calls.build_call` with the same `Origin`.
"""

from __future__ import annotations

from collections.abc import Mapping

from omniroute.bridge.interceptor import Decision
from omniroute.engine.calls import Origin
from omniroute.inspector.ingest import token_matches

# Headers the rewritten request carries to the API on loopback.
H_INTERNAL = "x-omniroute-internal"
H_SOURCE = "x-omniroute-source"
H_AGENT = "x-omniroute-agent"
H_ORIGINAL_HOST = "x-omniroute-original-host"
H_MODEL = "x-omniroute-model"
H_STREAM = "x-omniroute-stream"
H_ASKED_MODEL = "x-omniroute-asked-model"

BRIDGE_SOURCE = "agent-bridge"


def agent_origin(decision: Decision, original_host: str) -> Origin:
    assert decision.agent is not None
    asked = decision.source_model if decision.source_model != decision.target_model else None
    return Origin(BRIDGE_SOURCE, decision.agent.id, original_host, asked)


def handoff_headers(decision: Decision, original_host: str, internal_token: str) -> dict[str, str]:
    """The headers of a call rewritten to the API: its origin, and the engine's model."""
    origin = agent_origin(decision, original_host)
    headers = {
        H_INTERNAL: internal_token,
        H_SOURCE: origin.source,
        H_AGENT: origin.agent or "",
        H_ORIGINAL_HOST: original_host,
    }
    if origin.asked_model:
        headers[H_ASKED_MODEL] = origin.asked_model
    if decision.target_model is not None:
        headers[H_MODEL] = decision.target_model
        headers[H_STREAM] = "1" if decision.stream else "0"
    return headers


def is_internal(headers: Mapping[str, str], internal_token: str) -> bool:
    """The call carries this process's internal token, so our own addon rewrote it."""
    # Compared as bytes: a header may carry any byte, and compare_digest refuses non-ASCII str.
    return bool(internal_token) and token_matches(headers.get(H_INTERNAL), internal_token)


def origin_from_headers(headers: Mapping[str, str], internal_token: str) -> Origin | None:
    """The agent a rewritten call came from; None unless our own addon wrote the headers
    (anyone else could name any agent)."""
    if not is_internal(headers, internal_token):
        return None
    return Origin(headers.get(H_SOURCE, BRIDGE_SOURCE), headers.get(H_AGENT), headers.get(H_ORIGINAL_HOST),
                  headers.get(H_ASKED_MODEL) or None)
