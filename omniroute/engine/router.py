"""The routing engine: one code path for `/v1` clients and rewritten agent traffic.

resolve the model → order the targets (combo strategy) → skip what resilience says is
unavailable → call the upstream in its own format (translating when the client speaks
another) → fall back on failures that happen before the first byte reaches the client →
record resilience, strategy and usage outcomes.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx

from omniroute import __version__
from omniroute.engine import failures
from omniroute.engine.admission import Admission
from omniroute.engine.attempt import Attempt, AttemptFailed, Outcome
from omniroute.engine.calls import Call, Reply
from omniroute.engine.errors import BadRequest, EngineError, ModelNotFound, UpstreamError
from omniroute.engine.limits import DEFAULT_LIMITS, LimitExceeded, UpstreamLimits
from omniroute.engine.pricing import PriceTable, format_cost
from omniroute.engine.registry import Registry
from omniroute.engine.request_shaping import NO_SHAPING, Shaping
from omniroute.engine.resilience import ResilienceState
from omniroute.engine.resolve import Resolution, resolve
from omniroute.engine.strategies import InMemoryStrategyState, StrategyStateStore, order_targets
from omniroute.engine.stream_pipe import StreamPipe
from omniroute.engine.targets import Target
from omniroute.engine.usage import UsageRecord, UsageRecorder
from omniroute.providers.pool import TIMEOUT_KEY, ClientPool
from omniroute.translate import TranslationError


class Router:
    def __init__(
        self,
        registry: Registry,
        pool: ClientPool,
        usage: UsageRecorder | None = None,
        resilience: ResilienceState | None = None,
        prices: PriceTable | None = None,
        rng: random.Random | None = None,
        strategy_state: StrategyStateStore | None = None,
        limits: UpstreamLimits | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.registry = registry
        # Rate limits, budgets, sessions: checked before any work (`engine.admission`).
        self.admission = admission
        # The user's routing settings (`engine.runtime_settings` keeps them current): what
        # every upstream body gets, and how many targets of a combo one call may try.
        self.shaping: Shaping = NO_SHAPING
        self.max_combo_attempts: int | None = None
        self.limits = limits or DEFAULT_LIMITS
        self.pool = pool
        self.usage = usage
        # Wall-clock times: state shared through Redis must mean the same on every machine.
        self.resilience = resilience or ResilienceState(clock=time.time)
        # Round-robin cursors, least-used counters, latency samples: in memory, or in Redis
        # when several instances serve one team (`omniroute.shared`).
        self.strategy_state: StrategyStateStore = strategy_state or InMemoryStrategyState()
        self.prices = prices or PriceTable()
        self.rng = rng or random.Random()

    # -- public ---------------------------------------------------------------------------
    async def dispatch(self, call: Call) -> Reply:
        if self.admission is not None:
            try:
                await self.admission.admit(call)
            except EngineError as exc:
                self._record_failure(call, exc, admitted=False)
                raise
        try:
            resolution = resolve(call.model, self.registry.snapshot)
            return await self._dispatch(call, resolution)
        except EngineError as exc:
            self._record_failure(call, exc)
            raise

    # -- internals ------------------------------------------------------------------------
    def _ordered(self, resolution: Resolution) -> list[Target]:
        combo = resolution.combo
        if combo is None:
            return list(resolution.targets)
        return order_targets(
            combo.strategy,
            combo.name,
            list(resolution.targets),
            self.strategy_state,
            self.rng,
            time.time(),
            price_of=self.prices.price_of,
            health=self.resilience,
        )

    async def _dispatch(self, call: Call, resolution: Resolution) -> Reply:
        targets = self._ordered(resolution)
        combo_name = resolution.combo.name if resolution.combo else call.model
        skipped: list[str] = []
        unsupported: list[str] = []  # targets whose provider does not serve the client's endpoint
        retry_in: float | None = None  # soonest moment a skipped target may be tried again
        attempts = 0
        last: AttemptFailed | None = None
        most = self.max_combo_attempts if resolution.combo is not None else None
        trail = call.ctx.trail
        for target in targets:
            if most is not None and attempts >= most:
                skipped.append(f"combo attempt limit ({most}, comboDefaults.maxAttempts) reached")
                break
            availability = self.resilience.available(target, time.time())
            if not availability:
                skipped.append(f"{target.model}@{target.connection_id[:8]}: {availability.reason}")
                trail.skipped(target.model, availability.reason)
                if availability.retry_in is not None:
                    retry_in = availability.retry_in if retry_in is None else min(retry_in, availability.retry_in)
                continue
            connection = self.registry.snapshot.connections.get(target.connection_id)
            if connection is None:
                continue
            if not connection.adapter.can_serve(call.client_format):
                unsupported.append(f"{connection.name} ({connection.provider}) has no {call.client_format} endpoint")
                trail.skipped(f"{connection.name}/{target.model}", unsupported[-1])
                continue
            attempts += 1
            upstream = self.pool.upstream(connection.id, connection.max_concurrent, connection.extra.get(TIMEOUT_KEY))
            attempt = Attempt(call, connection, target, upstream, self.limits.for_connection(connection.extra),
                              self.shaping)
            self.strategy_state.on_start(combo_name, target)
            try:
                outcome = await attempt.run()
            except AttemptFailed as failed:
                self.strategy_state.on_finish(combo_name, target, ok=False)
                last = failed
                self._learn_failure(target, failed.classification)
                trail.failed(f"{connection.name}/{target.model}", failed.status, failed.message,
                             str(failed.classification.kind), failed.classification.fallback)
                if not failed.classification.fallback:
                    return self._client_error(call, failed, attempts)
                continue
            except TranslationError as exc:
                self.strategy_state.on_finish(combo_name, target, ok=False)
                raise BadRequest(str(exc), param=exc.field) from None
            except asyncio.CancelledError:
                # The client hung up before the first byte (the API cancels the call): not the
                # upstream's fault, so no resilience verdict; recorded as 499 like a mid-stream
                # hang-up. Cancelling the attempt closed its upstream connection.
                self.strategy_state.on_finish(combo_name, target, ok=True)
                self._record(call, target, None, 499, attempts, error="client disconnected")
                raise
            except BaseException:
                self.strategy_state.on_finish(combo_name, target, ok=False)
                raise
            trail.answered(f"{connection.name}/{target.model}")
            return self._reply(call, attempt, outcome, combo_name, attempts)
        if last is not None:
            raise UpstreamError(
                f"all {attempts} target(s) for {call.model!r} failed; last: {last.message}",
                status=last.client_status,
                headers={**_retry_headers(last), **trail.header()},
            )
        if unsupported and not skipped:
            # No waiting makes this work: the client asked for an endpoint these providers lack.
            raise BadRequest(f"no provider for {call.model!r} serves this endpoint: {'; '.join(unsupported)}",
                             param="model")
        if not skipped:
            # Nothing to wait for: every target's connection is disabled or was deleted since.
            raise ModelNotFound(f"model {call.model!r} routes to no active provider connection: enable or add "
                                "one, or point the alias or combo at another", param="model")
        detail = "; ".join(skipped + unsupported)
        headers = {"retry-after": str(max(1, math.ceil(retry_in)))} if retry_in is not None else {}
        headers.update(trail.header())
        raise UpstreamError(
            f"no target for {call.model!r} is available right now ({detail})", status=503, headers=headers
        )

    def _learn_failure(self, target: Target, classification: failures.Classification) -> None:
        self.resilience.record_failure(
            target,
            classification.kind,
            time.time(),
            classification.retry_after,
            trips_breaker=classification.trips_breaker,
        )

    def _client_error(self, call: Call, failed: AttemptFailed, attempts: int) -> Reply:
        """A 4xx that is the client's own fault: returned as the upstream said it."""
        body = failed.client_body(call.client_format)
        headers = self._base_headers(call, failed.target, failed.target.provider, attempts)
        self._record(call, failed.target, None, failed.status, attempts, error=failed.message)
        return Reply(failed.status, headers, "application/json", body=json.dumps(body).encode())

    def _base_headers(self, call: Call, target: Target, provider: str, attempts: int) -> dict[str, str]:
        return {
            "x-omniroute-request-id": call.ctx.request_id,
            "x-omniroute-model": target.model,
            "x-omniroute-provider": provider,
            "x-omniroute-fallback-attempts": str(attempts - 1),
            "x-omniroute-version": __version__,
            **call.ctx.trail.header(),
        }

    def _reply(
        self, call: Call, attempt: Attempt, outcome: Outcome, combo_name: str, attempts: int
    ) -> Reply:
        target = attempt.target
        headers = self._base_headers(call, target, attempt.connection.provider, attempts)
        if outcome.stream is None:
            self._succeed(combo_name, target, outcome.upstream_ms)
            usage = outcome.usage
            cost = self._cost(target, attempt.connection.provider, usage)
            headers.update(
                {
                    "x-omniroute-tokens-in": str(usage.input_tokens),
                    "x-omniroute-tokens-out": str(usage.output_tokens),
                    "x-omniroute-response-cost": format_cost(cost or Decimal(0)),
                    "x-omniroute-latency-ms": f"{(time.perf_counter() - call.ctx.started) * 1000:.1f}",
                }
            )
            self._record(call, target, attempt, 200, attempts, usage=usage, cost=cost, upstream_ms=outcome.upstream_ms)
            return Reply(outcome.status, headers, outcome.media_type, body=outcome.body)
        return Reply(
            outcome.status,
            headers,
            outcome.media_type,
            stream=self._relay(call, attempt, outcome.stream, combo_name, attempts),
        )

    async def _relay(
        self, call: Call, attempt: Attempt, pipe: StreamPipe, combo_name: str, attempts: int
    ) -> AsyncIterator[bytes]:
        """Stream to the client; after the first byte a failure ends it in the client's format."""
        target = attempt.target
        error: str | None = None
        status = 200
        try:
            async for chunk in pipe:
                yield chunk
        except httpx.HTTPError as exc:
            error = f"upstream stream broke: {exc.__class__.__name__}"
            status = 502
            classification = failures.classify_transport(
                failures.transport_error_of(exc) or failures.TransportError.CONNECT_ERROR
            )
            self._learn_failure(target, classification)
            self.strategy_state.on_finish(combo_name, target, ok=False)
            yield pipe.error(error, 502)
        except LimitExceeded as exc:
            error, status = f"upstream stream stopped: {exc.message}", exc.status
            if exc.is_timeout:
                learned = failures.classify_transport(failures.TransportError.READ_TIMEOUT)
            else:
                learned = failures.classify_status(502, now=time.time())  # type: ignore[assignment]
            self._learn_failure(target, learned)
            self.strategy_state.on_finish(combo_name, target, ok=False)
            yield pipe.error(error, status)
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away: not the upstream's fault, so no resilience verdict, but
            # the attempt is over for the strategies' in-flight counts.
            error, status = "client disconnected", 499
            self.strategy_state.on_finish(combo_name, target, ok=True)
            raise
        else:
            self._succeed(combo_name, target, pipe.upstream_ms)
        finally:
            # Closing an unfinished upstream response drops its connection (no reuse of a
            # half-read stream); httpcore shields the close from our own cancellation.
            await pipe.aclose()
            usage = pipe.usage
            cost = self._cost(target, attempt.connection.provider, usage)
            self._record(
                call, target, attempt, status, attempts,
                usage=usage, cost=cost, upstream_ms=pipe.upstream_ms, error=error,
            )

    def _succeed(self, combo_name: str, target: Target, upstream_ms: float | None) -> None:
        self.resilience.record_success(target, upstream_ms or 0.0, time.time())
        self.strategy_state.on_finish(combo_name, target, ok=True, latency_ms=upstream_ms)

    def _cost(self, target: Target, provider: str, usage: Any) -> Any:
        return self.prices.priced_cost(
            target.model, provider, usage.input_tokens, usage.output_tokens, usage.cached_input_tokens
        )

    def _record(
        self,
        call: Call,
        target: Target | None,
        attempt: Attempt | None,
        status: int,
        attempts: int,
        *,
        usage: Any = None,
        cost: Any = None,
        upstream_ms: float | None = None,
        error: str | None = None,
        admitted: bool = True,
    ) -> None:
        if admitted and self.admission is not None:
            self.admission.finished(call, cost)
        if self.usage is None:
            return
        record = UsageRecord(
            request_id=call.ctx.request_id,
            source=call.ctx.source,
            client_format=call.client_format,
            model_requested=call.ctx.asked_model or call.model,
            agent=call.ctx.agent,
            api_key_id=call.ctx.api_key_id,
            model_used=target.model if target else None,
            provider=target.provider if target else None,
            connection_id=target.connection_id if target else None,
            latency_ms=(time.perf_counter() - call.ctx.started) * 1000,
            upstream_latency_ms=upstream_ms,
            fallback_attempts=max(attempts - 1, 0),
            status=status,
            error=error,
        )
        if usage is not None:
            record.tokens_in = usage.input_tokens
            record.tokens_out = usage.output_tokens
            record.tokens_cached = usage.cached_input_tokens
            record.cost = cost  # None: no price known for the model ("unknown", never $0)
        self.usage.record(record)

    def _record_failure(self, call: Call, exc: EngineError, admitted: bool = True) -> None:
        self._record(call, None, None, exc.status, 0, error=exc.message, admitted=admitted)


def _retry_headers(failed: AttemptFailed) -> dict[str, str]:
    retry_after = failed.classification.retry_after
    return {"retry-after": str(max(1, round(retry_after)))} if retry_after else {}
