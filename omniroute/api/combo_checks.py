"""`/api/combos/metrics` (what each combo's calls did, summed in SQL from the usage rows) and
`/api/combos/test` (one small call through the engine, reporting which target answered).

Included before the `/api/combos/{id}` routes, which would otherwise take these names for ids.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from omniroute.api.deps import RegistryDep, RouterDep, StoreDep, UsageDep
from omniroute.api.usage import PERIODS, drain
from omniroute.db.tables import UsageLog, units_cost
from omniroute.engine.calls import build_call
from omniroute.engine.errors import EngineError, NotFound
from omniroute.translate.formats import WireFormat

router = APIRouter(prefix="/api/combos", tags=["Combos"])


def _metrics(session: Session, names: list[str], since: datetime) -> dict[str, Any]:
    errors = func.sum(case((col(UsageLog.status) >= 400, 1), else_=0))
    rows = session.exec(
        select(UsageLog.model_requested, UsageLog.model_used, UsageLog.provider, func.count(), errors,
               func.avg(UsageLog.latency_ms), func.sum(UsageLog.tokens_in), func.sum(UsageLog.tokens_out),
               func.sum(UsageLog.cost_units))
        .where(col(UsageLog.model_requested).in_(names), col(UsageLog.created_at) >= since)
        .group_by(UsageLog.model_requested, UsageLog.model_used, UsageLog.provider)
    ).all()
    out: dict[str, Any] = {name: {"requests": 0, "errors": 0, "tokensIn": 0, "tokensOut": 0, "targets": []}
                           for name in names}
    units: dict[str, int] = dict.fromkeys(names, 0)
    for combo, used, provider, count, failed, latency, tokens_in, tokens_out, cost in rows:
        units[combo] += int(cost or 0)
        entry = out[combo]
        entry["requests"] += count
        entry["errors"] += int(failed or 0)
        entry["tokensIn"] += int(tokens_in or 0)
        entry["tokensOut"] += int(tokens_out or 0)
        entry["targets"].append({"model": used, "provider": provider, "requests": count, "errors": int(failed or 0),
                                 "avgLatencyMs": round(float(latency or 0), 1), "cost": f"{units_cost(int(cost or 0)):f}"})
    for name, entry in out.items():
        entry["cost"] = f"{units_cost(units[name]):f}"
    return out


@router.get("/metrics")
async def combo_metrics(store: StoreDep, usage: UsageDep, registry: RegistryDep,
                        period: Literal["day", "week", "month"] = "day") -> dict[str, Any]:
    await drain(usage)
    names = list(registry.snapshot.combos)
    since = datetime.now(UTC) - PERIODS[period]
    combos = await store.run(lambda session: _metrics(session, names, since)) if names else {}
    return {"period": period, "since": since.isoformat(), "combos": combos}


class ComboTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    combo: Annotated[str, Field(min_length=1, max_length=200)]  # its name (or id)
    prompt: Annotated[str, Field(min_length=1, max_length=2000)] = "Reply with the word ok."


@router.post("/test")
async def test_combo(router: RouterDep, registry: RegistryDep, payload: ComboTest) -> dict[str, Any]:
    combos = registry.snapshot.combos
    spec = combos.get(payload.combo) or next((c for c in combos.values() if c.id == payload.combo), None)
    if spec is None:
        raise NotFound(f"combo {payload.combo!r} not found")
    body = {"model": spec.name, "messages": [{"role": "user", "content": payload.prompt}], "max_tokens": 16}
    started = time.perf_counter()
    try:
        reply = await router.dispatch(build_call(WireFormat.OPENAI_CHAT, body, spec.name, False))
    except EngineError as exc:
        return {"ok": False, "combo": spec.name, "status": exc.status, "error": exc.message,
                "latencyMs": round((time.perf_counter() - started) * 1000, 1)}
    result: dict[str, Any] = {
        "ok": reply.status < 400, "combo": spec.name, "status": reply.status,
        "model": reply.headers.get("x-omniroute-model"), "provider": reply.headers.get("x-omniroute-provider"),
        "fallbackAttempts": int(reply.headers.get("x-omniroute-fallback-attempts", "0")),
        "latencyMs": round((time.perf_counter() - started) * 1000, 1),
    }
    if reply.status >= 400:
        try:
            result["error"] = json.loads(reply.body or b"{}").get("error", {}).get("message")
        except (ValueError, AttributeError):
            result["error"] = (reply.body or b"").decode(errors="replace")[:300]
    return result
