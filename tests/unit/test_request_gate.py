"""The request gate (rescue_chassis.gate) on a small app, in process."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from rescue_chassis import gate, limits
from rescue_chassis.gate import RequestGate
from rescue_chassis.metrics import ServiceMetrics


class Work:
    """A route that holds its turn until released, counting who is inside."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.entered: list[int] = []
        self.release = asyncio.Event()

    def app(self, *, limit: int, queue_timeout: float = 10.0) -> FastAPI:
        app = FastAPI()

        @app.post("/work/{n}")
        async def work(n: int) -> dict:
            self.entered.append(n)
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            try:
                await self.release.wait()
            finally:
                self.inside -= 1
            return {"n": n}

        @app.get("/health/live")
        async def live() -> dict:
            return {"status": "ok"}

        settings = SimpleNamespace(
            max_concurrent_requests=limit, request_queue_timeout_seconds=queue_timeout
        )
        gate.install(app, settings)
        return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def while_one_holds_the_only_turn(app: FastAPI, work: Work, ask) -> httpx.Response:
    """``ask`` (a call on the client) sent while request 1 holds the gate's one turn;
    then the turn is released and request 1 answered."""
    async with client(app) as http:
        holding = asyncio.create_task(http.post("/work/1"))
        await until(lambda: work.entered == [1])
        answer = await ask(http)
        work.release.set()
        assert (await holding).status_code == 200
    return answer


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110  (conditions of several objects)
            await asyncio.sleep(0.005)


async def test_at_most_the_limit_are_worked_on_and_the_rest_wait_in_arrival_order() -> None:
    work = Work()
    app = work.app(limit=2)
    async with client(app) as http:
        calls = []
        for n in range(6):
            calls.append(asyncio.create_task(http.post(f"/work/{n}")))
            await asyncio.sleep(0.01)  # arrive one after another
        await until(lambda: len(work.entered) == 2)
        the_gate: RequestGate = app.state.request_gate
        await until(lambda: the_gate.waiting == 4)
        assert the_gate.in_progress == 2
        work.release.set()
        answers = await asyncio.gather(*calls)
    assert [a.status_code for a in answers] == [200] * 6
    assert work.most_inside == 2
    assert work.entered == [0, 1, 2, 3, 4, 5]
    assert (the_gate.in_progress, the_gate.waiting, the_gate.shed) == (0, 0, 0)


async def test_a_request_without_a_turn_in_time_is_shed_with_503_and_never_reaches_the_route() -> (
    None
):
    work = Work()
    app = work.app(limit=1, queue_timeout=0.05)
    shed = await while_one_holds_the_only_turn(app, work, lambda http: http.post("/work/2"))
    assert shed.status_code == 503
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.headers["retry-after"] == "1"
    body = shed.json()
    assert body["status"] == 503 and "busy" in body["detail"] and body["instance"] == "/work/2"
    assert work.entered == [1]
    assert app.state.request_gate.shed == 1


async def test_health_probes_pass_a_full_gate() -> None:
    work = Work()
    app = work.app(limit=1, queue_timeout=0.05)
    live = await while_one_holds_the_only_turn(app, work, lambda http: http.get("/health/live"))
    assert live.status_code == 200
    assert app.state.request_gate.shed == 0


async def test_the_metrics_show_what_the_gate_holds() -> None:
    work = Work()
    app = work.app(limit=1)
    runtime = SimpleNamespace(name="intake", periodic=[])
    metrics = ServiceMetrics(runtime, [])  # type: ignore[arg-type]
    metrics._app_state = app.state
    async with client(app) as http:
        calls = [asyncio.create_task(http.post(f"/work/{n}")) for n in range(3)]
        await until(lambda: getattr(app.state, "request_gate", None) is not None)
        await until(lambda: app.state.request_gate.waiting == 2)
        shown = {family.name: family.samples[0].value for family in metrics._gate("intake")}
        work.release.set()
        await asyncio.gather(*calls)
    assert shown == {
        "rescue_http_requests_in_progress": 1,
        "rescue_http_requests_waiting": 2,
        "rescue_http_requests_shed": 0,
    }


async def test_a_body_still_arriving_holds_no_turn_and_a_client_gone_reaches_nothing() -> None:
    seen: list[bytes] = []

    async def app(scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        seen.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    the_gate = RequestGate(app, limit=1, queue_timeout=1.0)
    scope = {"type": "http", "path": "/photos", "method": "POST", "headers": []}
    rest_of_body = asyncio.Event()

    async def trickling():
        if not rest_of_body.is_set():
            await rest_of_body.wait()  # the first part only once the test says so
            return {"type": "http.request", "body": b"part two", "more_body": False}
        return {"type": "http.disconnect"}

    parts = iter([{"type": "http.request", "body": b"part one ", "more_body": True}])

    async def slow_client():
        return next(parts, None) or await trickling()

    answered: list[dict] = []

    async def send(message) -> None:
        answered.append(message)

    slow = asyncio.create_task(the_gate(scope, slow_client, send))
    await asyncio.sleep(0.05)
    assert the_gate.in_progress == 0  # half a body: no turn taken

    async def gone():
        return {"type": "http.disconnect"}

    await the_gate(scope, gone, send)  # a client that left before its body
    assert seen == [] and answered == []

    rest_of_body.set()
    await slow
    assert seen == [b"part one part two"]
    assert answered[0]["status"] == 200
    assert (the_gate.in_progress, the_gate.waiting) == (0, 0)


async def test_a_body_over_the_limit_is_refused_by_the_limits_outside_the_gate() -> None:
    work = Work()
    app = work.app(limit=1)
    limits.install(  # after the gate, as create_app does: the limits are outside it
        app,
        SimpleNamespace(
            max_body_bytes=1000,
            max_upload_bytes=1000,
            max_url_bytes=8000,
            max_header_bytes=16000,
            rate_limit_per_second=0,
            rate_limit_burst=1,
        ),
    )
    chunks = iter([b"x" * 600, b"x" * 600])  # no Content-Length: counted as it streams

    async def receive():
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    answered: list[dict] = []

    async def send(message) -> None:
        answered.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/work/1",
        "raw_path": b"/work/1",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    async with asyncio.timeout(5):
        await app(scope, receive, send)
    assert answered[0]["status"] == 413
    assert work.entered == []
    assert app.state.request_gate.in_progress == 0


def test_no_gate_when_the_limit_is_zero() -> None:
    app = Work().app(limit=0)
    assert not any(m.cls is RequestGate for m in app.user_middleware)
