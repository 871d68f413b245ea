"""Classify an upstream outcome into what went wrong and what the router should do next.

Pure: the router hands in a status code and headers (or the kind of transport error it caught)
and gets back a ``Classification``; recording it in ``ResilienceState`` is a separate call.

Policy (the OmniRoute API specification, "Resilience Runtime State"):

* 401 → next connection, the connection is marked auth-failed (a bad key does not heal).
* 402 / 403 / "insufficient quota" bodies → connection cooldown, next target.
* 404 → model lockout for (connection, model), next target (other models still served).
* 408 / 429 / 5xx / timeouts / connect errors / reset before the first byte → backoff on the
  connection honouring Retry-After, next target.
* any other 4xx (400, 413, 422 …) → the request itself is wrong; another provider would refuse
  it too, so it goes back to the client untouched.

Only provider-level failures (408, 500, 502, 503, 504, 529 and transport errors) count towards
the provider circuit breaker; 401/403/429 are about one key, not the whole provider.
Whether a fallback is still possible (nothing streamed to the client yet) is the router's call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum


class FailureKind(StrEnum):
    AUTH = "auth"
    QUOTA = "quota"
    MODEL_NOT_FOUND = "model_not_found"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    SERVER = "server"
    CONNECT = "connect"
    RESET = "reset"
    CLIENT = "client"


class FallbackAction(StrEnum):
    MARK_AUTH_FAILED_NEXT = "mark_auth_failed_next"
    COOLDOWN_NEXT = "cooldown_next"
    LOCKOUT_MODEL_NEXT = "lockout_model_next"
    BACKOFF_NEXT = "backoff_next"
    RETURN_TO_CLIENT = "return_to_client"


class TransportError(StrEnum):
    CONNECT_ERROR = "connect_error"
    CONNECT_TIMEOUT = "connect_timeout"
    READ_TIMEOUT = "read_timeout"
    WRITE_TIMEOUT = "write_timeout"
    POOL_TIMEOUT = "pool_timeout"
    RESET_BEFORE_FIRST_BYTE = "reset_before_first_byte"


@dataclass(frozen=True, slots=True)
class Classification:
    kind: FailureKind
    action: FallbackAction
    retry_after: float | None = None  # seconds the upstream asked us to wait, if it said
    trips_breaker: bool = False
    status: int | None = None

    @property
    def fallback(self) -> bool:
        """True when the router should try the next target."""
        return self.action is not FallbackAction.RETURN_TO_CLIENT


BREAKER_STATUSES = frozenset({408, 500, 502, 503, 504, 529})  # 529: Anthropic "overloaded"

# Billing / credit exhaustion reported with a 400 or 429: waiting seconds will not help.
_QUOTA_MARKERS = ("insufficient_quota", "credit balance is too low", "billing_hard_limit")

_BY_STATUS: dict[int, tuple[FailureKind, FallbackAction]] = {
    401: (FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
    402: (FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT),
    403: (FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT),
    404: (FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
    408: (FailureKind.TIMEOUT, FallbackAction.BACKOFF_NEXT),
    429: (FailureKind.RATE_LIMITED, FallbackAction.BACKOFF_NEXT),
}


# Cloud services name the error in a header or the body; some names change what the status
# alone would say. AWS answers a bad signature or key with 403 (not 401), a quota with 400
# and a model failure with 424; Azure names a missing deployment; Google a disabled billing.
_ERROR_CODES: dict[str, tuple[FailureKind, FallbackAction]] = {
    # Amazon Bedrock (x-amzn-ErrorType / __type)
    "unrecognizedclientexception": (FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
    "invalidsignatureexception": (FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
    "expiredtokenexception": (FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
    "missingauthenticationtokenexception": (FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
    "accessdeniedexception": (FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
    "servicequotaexceededexception": (FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT),
    "throttlingexception": (FailureKind.RATE_LIMITED, FallbackAction.BACKOFF_NEXT),
    "modelnotreadyexception": (FailureKind.RATE_LIMITED, FallbackAction.BACKOFF_NEXT),
    "modelerrorexception": (FailureKind.SERVER, FallbackAction.BACKOFF_NEXT),
    "modeltimeoutexception": (FailureKind.TIMEOUT, FallbackAction.BACKOFF_NEXT),
    "serviceunavailableexception": (FailureKind.SERVER, FallbackAction.BACKOFF_NEXT),
    # Azure OpenAI (error.code)
    "deploymentnotfound": (FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
    "operationnotsupported": (FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT),
    "insufficientquota": (FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT),
    # Google Vertex AI (error.status)
    "unauthenticated": (FailureKind.AUTH, FallbackAction.MARK_AUTH_FAILED_NEXT),
    "resource_exhausted": (FailureKind.RATE_LIMITED, FallbackAction.BACKOFF_NEXT),
}
# Refusals that mean "this model is not served here" (wrong region, not enabled for the
# account): another target may serve it, so the model is locked out on this connection.
_MODEL_MARKERS = ("model identifier is invalid", "isn't supported", "is not supported in", "not available in region",
                  "on-demand throughput", "publisher model", "user location is not supported")
_CODE_FIELDS = re.compile(r'"(?:__type|code|status)"\s*:\s*"([A-Za-z_.#:/-]+)"')


def _error_code(headers: Mapping[str, str] | None, body: str | bytes | None) -> str | None:
    """The service's own error name: AWS's x-amzn-ErrorType header, else a body field."""
    raw = _header(headers, "x-amzn-errortype") if headers else None
    if raw is None and body is not None:
        head = body[:2048]
        text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
        for match in _CODE_FIELDS.finditer(text):
            if match.group(1).rsplit("#", 1)[-1].lower() in _ERROR_CODES:
                raw = match.group(1)
                break
    if raw is None:
        return None
    # "ThrottlingException:http://internal.amazon.com/…", "com.amazon.coral…#ThrottlingException"
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].lower()


def classify_status(
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    now: float,
    body: str | bytes | None = None,
) -> Classification | None:
    """Classify an upstream HTTP response; ``None`` for a success (< 400).

    ``body`` is optional and only sniffed (first 2 KiB) for billing markers; ``now`` (epoch
    seconds) is needed to turn an HTTP-date Retry-After into seconds.
    """
    if status < 400:
        return None
    retry_after = retry_after_from_headers(headers, now) if headers else None
    kind_action = _BY_STATUS.get(status)
    if kind_action is None:
        if status >= 500:
            kind_action = (FailureKind.SERVER, FallbackAction.BACKOFF_NEXT)
        else:
            kind_action = (FailureKind.CLIENT, FallbackAction.RETURN_TO_CLIENT)
    kind, action = kind_action
    if status in (400, 429) and body is not None and _mentions_quota(body):
        kind, action = FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT
    code = _error_code(headers, body)
    if code in _ERROR_CODES:
        kind, action = _ERROR_CODES[code]
    elif status in (400, 403, 404) and body is not None and _mentions(body, _MODEL_MARKERS):
        kind, action = FailureKind.MODEL_NOT_FOUND, FallbackAction.LOCKOUT_MODEL_NEXT
    if status == 403 and body is not None and _mentions(body, ("billing",)):
        kind, action = FailureKind.QUOTA, FallbackAction.COOLDOWN_NEXT
    return Classification(kind, action, retry_after, status in BREAKER_STATUSES, status)


_TRANSPORT: dict[TransportError, Classification] = {
    TransportError.CONNECT_ERROR: Classification(
        FailureKind.CONNECT, FallbackAction.BACKOFF_NEXT, None, True
    ),
    TransportError.CONNECT_TIMEOUT: Classification(
        FailureKind.CONNECT, FallbackAction.BACKOFF_NEXT, None, True
    ),
    TransportError.READ_TIMEOUT: Classification(
        FailureKind.TIMEOUT, FallbackAction.BACKOFF_NEXT, None, True
    ),
    TransportError.WRITE_TIMEOUT: Classification(
        FailureKind.TIMEOUT, FallbackAction.BACKOFF_NEXT, None, True
    ),
    # Our own connection pool is exhausted: not the provider's fault, so no breaker count.
    TransportError.POOL_TIMEOUT: Classification(
        FailureKind.TIMEOUT, FallbackAction.BACKOFF_NEXT, None, False
    ),
    TransportError.RESET_BEFORE_FIRST_BYTE: Classification(
        FailureKind.RESET, FallbackAction.BACKOFF_NEXT, None, True
    ),
}


def classify_transport(error: TransportError) -> Classification:
    """Classify a transport-level failure (no HTTP status was received)."""
    return _TRANSPORT[error]


# Matched against the exception's MRO class names, most specific class first, so the engine
# needs no import of httpx (or anyio) to understand their exceptions.
_EXC_NAMES: dict[str, TransportError] = {
    "ConnectTimeout": TransportError.CONNECT_TIMEOUT,
    "ConnectError": TransportError.CONNECT_ERROR,
    "ConnectionRefusedError": TransportError.CONNECT_ERROR,
    "gaierror": TransportError.CONNECT_ERROR,
    "ReadTimeout": TransportError.READ_TIMEOUT,
    "WriteTimeout": TransportError.WRITE_TIMEOUT,
    "PoolTimeout": TransportError.POOL_TIMEOUT,
    "TimeoutException": TransportError.READ_TIMEOUT,
    "TimeoutError": TransportError.READ_TIMEOUT,
    "RemoteProtocolError": TransportError.RESET_BEFORE_FIRST_BYTE,
    "ReadError": TransportError.RESET_BEFORE_FIRST_BYTE,
    "WriteError": TransportError.RESET_BEFORE_FIRST_BYTE,
    "ConnectionResetError": TransportError.RESET_BEFORE_FIRST_BYTE,
    "BrokenPipeError": TransportError.RESET_BEFORE_FIRST_BYTE,
    "IncompleteRead": TransportError.RESET_BEFORE_FIRST_BYTE,
    "ConnectionError": TransportError.CONNECT_ERROR,
    "ProxyError": TransportError.CONNECT_ERROR,
    "NetworkError": TransportError.RESET_BEFORE_FIRST_BYTE,
}


def transport_error_of(exc: BaseException) -> TransportError | None:
    """Map an exception (httpx, h11/h2, OS) to a ``TransportError``; ``None`` if it is not one.

    Cancellation (client disconnect) is deliberately ``None``: it is not an upstream failure.
    """
    for cls in type(exc).__mro__:
        found = _EXC_NAMES.get(cls.__name__)
        if found is not None:
            return found
    return None


def _mentions_quota(body: str | bytes) -> bool:
    return _mentions(body, _QUOTA_MARKERS)


def _mentions(body: str | bytes, markers: tuple[str, ...]) -> bool:
    head = body[:2048]
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
    text = text.lower()
    return any(marker in text for marker in markers)


# --- Retry-After -------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date.

    Returns ``None`` when absent or unparseable; never negative (a date in the past is 0).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are always GMT (asctime form carries no zone)
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_duration(value: str) -> float | None:
    """OpenAI's rate-limit reset format (``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"``)."""
    value = value.strip()
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(value) and pos > 0 else None


def retry_after_from_headers(headers: Mapping[str, str], now: float) -> float | None:
    """The upstream's wait hint: ``retry-after-ms``, then ``retry-after``, then the longest
    of OpenAI's ``x-ratelimit-reset-requests`` / ``-tokens``."""
    ms = _header(headers, "retry-after-ms") or _header(headers, "x-ms-retry-after-ms")  # Azure
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    seconds = parse_retry_after(_header(headers, "retry-after"), now)
    if seconds is not None:
        return seconds
    resets = [
        parsed
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if (raw := _header(headers, name)) is not None and (parsed := parse_duration(raw))
        is not None
    ]
    return max(resets) if resets else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None or not isinstance(headers, dict):
        return value  # httpx.Headers and the like are already case-insensitive
    for key, val in headers.items():
        if key.lower() == name:
            return str(val)
    return None
