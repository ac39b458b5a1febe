"""What every page shares: templates, the signed-in user, CSRF, form bodies."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from rescue_chassis.network import Network
from rescue_console import wording
from rescue_console.services import Services
from rescue_console.sessions import COOKIE, ConsoleSession, SessionStore
from rescue_console.settings import ConsoleSettings

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["local_time"] = wording.local_time
templates.env.globals["w"] = wording
templates.env.globals["timeline_words"] = wording.timeline_words


KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # what the services accept as an Idempotency-Key


def form_key(values: dict[str, Any]) -> str:
    """The form's Idempotency-Key (minted when the form was shown, so a re-sent form
    replays), or a fresh one when it is missing or malformed."""
    key = values.get("idempotency_key", "")
    if isinstance(key, list):
        key = key[0] if key else ""
    return key if isinstance(key, str) and KEY.match(key) else str(uuid.uuid4())


@dataclass
class Console:
    settings: ConsoleSettings
    sessions: SessionStore
    services: Services
    network: Network


def console_of(request: Request) -> Console:
    return request.app.state.console


ConsoleDep = Annotated[Console, Depends(console_of)]


class SignInNeeded(Exception):
    """No live session: pages redirect to the sign-in page."""


class Forbidden(Exception):
    """A form whose CSRF token or origin does not match."""


def signed_in(request: Request, console: ConsoleDep) -> ConsoleSession:
    session = console.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise SignInNeeded()
    return session


UserDep = Annotated[ConsoleSession, Depends(signed_in)]


async def form_of(request: Request) -> dict[str, list[str]]:
    """An urlencoded form, every value of every name (checkbox lists)."""
    fields: dict[str, list[str]] = {}
    for name, value in parse_qsl((await request.body()).decode("utf-8", "replace"), True):
        fields.setdefault(name, []).append(value)
    return fields


def check_origin(request: Request) -> None:
    # Browsers send Origin on every POST: one from elsewhere is a forged form.
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden()


def check_csrf(request: Request, session: ConsoleSession, form: dict[str, list[str]]) -> None:
    check_origin(request)
    sent = (form.get("csrf") or [""])[0]
    if not secrets.compare_digest(sent.encode(), session.csrf.encode()):
        raise Forbidden()


def page(request: Request, name: str, context: dict, *, status: int = 200, user=None):
    network = request.app.state.console.network
    station = network.station(user.station_id) if user is not None else None
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "station": station,
            "network_station": network.station,
            "now": datetime.now(UTC),
            **context,
        },
        status_code=status,
    )


def still_signed_in(console: Console, user: ConsoleSession, *answers) -> None:
    """A 401 from a service: the token expired or was revoked; the session ends too."""
    if any(answer.status == 401 for answer in answers):
        console.sessions.end(user.id)
        raise SignInNeeded()
