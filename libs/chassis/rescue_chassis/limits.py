"""Input bounds every service shares, as one pure-ASGI middleware (``InputLimits``).

Checked before the request reaches a route, cheapest first:

- URL and headers: a path and query longer than ``max_url_bytes`` is a 414, headers
  larger than ``max_header_bytes`` together a 431. (uvicorn's h11 parser already
  refuses a request head over 16 KiB; these hold whatever server runs the app.)
- Rate: a token bucket per authenticated subject, or per client address when the
  request carries no token that verifies: ``rate_limit_per_second`` sustained,
  ``rate_limit_burst`` at once; past it a 429 with ``Retry-After``. The buckets live
  in the process: with N replicas a subject may send N times as much. The token is
  verified (with the app's own verifier, cached for a minute) before its subject
  is trusted, so nobody drains another's bucket with a forged token. Health probes
  and ``/metrics`` are never limited. The defaults are generous (the benchmarks
  drive one subject at several hundred requests a second); a deployment sets what
  its clients really need.
- Body: at most ``max_body_bytes`` unless the route declares more with
  ``openapi_extra=body_limit(n)`` (photos, signatures), never more than
  ``max_upload_bytes``. A declared ``Content-Length`` over the limit is refused
  before a byte is read; a body without one (chunked) is counted as it streams and
  refused as soon as it passes the limit: nothing unbounded is held in memory.
  Either way a 413. JSON depth and size are bounded by this too.
- NUL: no text of this network may hold one (Postgres cannot store it; it is
  never meaningful): ``%00`` in the URL is a 400, ``\\u0000`` in a JSON body a 422,
  before any handler (or the audit trail) sees the value.

And no stack trace reaches a client: an exception nothing else handled is logged
here, with the request's correlation id, and answered with a generic 500 problem
naming that id (inside the correlation middleware, so the answer carries the
``X-Correlation-ID`` header as well).

Every refusal is an ``application/problem+json`` body (``rescue_chassis.problems``).
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.routing import Match

from rescue_chassis.auth import app_verifier
from rescue_chassis.problems import send_problem, served_routes
from rescue_events.context import current

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB
BODY_LIMIT_KEY = "x-max-body-bytes"  # the route's declaration, also shown in its OpenAPI
EXEMPT_PREFIXES = ("/health/", "/metrics")
_VERIFIED_TTL = 60.0  # seconds a verified token's subject is remembered
_VERIFIED_MAX = 10_000
_BUCKETS_MAX = 50_000
_TOKEN_MAX = 8 * KIB  # longer "tokens" are not worth verifying for a rate key
_NUL_IN_URL = b"%00"
_NUL_IN_JSON = b"\\u0000"  # the only way JSON writes NUL (a raw one is invalid JSON)

Identify = Callable[[dict[str, Any]], Awaitable[str | None]]


def body_limit(max_bytes: int) -> dict[str, int]:
    """A route's own body allowance, as ``openapi_extra``:
    ``@router.post("/photos", openapi_extra=body_limit(3 * MIB))``."""
    return {BODY_LIMIT_KEY: int(max_bytes)}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit. An
    HTTPException, so FastAPI's body reading lets it through to the problem handler."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"The request body is larger than {limit} bytes.",
            headers={"Connection": "close"},
        )


class NulInBody(HTTPException):
    """A JSON text with NUL (``\\u0000``): no text of this network may hold one (the
    database cannot store it, and it is never meaningful in a name or a note)."""

    def __init__(self) -> None:
        super().__init__(422, "A text of the request holds a NUL character (\\u0000).")


class TokenBuckets:
    """A token bucket per key: ``rate`` tokens a second, at most ``burst`` held."""

    def __init__(self, rate: float, burst: int, max_keys: int = _BUCKETS_MAX) -> None:
        self.rate = rate
        self.burst = max(1, int(burst))
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token: 0.0 if there was one, else the seconds until there is."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = [float(self.burst), now]
        else:
            self._buckets.move_to_end(key)
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as none; then the least recently used.
        refilled = self.burst / self.rate
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst or now - at >= refilled
        ]
        for key in full:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


class VerifiedSubjects:
    """The subject of a bearer token, if the app's verifier accepts it (as
    ``rescue_chassis.auth`` would); remembered for a minute per token."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, float]] = {}

    async def __call__(self, scope: dict[str, Any]) -> str | None:
        token = _bearer(scope)
        if token is None:
            return None
        now = time.monotonic()
        known = self._known.get(token)
        if known is not None and known[1] > now:
            return known[0]
        verifier = _verifier(scope)
        if verifier is None:
            return None
        try:
            principal = await verifier.verify(token)
        except Exception:  # noqa: BLE001  (refused or unverifiable: not a subject)
            return None
        if len(self._known) >= _VERIFIED_MAX:
            self._known.clear()
        self._known[token] = (principal.subject, now + _VERIFIED_TTL)
        return principal.subject


def _bearer(scope: dict[str, Any]) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and 0 < len(token) <= _TOKEN_MAX:
                return token
            return None
    return None


def _verifier(scope: dict[str, Any]):
    """The app's token verifier (the one ``rescue_chassis.auth`` uses and caches)."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    if state is None:
        return None
    verifier = getattr(state, "token_verifier", None)
    if verifier is None and getattr(state, "runtime", None) is not None:
        verifier = app_verifier(state)
    return verifier


class InputLimits:
    """See the module docstring. Pure ASGI (see ``rescue_chassis.app.CorrelationMiddleware``)."""

    def __init__(
        self,
        app,
        *,
        max_body_bytes: int = 1 * MIB,
        max_upload_bytes: int = 16 * MIB,
        max_url_bytes: int = 8 * KIB,
        max_header_bytes: int = 16 * KIB,
        rate_per_second: float = 200.0,
        burst: int = 10_000,
        identify: Identify | None = None,
        exempt_prefixes: tuple[str, ...] = EXEMPT_PREFIXES,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max(max_upload_bytes, max_body_bytes)
        self.max_url_bytes = max_url_bytes
        self.max_header_bytes = max_header_bytes
        self.buckets = TokenBuckets(rate_per_second, burst) if rate_per_second > 0 else None
        self.identify = identify or VerifiedSubjects()
        self.exempt_prefixes = exempt_prefixes
        self._route_limits: list[tuple[Any, int]] | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # ---- URL and headers
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope.get("query_string", b"")
        )
        if url_bytes > self.max_url_bytes:
            await send_problem(
                send, scope, 414, "URI too long", f"At most {self.max_url_bytes} bytes."
            )
            return
        if _NUL_IN_URL in (scope.get("raw_path") or b"") or _NUL_IN_URL in scope.get(
            "query_string", b""
        ):
            await send_problem(
                send, scope, 400, "Bad request", "The URL holds a NUL character (%00)."
            )
            return
        header_bytes = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if header_bytes > self.max_header_bytes:
            await send_problem(
                send,
                scope,
                431,
                "Request header fields too large",
                f"At most {self.max_header_bytes} bytes of headers together.",
            )
            return

        # ---- rate
        if self.buckets is not None and not scope["path"].startswith(self.exempt_prefixes):
            subject = await self.identify(scope)
            key = f"sub:{subject}" if subject else f"addr:{_client(scope)}"
            wait = self.buckets.take(key)
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                await send_problem(
                    send,
                    scope,
                    429,
                    "Too many requests",
                    f"Request rate limit reached; retry after {retry_after} s.",
                    {"Retry-After": str(retry_after)},
                )
                return

        # ---- body
        limit = self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            limit = self._limit_for(scope)
            if declared > limit:
                await send_problem(
                    send,
                    scope,
                    413,
                    "Payload too large",
                    f"The request body is larger than {limit} bytes.",
                    {"Connection": "close"},
                )
                return
        received = 0
        looked_up = limit != self.max_body_bytes
        json_body = _is_json(scope)
        tail = b""

        async def receive_counted():
            nonlocal received, limit, looked_up, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit and not looked_up:
                    looked_up = True
                    limit = self._limit_for(scope)
                if received > limit:
                    raise BodyTooLarge(limit)
                if json_body and chunk:
                    if _NUL_IN_JSON in tail + chunk[: len(_NUL_IN_JSON)] or _NUL_IN_JSON in chunk:
                        raise NulInBody()
                    tail = chunk[-(len(_NUL_IN_JSON) - 1) :]
            return message

        started = False

        async def send_tracked(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive_counted, send_tracked)
        except (BodyTooLarge, NulInBody) as exc:  # read outside a route (else FastAPI answers)
            if started:
                raise
            title = "Payload too large" if exc.status_code == 413 else "Invalid request"
            await send_problem(send, scope, exc.status_code, title, exc.detail, exc.headers)
        except Exception:
            if started:
                raise  # nothing more can be said to this client; the server closes
            context = current()
            correlation_id = context.correlation_id if context else None
            log.exception(
                "unhandled error on %s %s (correlation id %s)",
                scope["method"],
                scope["path"][:200],
                correlation_id,
            )
            detail = "Something went wrong; it has been logged."
            if correlation_id:
                detail += f" Correlation id: {correlation_id}."
            await send_problem(
                send,
                scope,
                500,
                "Internal error",
                detail,
                extra={"correlation_id": correlation_id} if correlation_id else None,
            )

    def _limit_for(self, scope) -> int:
        """The body allowance of the route this request is for (or the default)."""
        if self._route_limits is None:
            self._route_limits = _declared_limits(scope.get("app"))
        for route, limit in self._route_limits:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return min(limit, self.max_upload_bytes)
        return self.max_body_bytes


def _declared_limits(app) -> list[tuple[Any, int]]:
    found = []
    for route in served_routes(app):  # included routers' routes too, with their prefixes
        extra = getattr(route.original_route, "openapi_extra", None) or {}
        if BODY_LIMIT_KEY in extra:
            found.append((route, int(extra[BODY_LIMIT_KEY])))
    return found


def _is_json(scope) -> bool:
    for key, value in scope["headers"]:
        if key == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def _content_length(scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _client(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def install(app, settings) -> None:
    """The limits of ``settings`` (``rescue_chassis.settings``) on ``app``."""
    app.add_middleware(
        InputLimits,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        max_url_bytes=settings.max_url_bytes,
        max_header_bytes=settings.max_header_bytes,
        rate_per_second=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
    )
