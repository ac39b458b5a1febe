"""Signing in and out.

With ``CONSOLE_OIDC_ISSUER``: the authorization code flow with PKCE (S256) at the
issuer the services trust. ``state`` and ``nonce`` are checked at the callback,
the id_token is verified against the issuer's keys (rescue_chassis.oidc), the
access token as the services verify it; the token stays in the console's memory
(sessions.py). Sign-out ends the session, then the issuer's (end-session endpoint).

Without it, with ``CONSOLE_DEV_JWT_SECRET``: the development sign-in (the tests'
networks), minting a token as ``make token`` does with the shared secret, for the
three kinds of account: a station's staff, a partner agency, a town or village.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from rescue_chassis.auth import ClaimMapping, mint_token, principal_from_claims
from rescue_chassis.network import Network
from rescue_chassis.oidc import JwksCache, KeysUnavailable, OidcVerifier
from rescue_chassis.problems import Problem
from rescue_console.sessions import COOKIE
from rescue_console.settings import ConsoleSettings
from rescue_console.web import (
    Console,
    ConsoleDep,
    Forbidden,
    check_csrf,
    check_origin,
    form_of,
    page,
    signed_in,
)

router = APIRouter()

SIGN_IN_COOKIE = "console_signin"  # the dev sign-in form's CSRF token, before any session
OIDC_COOKIE = "console_oidc"  # the sign-in under way, between the redirect and the callback
SIGN_IN_ROLES = ("station_staff", "station_lead", "center_coordinator", "search_specialist")
# The kinds of account (the services' principals: docs/local-network.md's tokens).
ACCOUNT_KINDS = {"station": "救助站工作人员", "partner": "合作单位", "town": "乡镇/村"}
PARTNER_TYPES = {
    "police": "公安机关",
    "womens_federation": "妇女联合会",
    "minor_protection": "未成年人保护机构",
    "civil_affairs": "民政部门",
    "hospital": "医院（无自有系统）",
    "social_organisation": "社会组织",
}
PARTNER_EXAMPLES = ("gushi-police", "xinyang-pingqiao-womens-federation")
AREA_CODE = re.compile(r"[0-9]{9}(?:[0-9]{3})?")  # a town's 9 digits, a village's 12
CALLBACK = "/signin/callback"
SIGNED_OUT = "/signed-out"


# ------------------------------------------------------------------ the issuer ---


class SignInFailed(Exception):
    """The issuer's answer does not hold: no session."""


class OidcClient:
    """The console as a client of the issuer: discovery, code exchange, tokens."""

    def __init__(
        self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        assert settings.oidc_issuer
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self.transport = transport
        self.algorithms = [a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()]
        self.keys = JwksCache(
            issuer=self.issuer, timeout=settings.service_timeout_seconds, transport=transport
        )
        self.access = OidcVerifier(
            self.keys,
            issuer=self.issuer,
            audience=settings.oidc_audience,
            algorithms=self.algorithms,
        )
        self.mapping = ClaimMapping.parse(settings.oidc_station_claim, settings.oidc_roles_claim)
        self._metadata: dict[str, Any] | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self.settings.service_timeout_seconds,
            transport=self.transport,
            follow_redirects=False,
        )

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched once (again after a failure)."""
        if self._metadata is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            async with self._http() as http:
                answer = await http.get(url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            document = answer.json()
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise SignInFailed("the discovery document names another issuer")
            for name in ("authorization_endpoint", "token_endpoint"):
                if not str(document.get(name, "")).startswith(("https://", "http://")):
                    raise SignInFailed(f"the discovery document names no {name}")
            self._metadata = document
        return self._metadata

    async def exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.settings.oidc_client_id,
            "code_verifier": verifier,
        }
        if self.settings.oidc_client_secret is not None:
            form["client_secret"] = self.settings.oidc_client_secret.get_secret_value()
        endpoint = (await self.metadata())["token_endpoint"]
        async with self._http() as http:
            answer = await http.post(endpoint, data=form, headers={"Accept": "application/json"})
        if answer.status_code != 200:
            raise SignInFailed(f"the token endpoint answered {answer.status_code}")
        tokens = answer.json()
        if not isinstance(tokens, dict) or not all(
            isinstance(tokens.get(k), str) for k in ("access_token", "id_token")
        ):
            raise SignInFailed("the token endpoint gave no access_token and id_token")
        return tokens

    async def id_claims(self, id_token: str, nonce: str) -> Mapping[str, Any]:
        """The id_token's claims, verified: signature, issuer, audience (this
        client), times, and the nonce of this sign-in."""
        header = jwt.get_unverified_header(id_token)
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise jwt.InvalidAlgorithmError(f"id_token algorithm {str(algorithm)[:20]!r}")
        kid = header.get("kid")
        key = await self.keys.signing_key(kid if isinstance(kid, str) else None, algorithm)
        claims = jwt.decode(
            id_token,
            key,
            algorithms=[algorithm],
            audience=self.settings.oidc_client_id,
            issuer=self.issuer,
            leeway=30,
            options={"require": ["exp", "iat", "sub", "aud", "iss", "nonce"]},
        )
        if not secrets.compare_digest(str(claims["nonce"]).encode(), nonce.encode()):
            raise SignInFailed("the id_token's nonce is not this sign-in's")
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1:
            if claims.get("azp") != self.settings.oidc_client_id:
                raise SignInFailed("the id_token names another authorised party")
        return claims


def oidc_client(request: Request, console: Console) -> OidcClient:
    """One per app: its discovery document and key cache live as long as the app."""
    state = request.app.state
    client = getattr(state, "oidc_client", None)
    if client is None:
        client = state.oidc_client = OidcClient(console.settings, getattr(state, "transport", None))
    return client


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, its S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def console_base(request: Request, console: Console) -> str:
    if console.settings.public_url is not None:
        return str(console.settings.public_url).rstrip("/")
    return str(request.base_url).rstrip("/")


# ---------------------------------------------------------------------- routes ---


@router.get("/signin")
async def sign_in_page(request: Request, console: ConsoleDep, next: str = "/board"):
    settings = console.settings
    if settings.oidc_issuer:
        return await _to_issuer(request, console, local(next))
    if not settings.dev_jwt_secret:
        return page(
            request,
            "message.html",
            {"title": "无法登录", "text": "尚未配置登录方式。"},
            status=503,
        )
    csrf = secrets.token_urlsafe(32)
    kind = request.query_params.get("kind", "station")
    context = _sign_in_context(console, csrf, local(next), kind)
    response = page(request, "signin.html", context)
    set_cookie(response, console, SIGN_IN_COOKIE, csrf, max_age=900)
    return response


async def _to_issuer(request: Request, console: Console, next_path: str) -> Response:
    client = oidc_client(request, console)
    try:
        endpoint = (await client.metadata())["authorization_endpoint"]
    except (httpx.HTTPError, ValueError, SignInFailed):
        return _failed(request, "认证服务暂时无法访问，请稍后再试。", status=503)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    held = console.sessions.hold_sign_in(
        state=state, nonce=nonce, verifier=verifier, next_path=next_path
    )
    query = {
        "response_type": "code",
        "client_id": console.settings.oidc_client_id,
        "redirect_uri": console_base(request, console) + CALLBACK,
        "scope": console.settings.oidc_scopes,
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    response = RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)
    # Lax, not Strict: the issuer's redirect back is a navigation from another site.
    set_cookie(response, console, OIDC_COOKIE, held, max_age=600, samesite="lax")
    return response


@router.get(CALLBACK)
async def callback(
    request: Request, console: ConsoleDep, code: str = "", state: str = "", error: str = ""
):
    if not console.settings.oidc_issuer:
        raise Forbidden()
    pending = console.sessions.take_sign_in(request.cookies.get(OIDC_COOKIE))
    if (
        pending is None
        or not state
        or not secrets.compare_digest(state.encode(), pending.state.encode())
    ):
        response = _failed(request, "登录请求已失效或来源不明，请重新登录。", status=400)
        forget(response, OIDC_COOKIE)
        return response
    if error or not code:
        return _failed(request, "认证服务未完成登录，请重新登录。", status=400)
    client = oidc_client(request, console)
    try:
        tokens = await client.exchange(
            code, pending.verifier, console_base(request, console) + CALLBACK
        )
        identity = await client.id_claims(tokens["id_token"], pending.nonce)
        claims = await client.access.claims(tokens["access_token"])
        principal = principal_from_claims(claims, client.mapping)
        if principal.subject != identity["sub"]:
            raise SignInFailed("the access token names another user than the id_token")
    except KeysUnavailable:
        return _failed(request, "认证服务暂时无法访问，请稍后再试。", status=503)
    except (httpx.HTTPError, ValueError, jwt.InvalidTokenError, SignInFailed, Problem):
        return _failed(request, "登录未通过校验，请重新登录。", status=401)
    console.sessions.end(request.cookies.get(COOKIE))  # a new id at sign-in, never the old
    session = console.sessions.start(
        token=tokens["access_token"],
        subject=str(identity.get("name") or identity.get("preferred_username") or identity["sub"]),
        station_id=principal.station_id,
        roles=sorted(principal.roles),
        id_token=tokens["id_token"],
        token_expires_at=principal.expires_at,
    )
    # A page that moves on by itself: after a redirect chain from another site the
    # browser would not send the Strict session cookie with a plain redirect.
    entering = landing(pending.next_path, principal.roles)
    response = page(request, "signin.html", {"entering": entering})
    response.headers["Refresh"] = f"0; url={entering}"
    set_cookie(response, console, COOKIE, session.id)
    forget(response, OIDC_COOKIE)
    return response


@router.post("/signin")
async def sign_in(request: Request, console: ConsoleDep):
    """The development sign-in's form."""
    settings = console.settings
    form = await form_of(request)
    check_origin(request)
    sent = (form.get("csrf") or [""])[0]
    expected = request.cookies.get(SIGN_IN_COOKIE) or ""
    if (
        not settings.dev_jwt_secret
        or settings.oidc_issuer
        or not expected
        or not secrets.compare_digest(sent, expected)
    ):
        raise Forbidden()
    kind, station_id, roles, errors = account_of(form, console.network)
    subject = (form.get("subject") or [""])[0].strip()[:64]
    if not subject:
        errors["subject"] = "请填写工号或姓名。"
    next_path = local((form.get("next") or [""])[0])
    if errors:
        context = _sign_in_context(console, expected, next_path, kind)
        return page(request, "signin.html", {**context, "errors": errors, "form": form}, status=422)
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
    response = RedirectResponse(landing(next_path, roles), status_code=303)
    set_cookie(response, console, COOKIE, session.id)
    forget(response, SIGN_IN_COOKIE)
    return response


@router.post("/signout")
async def sign_out(request: Request, console: ConsoleDep):
    user = signed_in(request, console)
    check_csrf(request, user, await form_of(request))
    console.sessions.end(user.id)
    target = "/signin"
    if console.settings.oidc_issuer:
        target = SIGNED_OUT
        try:
            end_session = (await oidc_client(request, console).metadata()).get(
                "end_session_endpoint"
            )
        except (httpx.HTTPError, ValueError, SignInFailed):
            end_session = None  # the console's session is over all the same
        if isinstance(end_session, str) and end_session.startswith(("https://", "http://")):
            query = {
                "client_id": console.settings.oidc_client_id,
                "post_logout_redirect_uri": console_base(request, console) + SIGNED_OUT,
            }
            if user.id_token:
                query["id_token_hint"] = user.id_token
            # A page moving on, not a redirect: the CSP's form-action would stop the
            # form's redirect to the issuer.
            response = page(request, "signin.html", {"leaving": True})
            response.headers["Refresh"] = f"0; url={end_session}?{urlencode(query)}"
            forget(response, COOKIE)
            return response
    response = RedirectResponse(target, status_code=303)
    forget(response, COOKIE)
    return response


@router.get(SIGNED_OUT)
async def signed_out(request: Request):
    return page(request, "signin.html", {"signed_out": True})


# --------------------------------------------------------------------- helpers ---


def _failed(request: Request, text: str, *, status: int) -> Response:
    return page(request, "signin.html", {"failed": text}, status=status)


def home_page(roles: Iterable[str]) -> str:
    """Where an account kind starts: a partner at its referrals, a town or village
    at its revisits, a station's staff at the board."""
    roles = set(roles)
    if "partner" in roles:
        return "/partner"
    if "town_official" in roles:
        return "/revisits/town"
    return "/board"


def landing(next_path: str, roles: Iterable[str]) -> str:
    """After sign-in: the page asked for, or (the board being only the default) the
    account's home page."""
    return home_page(roles) if next_path == "/board" else next_path


def account_of(
    form: Mapping[str, list[str]], network: Network
) -> tuple[str, str, list[str], dict[str, str]]:
    """(kind, station_id, roles, errors) of the development sign-in's choice: the
    claims the services read (rescue_chassis.access)."""

    def one(name: str) -> str:
        return (form.get(name) or [""])[0].strip()

    kind = one("kind") or "station"
    errors: dict[str, str] = {}
    if kind == "partner":
        agency, partner_type = one("agency_id"), one("partner_type")
        if not agency:
            errors["agency_id"] = "请填写合作单位的单位编号。"
        elif len(agency) > 64 or not agency.isprintable() or any(c.isspace() for c in agency):
            errors["agency_id"] = "单位编号最多 64 个字符，不能含空格或控制字符。"
        if partner_type not in PARTNER_TYPES:
            errors["partner_type"] = "请选择单位类型。"
        return kind, agency, ["partner", partner_type], errors
    if kind == "town":
        code = one("area_code")
        if not AREA_CODE.fullmatch(code):
            errors["area_code"] = "请填写 9 位乡镇代码或 12 位村代码（仅数字）。"
        return kind, code, ["town_official"], errors
    if kind != "station":
        errors["kind"] = "请选择账号类型。"
    station_id = one("station_id")
    roles = [r for r in form.get("roles", []) if r in SIGN_IN_ROLES]
    if network.station(station_id) is None:
        errors["station_id"] = "请选择本网络的救助站。"
    if not roles:
        errors["roles"] = "请至少选择一个角色。"
    return "station", station_id, roles, errors


def _sign_in_context(console: Console, csrf: str, next_path: str, kind: str = "station") -> dict:
    return {
        "csrf": csrf,
        "next": next_path,
        "kind": kind if kind in ACCOUNT_KINDS else "station",
        "kinds": ACCOUNT_KINDS,
        "partner_types": PARTNER_TYPES,
        "partner_examples": PARTNER_EXAMPLES,
        "stations": list(console.network.stations.values()),
        "roles": SIGN_IN_ROLES,
        "errors": {},
        "form": {},
    }


def local(path: str) -> str:
    # Only a path of this console: never an open redirect (nor a broken header).
    return (
        path
        if path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and path.isascii()
        and path.isprintable()
        else "/board"
    )


def set_cookie(
    response: Response,
    console: Console,
    name: str,
    value: str,
    max_age: int | None = None,
    samesite: str = "strict",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite=samesite,  # type: ignore[arg-type]
        secure=console.settings.cookie_secure,
    )


def forget(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict")
