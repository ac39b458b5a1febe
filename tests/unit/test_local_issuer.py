"""make run's local OIDC issuer (rescue_localnet.issuer): discovery, the code flow
with PKCE (S256 only, checked, a code good once), and tokens the services'
verifier (rescue_chassis.auth, OIDC mode) accepts with the station and roles chosen."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from rescue_chassis.auth import ClaimMapping, JwksVerifier
from rescue_chassis.network import load_network
from rescue_chassis.oidc import JwksCache, OidcVerifier
from rescue_chassis.problems import Problem
from rescue_localnet.issuer import (
    CLIENT_ID,
    Issuer,
    create_issuer,
    grant_secret,
    load_or_create_key,
    s256,
)

ISSUER = "http://issuer.test"
CALLBACK = "http://console.test/signin/callback"
VERIFIER = "v" * 20 + "-verifier-of-this-sign-in-" + "w" * 20


@pytest.fixture
def issuer(tmp_path) -> Issuer:
    return Issuer(
        url=ISSUER,
        key=load_or_create_key(tmp_path / "signing-key.pem"),
        redirect_uris=frozenset({CALLBACK}),
        network=load_network(),
        grant_secret=grant_secret(tmp_path),
    )


@pytest.fixture
def client(issuer):
    with TestClient(create_issuer(issuer), base_url=ISSUER) as client:
        yield client


def authorize_params(**overrides) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "state": "state-1",
        "nonce": "nonce-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }


def choose(client, station="gushi", roles=("station_staff",), **overrides) -> httpx.Response:
    """The developer's choice on the issuer's page, posted as the page's form does."""
    page = client.get("/authorize", params=authorize_params(**overrides))
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    return client.post(
        "/authorize",
        data={**hidden, "station_id": station, "roles": list(roles), "subject": "李值班"},
        follow_redirects=False,
    )


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["state-1"]
    return query["code"][0]


def exchange(client, code: str, verifier: str = VERIFIER, **overrides) -> httpx.Response:
    return client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
            **overrides,
        },
    )


def services_verifier(issuer: Issuer) -> JwksVerifier:
    """The services' verifier in OIDC mode, reaching the issuer in process."""
    keys = JwksCache(issuer=ISSUER, transport=httpx.ASGITransport(app=create_issuer(issuer)))
    oidc = OidcVerifier(
        keys, issuer=ISSUER, audience="rescue-network", algorithms=("RS256", "ES256", "PS256")
    )
    return JwksVerifier(oidc, ClaimMapping())


def test_discovery_names_the_endpoints_and_only_s256(client):
    document = client.get("/.well-known/openid-configuration").json()
    assert document["issuer"] == ISSUER
    assert document["jwks_uri"] == f"{ISSUER}/jwks"
    assert document["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert document["token_endpoint"] == f"{ISSUER}/token"
    assert document["end_session_endpoint"] == f"{ISSUER}/end-session"
    assert document["code_challenge_methods_supported"] == ["S256"]
    keys = client.get("/jwks").json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0]  # the public half only


def test_the_page_offers_the_networks_stations_and_roles(client):
    answer = client.get("/authorize", params=authorize_params())
    # the form may land on the client's callback (form-action covers the redirect)
    assert "form-action 'self' http://console.test;" in answer.headers["content-security-policy"]
    page = answer.text
    assert '<option value="gushi"' in page and '<option value="center"' in page
    assert 'value="station_lead"' in page and "站领导" in page
    assert "切勿用于生产环境" in page


def test_a_token_from_the_code_flow_opens_the_services_as_the_chosen_station(client, issuer):
    code = code_of(choose(client, "gushi", ("station_staff", "station_lead")))
    tokens = exchange(client, code).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] <= 3600
    principal = asyncio.run(services_verifier(issuer).verify(tokens["access_token"]))
    assert principal.station_id == "gushi"
    assert principal.roles == {"station_staff", "station_lead"}
    assert principal.subject == "李值班"
    identity = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert identity["aud"] == CLIENT_ID and identity["nonce"] == "nonce-1"
    assert identity["iss"] == ISSUER and identity["station_id"] == "gushi"


def test_the_id_token_opens_no_service(client, issuer):
    tokens = exchange(client, code_of(choose(client))).json()
    with pytest.raises(Problem) as refused:
        asyncio.run(services_verifier(issuer).verify(tokens["id_token"]))
    assert refused.value.status == 401


def test_a_code_is_good_for_one_exchange(client):
    code = code_of(choose(client))
    assert exchange(client, code).status_code == 200
    again = exchange(client, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_the_code_verifier_must_match_the_challenge(client):
    code = code_of(choose(client))
    wrong = exchange(client, code, verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # and the code is spent: the right verifier afterwards is too late
    assert exchange(client, code).status_code == 400


def test_a_code_is_refused_with_another_redirect_uri(client):
    code = code_of(choose(client))
    answer = exchange(client, code, redirect_uri="http://console.test/elsewhere")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge": ""},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": ""},
    ],
)
def test_an_authorization_without_s256_pkce_is_refused(client, overrides):
    answer = client.get("/authorize", params=authorize_params(**overrides), follow_redirects=False)
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["state-1"]


def test_an_unregistered_redirect_uri_is_never_redirected_to(client):
    answer = client.get(
        "/authorize",
        params=authorize_params(redirect_uri="http://evil.test/cb"),
        follow_redirects=False,
    )
    assert answer.status_code == 400 and "location" not in answer.headers
    posted = client.post(
        "/authorize",
        data={**authorize_params(redirect_uri="http://evil.test/cb"), "station_id": "gushi"},
        follow_redirects=False,
    )
    assert posted.status_code == 400 and "location" not in posted.headers


def test_a_station_outside_the_network_or_no_role_is_said_on_the_page(client):
    answer = choose(client, station="atlantis", roles=())
    assert answer.status_code == 422
    assert "请选择本网络的救助站" in answer.text and "请至少选择一个角色" in answer.text


def choose_kind(client, kind: str, **fields) -> httpx.Response:
    """The page of one account kind (its link keeps the request), its form posted."""
    page = client.get("/authorize", params={**authorize_params(), "kind": kind})
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    assert hidden["kind"] == kind
    return client.post(
        "/authorize", data={**hidden, "subject": "李值班", **fields}, follow_redirects=False
    )


def test_the_page_offers_the_three_account_kinds(client):
    page = client.get("/authorize", params=authorize_params()).text
    assert '<nav aria-label="账号类型">' in page
    for label in ("救助站工作人员", "合作单位", "乡镇/村"):
        assert label in page
    assert "kind=partner" in page and "code_challenge_method=S256" in page
    partner = client.get("/authorize", params={**authorize_params(), "kind": "partner"}).text
    assert '<label for="agency_id">' in partner and '<option value="minor_protection"' in partner
    town = client.get("/authorize", params={**authorize_params(), "kind": "town"}).text
    assert '<label for="area_code">' in town and 'id="station_id"' not in town


def test_a_partner_grant_opens_the_services_as_the_agency_and_its_type(client, issuer):
    answer = choose_kind(
        client,
        "partner",
        agency_id="xinyang-pingqiao-womens-federation",
        partner_type="womens_federation",
    )
    tokens = exchange(client, code_of(answer)).json()
    principal = asyncio.run(services_verifier(issuer).verify(tokens["access_token"]))
    assert principal.station_id == "xinyang-pingqiao-womens-federation"
    assert principal.roles == {"partner", "womens_federation"}
    identity = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert identity["roles"] == ["partner", "womens_federation"]


def test_a_town_grant_opens_the_services_as_the_area(client, issuer):
    tokens = exchange(client, code_of(choose_kind(client, "town", area_code="411525101"))).json()
    principal = asyncio.run(services_verifier(issuer).verify(tokens["access_token"]))
    assert principal.station_id == "411525101" and principal.roles == {"town_official"}


def test_a_partner_or_town_choice_that_does_not_hold_is_said_on_the_page(client):
    partner = choose_kind(client, "partner", agency_id="a b", partner_type="")
    assert partner.status_code == 422 and "location" not in partner.headers
    assert "单位编号最多 64 个字符" in partner.text and "请选择单位类型" in partner.text
    assert 'value="a b"' in partner.text  # what was typed is kept
    town = choose_kind(client, "town", area_code="4115251")
    assert town.status_code == 422 and "请填写 9 位乡镇代码或 12 位村代码" in town.text
    assert 'aria-describedby="err-area_code"' in town.text


def test_the_tools_token_needs_the_grant_secret(client, issuer):
    body = {"station_id": "center", "roles": ["ops"], "subject": "rescue-ops"}
    assert client.post("/dev/token", json=body).status_code == 401
    wrong = client.post("/dev/token", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    answer = client.post(
        "/dev/token", json=body, headers={"Authorization": f"Bearer {issuer.grant_secret}"}
    )
    principal = asyncio.run(services_verifier(issuer).verify(answer.json()["access_token"]))
    assert principal.station_id == "center" and principal.roles == {"ops"}
    unknown = client.post(
        "/dev/token",
        json={**body, "roles": ["emperor"]},
        headers={"Authorization": f"Bearer {issuer.grant_secret}"},
    )
    assert unknown.status_code == 400


def test_end_session_goes_back_only_to_a_registered_origin(client):
    back = client.get(
        "/end-session",
        params={"post_logout_redirect_uri": "http://console.test/signed-out"},
        follow_redirects=False,
    )
    assert back.status_code == 303
    assert back.headers["location"] == "http://console.test/signed-out"
    elsewhere = client.get(
        "/end-session",
        params={"post_logout_redirect_uri": "http://evil.test/"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 200 and "已退出登录" in elsewhere.text


def test_the_key_is_kept_across_restarts(tmp_path):
    first = load_or_create_key(tmp_path / "k.pem")
    again = load_or_create_key(tmp_path / "k.pem")
    assert first.private_numbers() == again.private_numbers()
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600


def test_the_issuer_refuses_to_serve_beyond_this_machine():
    from rescue_localnet.issuer import main

    with pytest.raises(SystemExit) as refused:
        main(["serve", "--host", "0.0.0.0"])
    assert refused.value.code == 2


def test_make_runs_network_trusts_the_issuer_only_and_runs_the_console(tmp_path):
    from rescue_localnet.network import LocalNetwork
    from rescue_localnet.supervisor import Supervisor

    net = LocalNetwork(data_dir=tmp_path, auth="issuer")
    env = net.env_for("intake")
    assert env["INTAKE_OIDC_ISSUER"] == "http://127.0.0.1:8109"
    assert "INTAKE_JWT_SECRET" not in env  # never accepted alongside OIDC anyway
    net.prepare_services()
    assert net.apps["issuer"].module == "rescue_localnet.issuer"
    assert "http://127.0.0.1:8100/signin/callback" in (
        net.apps["issuer"].env["RESCUE_ISSUER_REDIRECT_URIS"].split(",")
    )
    console = net.apps["console"].env
    assert console["CONSOLE_OIDC_ISSUER"] == "http://127.0.0.1:8109"
    assert console["CONSOLE_SEARCH_URL"] == "http://127.0.0.1:8102"
    assert {"issuer", "console"} <= set(Supervisor(net).targets)
    # The tests' networks keep the shared secret and start neither.
    tests = LocalNetwork(data_dir=tmp_path / "t")
    assert "INTAKE_JWT_SECRET" in tests.env_for("intake")
    assert "INTAKE_OIDC_ISSUER" not in tests.env_for("intake")
    tests.prepare_services()
    assert tests.apps == {} and "console" not in Supervisor(tests).targets
