"""The console's OIDC sign-in (rescue_console.signin) against the local issuer, both
in process: the redirect with state, nonce and an S256 challenge; the callback
checks them; the token that reaches the services is the issuer's; sign-out ends
the issuer's session too."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from rescue_chassis.network import load_network
from rescue_console.app import create_app
from rescue_console.settings import ConsoleSettings
from rescue_console.signin import OidcClient, SignInFailed
from rescue_localnet.issuer import (
    Grant,
    Issuer,
    create_issuer,
    grant_secret,
    load_or_create_key,
    s256,
)

ISSUER = "http://issuer.test"
CONSOLE = "http://console.test"


class Network(httpx.AsyncBaseTransport):
    """The issuer in process for the console's back-channel calls; the services
    stood in by a handler that keeps every request."""

    def __init__(self, issuer_app) -> None:
        self.issuer = httpx.ASGITransport(app=issuer_app)
        self.sent: list[httpx.Request] = []
        self.services = httpx.MockTransport(self._service)

    def _service(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, json=[])

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "issuer.test":
            return await self.issuer.handle_async_request(request)
        return await self.services.handle_async_request(request)


def console_settings(**overrides) -> ConsoleSettings:
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    return ConsoleSettings(**{**urls, "oidc_issuer": ISSUER, "cookie_secure": False, **overrides})


@pytest.fixture
def issuer(tmp_path) -> Issuer:
    return Issuer(
        url=ISSUER,
        key=load_or_create_key(tmp_path / "signing-key.pem"),
        redirect_uris=frozenset({f"{CONSOLE}/signin/callback"}),
        network=load_network(),
        grant_secret=grant_secret(tmp_path),
    )


@pytest.fixture
def issuer_app(issuer):
    return create_issuer(issuer)


@pytest.fixture
def network(issuer_app):
    return Network(issuer_app)


@pytest.fixture
def console(network):
    with TestClient(create_app(console_settings(), transport=network), base_url=CONSOLE) as client:
        yield client


@pytest.fixture
def browser_at_issuer(issuer_app):
    with TestClient(issuer_app, base_url=ISSUER) as client:
        yield client


def to_issuer(console) -> dict[str, str]:
    """The console's redirect to the issuer: its query."""
    answer = console.get("/signin", params={"next": "/board"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/authorize"
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def choose_at_issuer(browser_at_issuer, query, station="gushi", roles=("station_staff",)):
    """What the developer does on the issuer's page; returns the callback URL."""
    page = browser_at_issuer.get("/authorize", params=query)
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    chosen = browser_at_issuer.post(
        "/authorize",
        data={**hidden, "station_id": station, "roles": list(roles), "subject": "王站长"},
        follow_redirects=False,
    )
    assert chosen.status_code == 303, chosen.text
    return chosen.headers["location"]


def test_sign_in_redirects_to_the_issuer_with_state_nonce_and_s256(console):
    query = to_issuer(console)
    assert query["response_type"] == "code"
    assert query["client_id"] == "rescue-console"
    assert query["redirect_uri"] == f"{CONSOLE}/signin/callback"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43  # base64url of a SHA-256, no padding
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert "openid" in query["scope"].split()
    # a second sign-in gets its own state and challenge
    again = to_issuer(console)
    assert again["state"] != query["state"] and again["code_challenge"] != query["code_challenge"]


def test_a_sign_in_through_the_issuer_reaches_the_board_with_the_issuers_token(
    console, browser_at_issuer, network
):
    back = choose_at_issuer(browser_at_issuer, to_issuer(console), "gushi", ("station_lead",))
    answer = console.get(back, follow_redirects=False)
    assert answer.status_code == 200, answer.text
    assert answer.headers["refresh"] == "0; url=/board"
    assert "console_session" in console.cookies
    board = console.get("/board", follow_redirects=False)
    assert board.status_code == 200
    sent = [r for r in network.sent if r.url.host == "intake.test"]
    assert sent, "the board asked intake nothing"
    token = sent[-1].headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["aud"] == "rescue-network"
    assert claims["station_id"] == "gushi" and claims["roles"] == ["station_lead"]
    assert token not in board.text  # the token stays on the server


def test_a_callback_with_another_state_is_refused_and_makes_no_session(console, browser_at_issuer):
    back = choose_at_issuer(browser_at_issuer, to_issuer(console))
    forged = re.sub(r"state=[^&]+", "state=forged-state", back)
    answer = console.get(forged, follow_redirects=False)
    assert answer.status_code == 400
    assert "登录请求已失效或来源不明" in answer.text
    assert "console_session" not in console.cookies
    # the sign-in under way is spent: the right state afterwards is too late
    assert console.get(back, follow_redirects=False).status_code == 400


def test_a_callback_without_the_browsers_sign_in_cookie_is_refused(
    console, browser_at_issuer, network
):
    back = choose_at_issuer(browser_at_issuer, to_issuer(console))
    console.cookies.clear()  # another browser than the one that started the sign-in
    answer = console.get(back, follow_redirects=False)
    assert answer.status_code == 400 and "console_session" not in console.cookies


def test_a_code_for_another_challenge_is_refused_by_the_issuer(console, browser_at_issuer):
    """The console's verifier must fit the challenge the code was issued for (PKCE)."""
    query = to_issuer(console)
    stolen = {**query, "code_challenge": s256("an attacker's own verifier " + "x" * 30)}
    back = choose_at_issuer(browser_at_issuer, stolen)
    answer = console.get(back, follow_redirects=False)
    assert answer.status_code == 401 and "登录未通过校验" in answer.text
    assert "console_session" not in console.cookies


def test_an_error_from_the_issuer_makes_no_session(console):
    query = to_issuer(console)
    answer = console.get(
        "/signin/callback",
        params={"error": "access_denied", "state": query["state"]},
        follow_redirects=False,
    )
    assert answer.status_code == 400 and "console_session" not in console.cookies


def test_an_id_token_with_another_nonce_is_refused(issuer, network):
    token = issuer.id_token(
        Grant(
            client_id="rescue-console",
            redirect_uri=f"{CONSOLE}/signin/callback",
            challenge="",
            nonce="the nonce of another sign-in",
            subject="王站长",
            station_id="gushi",
            roles=["station_staff"],
            expires_at=0,
        )
    )
    client = OidcClient(console_settings(), network)
    with pytest.raises(SignInFailed):
        asyncio.run(client.id_claims(token, "this sign-in's nonce"))
    claims = asyncio.run(client.id_claims(token, "the nonce of another sign-in"))
    assert claims["sub"] == "王站长"


def test_sign_out_ends_the_session_and_the_issuers(console, browser_at_issuer):
    console.get(choose_at_issuer(browser_at_issuer, to_issuer(console)))
    board = console.get("/board")
    csrf = re.search(r'name="csrf" value="([^"]+)"', board.text).group(1)
    out = console.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 200
    delay, _, end_session = out.headers["refresh"].partition("; url=")
    assert delay == "0"
    location = urlsplit(end_session)
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/end-session"
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == [f"{CONSOLE}/signed-out"]
    assert query["id_token_hint"][0].count(".") == 2
    assert console.get("/board", follow_redirects=False).status_code == 303
    ended = browser_at_issuer.get(end_session, follow_redirects=False)
    assert ended.headers["location"] == f"{CONSOLE}/signed-out"
    assert "已退出登录" in console.get("/signed-out").text


def test_the_development_sign_in_is_off_when_oidc_is_on(console):
    answer = console.post("/signin", data={"csrf": "x"}, headers={"Cookie": "console_signin=x"})
    assert answer.status_code == 403


def test_settings_refuse_both_sign_ins():
    with pytest.raises(ValueError, match="not both"):
        console_settings(dev_jwt_secret="a-development-secret-of-forty-characters!")
