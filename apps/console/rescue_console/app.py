"""create_app(settings): the console's pages, its security headers and the sign-in."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from rescue_chassis.auth import mint_token
from rescue_chassis.network import load_network
from rescue_console import admission, board, hospital, person
from rescue_console.services import Services
from rescue_console.sessions import COOKIE, SessionStore
from rescue_console.settings import ConsoleSettings
from rescue_console.web import (
    Console,
    ConsoleDep,
    Forbidden,
    SignInNeeded,
    check_csrf,
    check_origin,
    form_of,
    page,
    signed_in,
)

SERVICES = ("intake", "search", "transfer", "referral", "followup")
SIGN_IN_COOKIE = "console_signin"  # the sign-in form's CSRF token, before any session
SIGN_IN_ROLES = ("station_staff", "station_lead", "center_coordinator", "search_specialist")

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
    settings: ConsoleSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """``transport``: the tests' stand-in for the services."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = Services(
            {name: settings.service_url(name) for name in SERVICES},
            settings.service_timeout_seconds,
            transport,
        )
        app.state.console = Console(
            settings=settings,
            sessions=SessionStore(
                idle_seconds=settings.session_idle_minutes * 60,
                max_seconds=settings.session_max_hours * 3600,
            ),
            services=services,
            network=load_network(settings.network_file),
        )
        yield
        await services.close()

    app = FastAPI(
        title="救助站工作台", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

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
        _forget(response, COOKIE)
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

    @app.get("/")
    async def home(request: Request, console: ConsoleDep):
        signed_in(request, console)
        return RedirectResponse("/board", status_code=303)

    @app.get("/signin")
    async def sign_in_page(request: Request, console: ConsoleDep, next: str = "/board"):
        if not console.settings.dev_jwt_secret:
            return page(
                request,
                "message.html",
                {"title": "无法登录", "text": "尚未配置登录方式。"},
                status=503,
            )
        csrf = secrets.token_urlsafe(32)
        response = page(request, "signin.html", _sign_in_context(console, csrf, _local(next)))
        _cookie(response, console, SIGN_IN_COOKIE, csrf, max_age=900)
        return response

    @app.post("/signin")
    async def sign_in(request: Request, console: ConsoleDep):
        settings = console.settings
        form = await form_of(request)
        check_origin(request)
        sent = (form.get("csrf") or [""])[0]
        expected = request.cookies.get(SIGN_IN_COOKIE) or ""
        if (
            not settings.dev_jwt_secret
            or not expected
            or not secrets.compare_digest(sent, expected)
        ):
            raise Forbidden()
        station_id = (form.get("station_id") or [""])[0]
        roles = [r for r in form.get("roles", []) if r in SIGN_IN_ROLES]
        subject = (form.get("subject") or [""])[0].strip()[:64]
        errors = {}
        if console.network.station(station_id) is None:
            errors["station_id"] = "请选择本网络的救助站。"
        if not roles:
            errors["roles"] = "请至少选择一个角色。"
        if not subject:
            errors["subject"] = "请填写工号或姓名。"
        if errors:
            context = _sign_in_context(console, expected, _local((form.get("next") or [""])[0]))
            return page(
                request, "signin.html", {**context, "errors": errors, "form": form}, status=422
            )
        token = mint_token(
            secret=settings.dev_jwt_secret,
            subject=subject,
            station_id=station_id,
            roles=roles,
            audience=settings.dev_jwt_audience,
            issuer=settings.dev_jwt_issuer,
            ttl_seconds=settings.session_max_hours * 3600,
        )
        console.sessions.end(request.cookies.get(COOKIE))  # a new id at sign-in, never the old
        session = console.sessions.start(
            token=token, subject=subject, station_id=station_id, roles=roles
        )
        response = RedirectResponse(_local((form.get("next") or [""])[0]), status_code=303)
        _cookie(response, console, COOKIE, session.id)
        _forget(response, SIGN_IN_COOKIE)
        return response

    @app.post("/signout")
    async def sign_out(request: Request, console: ConsoleDep):
        user = signed_in(request, console)
        check_csrf(request, user, await form_of(request))
        console.sessions.end(user.id)
        response = RedirectResponse("/signin", status_code=303)
        _forget(response, COOKIE)
        return response

    app.include_router(board.router)
    app.include_router(admission.router)
    app.include_router(person.router)
    app.include_router(hospital.router)
    return app


def _sign_in_context(console: Console, csrf: str, next_path: str) -> dict:
    return {
        "csrf": csrf,
        "next": next_path,
        "stations": list(console.network.stations.values()),
        "roles": SIGN_IN_ROLES,
        "errors": {},
        "form": {},
    }


def _local(path: str) -> str:
    # Only a path of this console: never an open redirect.
    return (
        path
        if path.startswith("/") and not path.startswith("//") and "\\" not in path
        else "/board"
    )


def _cookie(
    response: Response, console: Console, name: str, value: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=console.settings.cookie_secure,
    )


def _forget(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict")
