"""The local OIDC issuer of ``make run`` and the tests. DEVELOPMENT ONLY.

It signs in whoever asks, as whatever station and roles they pick: it is never
to be deployed (it serves on a loopback address only, and says so on every
page). Production uses the region's identity provider (Keycloak, ...).

- ``/.well-known/openid-configuration`` and ``/jwks``: one RSA key, generated
  at the first start and kept in ``<data>/signing-key.pem`` (tokens survive a
  restart).
- ``/authorize``: a page to choose the account: a station (network.yaml) and
  roles, a partner agency and its type, or a town's or village's area code; the
  authorization code flow with PKCE (S256) only, registered redirect URIs only.
- ``/token``: the code (single use, 60 s) for an access token (``aud`` the
  services' audience, ``station_id`` and ``roles`` as the chassis' ClaimMapping
  reads them by default) and an id_token (``aud`` the client, ``nonce``).
- ``/end-session``: RP-initiated logout, back to a registered URI.
- ``/dev/token``: a token for the tools (make token, make demo, make ops, the
  tests), for anyone holding ``<data>/grant-secret``.

``python -m rescue_localnet.issuer serve --host 127.0.0.1 --port 8109``, set up
by ``RESCUE_ISSUER_URL``, ``RESCUE_ISSUER_DATA_DIR``, ``RESCUE_ISSUER_REDIRECT_URIS``
(comma-separated) and optionally ``RESCUE_ISSUER_NETWORK_FILE``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import ipaddress
import os
import re
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm

from rescue_chassis.auth import Role
from rescue_chassis.network import Network, load_network

CLIENT_ID = "rescue-console"
AUDIENCE = "rescue-network"  # the services' <SERVICE>_JWT_AUDIENCE default
CODE_SECONDS = 60
ACCESS_TOKEN_SECONDS = 3600
TOOL_TOKEN_MAX_SECONDS = 12 * 3600
# What the sign-in page offers: the kinds of account, and for a station's staff
# their roles (the tools get any token from /dev/token, as make token mints them).
ACCOUNT_KINDS = {"station": "救助站工作人员", "partner": "合作单位", "town": "乡镇/村"}
PARTNER_TYPES = {
    "police": "公安机关",
    "womens_federation": "妇女联合会",
    "minor_protection": "未成年人保护机构",
    "civil_affairs": "民政部门",
    "hospital": "医院（无自有系统）",
    "social_organisation": "社会组织",
    "rescue_station": "外地救助管理站",
}
AREA_CODE = re.compile(r"[0-9]{9}(?:[0-9]{3})?")  # a town's 9 digits, a village's 12
STATION_ROLES = {
    "station_staff": "站内工作人员",
    "station_lead": "站领导",
    "center_coordinator": "中心站协调员",
    "search_specialist": "寻亲甄别专员",
    "auditor": "审计",
    "ops": "运维值班",
    "admin": "系统管理员",
}
ALL_ROLES = frozenset(r.value for r in Role)


# ------------------------------------------------------------------ the key ---


def load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """The signing key, made once and kept with the network's data."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(pem)
        temporary.chmod(0o600)
        os.replace(temporary, path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def grant_secret(data_dir: Path) -> str:
    """The secret the tools present at /dev/token, kept beside the key (mode 600)."""
    path = data_dir / "grant-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def s256(verifier: str) -> str:
    """PKCE's S256 challenge of a code verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# ----------------------------------------------------------------- the issuer ---


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    subject: str
    station_id: str
    roles: list[str]
    expires_at: float


@dataclass
class Issuer:
    url: str
    key: rsa.RSAPrivateKey
    redirect_uris: frozenset[str]
    network: Network
    grant_secret: str
    audience: str = AUDIENCE
    clock: Any = time.time
    codes: dict[str, Grant] = field(default_factory=dict)

    @property
    def kid(self) -> str:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(public).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})

    def access_token(
        self, *, subject: str, station_id: str, roles: list[str], ttl: int, client_id: str
    ) -> str:
        now = int(self.clock())
        return self.sign(
            {
                "iss": self.url,
                "aud": self.audience,
                "sub": subject,
                "azp": client_id,
                "station_id": station_id,
                "roles": roles,
                "scope": "openid",
                "typ": "Bearer",
                "iat": now,
                "exp": now + ttl,
                "jti": str(uuid.uuid4()),
            }
        )

    def id_token(self, grant: Grant) -> str:
        now = int(self.clock())
        claims = {
            "iss": self.url,
            "aud": grant.client_id,
            "azp": grant.client_id,
            "sub": grant.subject,
            "name": grant.subject,
            "station_id": grant.station_id,
            "roles": grant.roles,
            "typ": "ID",  # as Keycloak marks it: the services refuse it as an access token
            "auth_time": now,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        return self.sign(claims)

    def redirect_allowed(self, uri: str) -> bool:
        return uri in self.redirect_uris

    def logout_allowed(self, uri: str) -> bool:
        # Back to a page of a registered client's own origin.
        origin = urlsplit(uri)[:2]
        return any(urlsplit(known)[:2] == origin for known in self.redirect_uris)


class Form(dict[str, list[str]]):
    """An urlencoded body, every value of every name (python-multipart is not needed)."""

    def get1(self, name: str) -> str:
        return (self.get(name) or [""])[0]


async def form_of(request: Request) -> Form:
    form = Form()
    for name, value in parse_qsl((await request.body()).decode("utf-8", "replace"), True):
        form.setdefault(name, []).append(value)
    return form


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _page(title: str, body: str, status: int = 200, form_to: str = "") -> HTMLResponse:
    """``form_to``: where the page's form may land besides here (form-action covers
    the redirect after the post too: the client's callback)."""
    return HTMLResponse(
        f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · 本地开发认证</title><style>{_STYLE}</style></head><body>
<p class="warn" role="note">本地开发用认证服务，任何人都可以选择任意身份登录，切勿用于生产环境。</p>
<main><h1>{html.escape(title)}</h1>{body}</main></body></html>""",
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            f"form-action 'self' {form_to}; frame-ancestors 'none'; base-uri 'none'",
            "X-Frame-Options": "DENY",
        },
    )


_STYLE = (
    "body{font-family:sans-serif;margin:0;line-height:1.5}main{max-width:28rem;margin:1rem auto;"
    "padding:0 1rem}.warn{background:#fde68a;margin:0;padding:.5rem 1rem}label{display:block}"
    "select,input[type=text]{width:100%;padding:.4rem;font-size:1rem}fieldset{margin:1rem 0}"
    ".error{color:#b91c1c}button{font-size:1rem;padding:.5rem 1.5rem;margin-top:1rem}"
)
AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def create_issuer(issuer: Issuer) -> FastAPI:
    app = FastAPI(
        title="本地开发认证 (development only)", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.issuer = issuer
    base = issuer.url.rstrip("/")

    @app.get("/health/live")
    @app.get("/health/ready")
    async def health():
        return {"status": "ok"}

    @app.get("/.well-known/openid-configuration")
    async def discovery():
        return {
            "issuer": issuer.url,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "end_session_endpoint": f"{base}/end-session",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid"],
            "claims_supported": ["sub", "name", "station_id", "roles", "nonce"],
        }

    @app.get("/jwks")
    async def jwks():
        return issuer.jwks()

    def check_request(params: dict[str, str]) -> tuple[str | None, str | None]:
        """(error, description) of an authorization request; (None, None) if sound.
        A bad client or redirect URI is never redirected to."""
        if params.get("client_id") != CLIENT_ID:
            return "invalid_client", "未注册的客户端。"
        if not issuer.redirect_allowed(params.get("redirect_uri", "")):
            return "invalid_redirect_uri", "回调地址未登记。"
        return None, None

    def redirect_error(params: dict[str, str], error: str, description: str) -> Response:
        query = {"error": error, "error_description": description}
        if params.get("state"):
            query["state"] = params["state"]
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=303)

    def protocol_error(params: dict[str, str]) -> tuple[str, str] | None:
        if params.get("response_type") != "code":
            return "unsupported_response_type", "only the authorization code flow"
        if "openid" not in params.get("scope", "").split():
            return "invalid_scope", "the scope must include openid"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "invalid_request", "PKCE with code_challenge_method S256 is required"
        return None

    @app.get("/authorize")
    async def authorize(request: Request):
        params = {k: request.query_params.get(k, "") for k in AUTHORIZE_PARAMS}
        error, description = check_request(params)
        if error:
            return _page("无法登录", f"<p>{html.escape(description or '')}</p>", status=400)
        if found := protocol_error(params):
            return redirect_error(params, *found)
        return _choice_page(issuer, params, {"kind": request.query_params.get("kind", "")}, {})

    @app.post("/authorize")
    async def choose(request: Request):
        origin = request.headers.get("origin")
        if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
            return _page("无法登录", "<p>来源不明的请求。</p>", status=403)
        form = await form_of(request)
        params = {k: form.get1(k) for k in AUTHORIZE_PARAMS}
        error, description = check_request(params)
        if error:
            return _page("无法登录", f"<p>{html.escape(description or '')}</p>", status=400)
        if found := protocol_error(params):
            return redirect_error(params, *found)
        kind, station_id, roles, errors = account_of(form, issuer.network)
        subject = form.get1("subject").strip()[:64]
        if not subject:
            errors["subject"] = "请填写工号或姓名。"
        if errors:
            chosen = {
                "kind": kind,
                "station_id": form.get1("station_id"),
                "roles": roles,
                "agency_id": form.get1("agency_id"),
                "partner_type": form.get1("partner_type"),
                "area_code": form.get1("area_code"),
                "subject": subject,
            }
            return _choice_page(issuer, params, chosen, errors, status=422)
        code = secrets.token_urlsafe(32)
        issuer.codes[code] = Grant(
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            challenge=params["code_challenge"],
            nonce=params["nonce"] or None,
            subject=subject,
            station_id=station_id,
            roles=roles,
            expires_at=issuer.clock() + CODE_SECONDS,
        )
        query = {"code": code}
        if params["state"]:
            query["state"] = params["state"]
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=303)

    @app.post("/token")
    async def token(request: Request):
        form = await form_of(request)
        if form.get1("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type", "only authorization_code")
        # Popped at once: a code is good for one exchange, right or wrong.
        grant = issuer.codes.pop(form.get1("code"), None)
        for stale in [c for c, g in issuer.codes.items() if g.expires_at < issuer.clock()]:
            del issuer.codes[stale]
        if grant is None or grant.expires_at < issuer.clock():
            return _error(400, "invalid_grant", "unknown, used or expired code")
        if form.get1("client_id") != grant.client_id:
            return _error(400, "invalid_grant", "the code was issued to another client")
        if form.get1("redirect_uri") != grant.redirect_uri:
            return _error(400, "invalid_grant", "redirect_uri differs from the authorization's")
        verifier = form.get1("code_verifier")
        if not 43 <= len(verifier) <= 128 or not secrets.compare_digest(
            s256(verifier), grant.challenge
        ):
            return _error(400, "invalid_grant", "the code_verifier does not match the challenge")
        access = issuer.access_token(
            subject=grant.subject,
            station_id=grant.station_id,
            roles=grant.roles,
            ttl=ACCESS_TOKEN_SECONDS,
            client_id=grant.client_id,
        )
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_SECONDS,
                "id_token": issuer.id_token(grant),
                "scope": "openid",
            },
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/end-session")
    async def end_session(request: Request):
        back = request.query_params.get("post_logout_redirect_uri")
        state = request.query_params.get("state")
        if back and issuer.logout_allowed(back):
            joiner = "&" if "?" in back else "?"
            query = f"{joiner}{urlencode({'state': state})}" if state else ""
            return RedirectResponse(back + query, status_code=303)
        return _page("已退出登录", "<p>您已退出登录，可以关闭此页面。</p>")

    @app.post("/dev/token")
    async def tool_token(request: Request):
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(sent.encode(), issuer.grant_secret.encode()):
            return _error(401, "invalid_client", "present the grant secret as a bearer token")
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "a JSON object: station_id, roles, subject")
        station_id = body.get("station_id")
        roles = body.get("roles")
        subject = body.get("subject") or "dev-user"
        ttl = body.get("ttl_seconds", TOOL_TOKEN_MAX_SECONDS)
        if not isinstance(station_id, str) or not station_id:
            return _error(400, "invalid_request", "station_id: a station, partner or area code")
        if not isinstance(roles, list) or not roles or not set(roles) <= ALL_ROLES:
            return _error(400, "invalid_request", f"roles: some of {', '.join(sorted(ALL_ROLES))}")
        if not isinstance(ttl, int) or not 1 <= ttl <= TOOL_TOKEN_MAX_SECONDS:
            return _error(400, "invalid_request", f"ttl_seconds: 1 to {TOOL_TOKEN_MAX_SECONDS}")
        access = issuer.access_token(
            subject=str(subject)[:64],
            station_id=station_id,
            roles=roles,
            ttl=ttl,
            client_id="rescue-dev-tools",
        )
        return JSONResponse(
            {"access_token": access, "token_type": "Bearer", "expires_in": ttl},
            headers={"Cache-Control": "no-store"},
        )

    return app


def account_of(form: Form, network: Network) -> tuple[str, str, list[str], dict[str, str]]:
    """(kind, station_id, roles, errors) of the page's choice: the claims the
    services read (rescue_chassis.access), as the console's development sign-in."""
    kind = form.get1("kind").strip() or "station"
    errors: dict[str, str] = {}
    if kind == "partner":
        agency, partner_type = form.get1("agency_id").strip(), form.get1("partner_type")
        if not agency:
            errors["agency_id"] = "请填写合作单位的单位编号。"
        elif len(agency) > 64 or not agency.isprintable() or any(c.isspace() for c in agency):
            errors["agency_id"] = "单位编号最多 64 个字符，不能含空格或控制字符。"
        if partner_type not in PARTNER_TYPES:
            errors["partner_type"] = "请选择单位类型。"
        return kind, agency, ["partner", partner_type], errors
    if kind == "town":
        code = form.get1("area_code").strip()
        if not AREA_CODE.fullmatch(code):
            errors["area_code"] = "请填写 9 位乡镇代码或 12 位村代码（仅数字）。"
        return kind, code, ["town_official"], errors
    if kind != "station":
        errors["kind"] = "请选择账号类型。"
    station_id = form.get1("station_id")
    roles = [r for r in form.get("roles", []) if r in STATION_ROLES]
    if network.station(station_id) is None:
        errors["station_id"] = "请选择本网络的救助站。"
    if not roles:
        errors["roles"] = "请至少选择一个角色。"
    return "station", station_id, roles, errors


def _choice_page(
    issuer: Issuer,
    params: dict[str, str],
    chosen: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    esc = html.escape
    kind = chosen.get("kind") if chosen.get("kind") in ACCOUNT_KINDS else "station"
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{esc(v)}">'
        for k, v in {**params, "kind": kind}.items()
    )

    def error(name: str) -> str:
        if name not in errors:
            return ""
        return f'<p class="error" id="err-{name}">{esc(errors[name])}</p>'

    def invalid(name: str) -> str:
        return f' aria-invalid="true" aria-describedby="err-{name}"' if name in errors else ""

    # The kinds are links (GET keeps the authorization request): no script needed.
    kinds = "".join(
        f'<li><a href="/authorize?{esc(urlencode({**params, "kind": k}))}"'
        f"{' aria-current=page' if k == kind else ''}>"
        f"{'<strong>' if k == kind else ''}{esc(label)}{'</strong>' if k == kind else ''}</a></li>"
        for k, label in ACCOUNT_KINDS.items()
    )
    if kind == "partner":
        chosen_type = chosen.get("partner_type", "")
        types = "".join(
            f'<option value="{t}"{" selected" if t == chosen_type else ""}>{esc(label)}</option>'
            for t, label in PARTNER_TYPES.items()
        )
        fields = f"""<fieldset><legend>合作单位</legend>
<label for="agency_id">单位编号（合作单位目录中的编号，或公安机关编号，如 gushi-police）</label>
<input type="text" id="agency_id" name="agency_id" maxlength="64"
 value="{esc(chosen.get("agency_id", ""))}"{invalid("agency_id")}>{error("agency_id")}
<label for="partner_type">单位类型</label>
<select id="partner_type" name="partner_type"{invalid("partner_type")}>
<option value="">请选择</option>{types}</select>{error("partner_type")}</fieldset>"""
    elif kind == "town":
        fields = f"""<fieldset><legend>乡镇/村</legend>
<label for="area_code">区划代码（乡镇 9 位或村 12 位，如 411525101）</label>
<input type="text" id="area_code" name="area_code" inputmode="numeric" maxlength="12"
 value="{esc(chosen.get("area_code", ""))}"{invalid("area_code")}>{error("area_code")}</fieldset>"""
    else:
        station = chosen.get("station_id", "")
        options = "".join(
            f'<option value="{esc(s.id)}"{" selected" if s.id == station else ""}>'
            f"{esc(s.name)}</option>"
            for s in issuer.network.stations.values()
        )
        picked = chosen.get("roles", ["station_staff"])
        boxes = "".join(
            f'<label><input type="checkbox" name="roles" value="{r}"'
            f"{' checked' if r in picked else ''}> {esc(label)}</label>"
            for r, label in STATION_ROLES.items()
        )
        fields = f"""<label for="station_id">救助站</label>
<select id="station_id" name="station_id"{invalid("station_id")}>{options}</select>
{error("station_id")}<fieldset><legend>角色</legend>{boxes}{error("roles")}</fieldset>"""

    body = f"""<p>选择账号类型和身份；各服务按此身份决定能看到和办理的内容。</p>
<nav aria-label="账号类型"><p>账号类型：</p><ul>{kinds}</ul>{error("kind")}</nav>
<form method="post" action="/authorize">{hidden}{fields}
<label for="subject">工号或姓名</label>
<input type="text" id="subject" name="subject" value="{esc(chosen.get("subject", "值班员"))}"
{invalid("subject")}>{error("subject")}<button type="submit">登录</button></form>"""
    callback = urlsplit(params["redirect_uri"])
    return _page(
        "登录（本地开发认证）",
        body,
        status=status,
        form_to=f"{callback.scheme}://{callback.netloc}",
    )


# ---------------------------------------------------------------- the process ---


def issuer_from_env(environ: dict[str, str] | os._Environ = os.environ) -> Issuer:
    data_dir = Path(environ["RESCUE_ISSUER_DATA_DIR"])
    return Issuer(
        url=environ["RESCUE_ISSUER_URL"],
        key=load_or_create_key(data_dir / "signing-key.pem"),
        redirect_uris=frozenset(
            u.strip() for u in environ.get("RESCUE_ISSUER_REDIRECT_URIS", "").split(",") if u
        ),
        network=load_network(environ.get("RESCUE_ISSUER_NETWORK_FILE") or None),
        grant_secret=grant_secret(data_dir),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rescue_localnet.issuer",
        description="The local OIDC issuer: development only, never in production.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8109)
    args = parser.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        parser.error("the local issuer signs in anyone: it serves on a loopback address only")
    app = create_issuer(issuer_from_env())
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
