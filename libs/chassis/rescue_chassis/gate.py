"""How many requests a service works on at once (``RequestGate``).

A service is one event loop. Past a few requests in progress it gets no more
done, it only slices the same CPU finer: every request then takes as long as
all of them together, and the loop's other work (the outbox relay, the
consumer, the audit writer) waits its turn behind each of their steps
(bench/README.md has the figures).

So at most ``max_concurrent_requests`` are inside the app; the others wait
here, in arrival order, holding only their connection and body. A request
takes its turn once its whole body has arrived, so a slow client holds none
while its bytes trickle in. A request that waited ``request_queue_timeout_seconds``
without a turn is answered 503 with ``Retry-After`` (a station app retries it,
a write with the same Idempotency-Key): an overloaded replica sheds load instead
of piling up work its callers gave up on. Health probes and ``/metrics`` never
wait: a busy replica is not a dead one.

Inside the input limits (a refused request waits for nothing, and a body is
bounded before the gate reads it). The gate counts requests, not what they do:
a deployment whose routes hold a turn long (face search) sets a larger limit.
"""

from __future__ import annotations

import asyncio
from collections import deque

from rescue_chassis.limits import EXEMPT_PREFIXES
from rescue_chassis.problems import send_problem


class RequestGate:
    """Pure ASGI (see rescue_chassis.app.CorrelationMiddleware for why)."""

    def __init__(self, app, *, limit: int, queue_timeout: float, state=None) -> None:
        if limit < 1:
            raise ValueError("max_concurrent_requests must be at least 1")
        self.app = app
        self.limit = limit
        self.queue_timeout = queue_timeout
        self._turns = asyncio.Semaphore(limit)
        # read by /metrics
        self.in_progress = 0
        self.waiting = 0
        self.shed = 0
        if state is not None:
            state.request_gate = self

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        # The body first, then the turn: a client whose bytes trickle in (a station
        # on a weak mobile line, sending a photo) holds no turn meanwhile. The body
        # is bounded by then: InputLimits, outside the gate, counts what is read.
        arrived = await _whole_body(receive)
        if arrived is None:
            return  # the client left before its body arrived: nobody to answer
        if not await self._wait_for_turn():
            self.shed += 1
            await send_problem(
                send,
                scope,
                503,
                "Service Busy",
                f"the service is busy: no turn within {self.queue_timeout:g} s; retry later "
                "(a write with the same Idempotency-Key)",
                {"Retry-After": "1"},
            )
            return

        async def receive_arrived():
            return arrived.popleft() if arrived else await receive()

        self.in_progress += 1
        try:
            await self.app(scope, receive_arrived, send)
        finally:
            self.in_progress -= 1
            self._turns.release()

    async def _wait_for_turn(self) -> bool:
        if not self._turns.locked():
            await self._turns.acquire()  # free now: no waiting, no timer
            return True
        self.waiting += 1
        try:
            async with asyncio.timeout(self.queue_timeout):
                await self._turns.acquire()
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1


async def _whole_body(receive) -> deque | None:
    """The request's messages up to the end of its body; None if it disconnected."""
    messages: deque = deque()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        messages.append(message)
        if not message.get("more_body", False):
            return messages


def install(app, settings) -> None:
    """The gate of ``settings`` on ``app`` (a limit of 0 turns it off). Starlette
    builds the middleware when the app first starts; the gate then puts itself
    in ``app.state.request_gate``, where /metrics reads it."""
    if settings.max_concurrent_requests > 0:
        app.add_middleware(
            RequestGate,
            state=app.state,
            limit=settings.max_concurrent_requests,
            queue_timeout=settings.request_queue_timeout_seconds,
        )
