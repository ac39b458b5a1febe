"""create_app(settings): the console's pages, its security headers and the sign-in."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from opentelemetry.sdk.trace import TracerProvider

from rescue_chassis.network import load_network
from rescue_console import (
    admission,
    board,
    case,
    center,
    hospital,
    partner,
    person,
    referrals,
    returns,
    review,
    revisits,
    suggestions,
    summary,
)
from rescue_console.services import Services
from rescue_console.sessions import COOKIE, SessionStore
from rescue_console.settings import ConsoleSettings
from rescue_console.signin import forget
from rescue_console.signin import router as signin_router
from rescue_console.telemetry import start as start_telemetry
from rescue_console.web import (
    Console,
    ConsoleDep,
    Forbidden,
    SignInNeeded,
    page,
    signed_in,
    wall_clock,
)

SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on forms.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), geolocation=(), microphone=()",
}


def create_app(
    settings: ConsoleSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    tracer_provider: TracerProvider | None = None,
    clock: Callable[[], datetime] = wall_clock,
) -> FastAPI:
    """``transport``: the tests' stand-in for the services; ``tracer_provider``: their
    span recorder (else the services' tracing, from the OTEL_* variables); ``clock``:
    the now deadlines are counted from (a test's fixed one)."""
    telemetry = start_telemetry(settings.log_level, tracer_provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = Services(
            settings.service_urls(SERVICES),
            settings.service_timeout_seconds,
            transport,
            telemetry,
        )
        app.state.console = Console(
            settings=settings,
            sessions=SessionStore(
                idle_seconds=settings.session_idle_minutes * 60,
                max_seconds=settings.session_max_hours * 3600,
            ),
            services=services,
            network=load_network(settings.network_file),
            clock=clock,
        )
        yield
        await services.close()
        telemetry.close()

    app = FastAPI(
        title="救助站工作台", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.state.transport = transport  # the sign-in's calls to the issuer too (signin.py)
    telemetry.install(app, sessions=lambda: len(app.state.console.sessions))

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            # Pages carry personal data: no copy in any cache.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, _exc: SignInNeeded):
        target = "/signin"
        if request.method == "GET" and not request.headers.get("hx-request"):
            target += "?next=" + quote(request.url.path)
        if request.headers.get("hx-request"):
            # A partial must not land inside the board: htmx loads the whole page.
            response = Response(status_code=204, headers={"HX-Redirect": target})
        else:
            response = RedirectResponse(target, status_code=303)
        forget(response, COOKIE)
        return response

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _exc: Forbidden):
        return page(
            request,
            "message.html",
            {"title": "请求被拒绝", "text": "表单已过期或来源不明，请返回重新提交。"},
            status=403,
        )

    @app.get("/health/live", include_in_schema=False)
    async def live():
        return JSONResponse({"status": "ok"})

    @app.get("/health/ready", include_in_schema=False)
    async def ready(request: Request):
        # Settings and network loaded, not the services: a panel says when its service is
        # away, and readiness on them would pull every console out at one service's blip.
        if getattr(request.app.state, "console", None) is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/")
    async def home(request: Request, console: ConsoleDep):
        signed_in(request, console)
        return RedirectResponse("/board", status_code=303)

    app.include_router(signin_router)
    app.include_router(board.router)
    app.include_router(admission.router)
    app.include_router(person.router)
    app.include_router(hospital.router)
    app.include_router(suggestions.router)
    app.include_router(case.router)
    app.include_router(review.router)
    app.include_router(center.router)
    app.include_router(summary.router)
    app.include_router(revisits.router)
    app.include_router(referrals.router)
    app.include_router(partner.router)
    app.include_router(returns.router)
    return app
