"""What every page shares: templates, the signed-in user, CSRF, form bodies, and a
form posted to a service (``submit``)."""

from __future__ import annotations

import inspect
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from rescue_chassis.network import Network
from rescue_console import wording
from rescue_console.services import Answer, Services
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


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Console:
    settings: ConsoleSettings
    sessions: SessionStore
    services: Services
    network: Network
    clock: Callable[[], datetime] = wall_clock  # now, for deadlines (tests freeze it)


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
    console = request.app.state.console
    network = console.network
    station = network.station(user.station_id) if user is not None else None
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "station": station,
            "network_station": network.station,
            "now": console.clock(),
            **context,
        },
        status_code=status,
    )


def still_signed_in(console: Console, user: ConsoleSession, *answers) -> None:
    """A 401 from a service: the token expired or was revoked; the session ends too."""
    if any(answer.status == 401 for answer in answers):
        console.sessions.end(user.id)
        raise SignInNeeded()


# ---- a form posted to a service ---------------------------------------------------------

#: The not-found page's words (title, text): the same whether the record does not
#: exist or is not the user's to see, so a page never tells which.
RECORD_MISSING = ("查无此人或无权查看", "该记录不存在，或不在您的查看范围内。")


def not_found_page(request: Request, user: ConsoleSession, words: tuple[str, str] = RECORD_MISSING):
    title, text = words
    return page(request, "message.html", {"title": title, "text": text}, status=404, user=user)


def is_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@dataclass
class Posted:
    """A posted form, its CSRF token checked: every value of every name, one value per
    name (all of them for ``lists``), and its Idempotency-Key."""

    form: dict[str, list[str]]
    values: dict[str, Any]
    key: str


async def posted(request: Request, user: ConsoleSession, lists: tuple[str, ...] = ()) -> Posted:
    form = await form_of(request)
    check_csrf(request, user, form)
    values = {name: vals if name in lists else vals[0] for name, vals in form.items()}
    return Posted(form, values, form_key(values))


Said = str | Callable[[Answer], str]


@dataclass
class Refused:
    """A form the service did not take, to be shown again with why: ``errors`` next to
    the form's fields, ``general`` above it, and the key to show it with."""

    answer: Answer
    sent: str  # the Idempotency-Key it was sent with
    errors: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            # Unknown outcome: the same key makes the retry count once. Refused:
            # nothing changed, the next try is new.
            self.key = self.sent if self.answer.unreachable else str(uuid.uuid4())

    @property
    def status(self) -> int:
        """422 when a field is named, else the service's (503: it never answered)."""
        return 422 if self.errors else self.answer.status or 503

    def explain(
        self, away: str, statuses: Mapping[int, Said] | None = None, refused: str = "未被接受"
    ) -> None:
        """The words above the form: ``away`` when the service did not answer, the
        form's words for a status it knows (403, 409…), else what the service said,
        when nothing names a field (``refused``: the words before it)."""
        answer = self.answer
        said = (statuses or {}).get(answer.status)
        if answer.unreachable:
            self.general.append(away)
        elif said is not None:
            self.general.append(said(answer) if callable(said) else said)
        elif not self.errors and not self.general:
            self.general.append(f"{refused}：{answer.detail or answer.status}")


async def submit(
    request: Request,
    console: Console,
    user: ConsoleSession,
    service: str,
    path: str,
    body: Any,
    key: str,
    *,
    done: str | Callable[[Answer], Any],
    again: Callable[[Refused], Any],
    missing: tuple[str, str] | None = RECORD_MISSING,
) -> Response:
    """POST a form's body to a service with the form's Idempotency-Key. Taken: a 303 to
    ``done`` (a URL whose ``?done=``/anchor says what happened; or a function of the
    answer giving the URL or the page, may be async). A 404: the not-found page with
    the ``missing`` words (None: a refusal like the others). Else the form ``again``
    with the refusal (a page, or an awaitable of one)."""
    answer = await console.services.call(
        user.token, service, "POST", path, json=body, headers={"Idempotency-Key": key}
    )
    still_signed_in(console, user, answer)
    if answer.ok:
        target = await _awaited(done(answer) if callable(done) else done)
        return RedirectResponse(target, status_code=303) if isinstance(target, str) else target
    if answer.status == 404 and missing is not None:
        return not_found_page(request, user, missing)
    return await _awaited(again(Refused(answer, key)))


async def _awaited(value):
    return await value if inspect.isawaitable(value) else value
