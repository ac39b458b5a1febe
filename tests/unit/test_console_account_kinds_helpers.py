"""The console's sign-in for the three kinds of account (signin.py): a station's
staff, a partner agency, a town or village. The dev form mints the claims the
services read; refusals stand next to their fields; each kind lands on its home."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_chassis.auth import verify_token
from rescue_chassis.network import load_network
from rescue_console.app import create_app
from rescue_console.settings import ConsoleSettings
from rescue_console.signin import home_page, landing
from rescue_localnet.issuer import Issuer, create_issuer, grant_secret, load_or_create_key

SECRET = "console-account-kinds-" + "k" * 30
SERVICES = ("intake", "search", "transfer", "referral", "followup")
ISSUER = "http://issuer.test"
CONSOLE = "http://console.test"


def settings(**overrides) -> ConsoleSettings:
    urls = {f"{n}_url": f"http://{n}.test" for n in SERVICES}
    return ConsoleSettings(**{**urls, "cookie_secure": False, **overrides})


@pytest.fixture
def client():
    services = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    app = create_app(settings(dev_jwt_secret=SECRET), transport=services)
    with TestClient(app, base_url=CONSOLE) as client:
        yield client


def sign_in_form(client, kind: str | None = None, **fields) -> httpx.Response:
    """The dev sign-in page of one kind, then its form posted with these fields."""
    page = client.get("/signin", params={"kind": kind} if kind else {})
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    kind_field = re.search(r'name="kind" value="([^"]*)"', page.text).group(1)
    return client.post(
        "/signin",
        data={"csrf": csrf, "next": "/board", "kind": kind_field, "subject": "张三", **fields},
        follow_redirects=False,
    )


def minted(client):
    """The signed-in session's token, verified as the services verify it."""
    session = client.app.state.console.sessions.get(client.cookies.get("console_session"))
    assert session is not None, "no session"
    return verify_token(
        session.token, secret=SECRET, audience="rescue-network", issuer="rescue-network-dev"
    )


def test_each_kind_is_offered_with_its_own_fields(client):
    station = client.get("/signin").text
    assert 'aria-label="账号类型"' in station
    assert 'aria-current="page"><strong>救助站工作人员' in station
    assert 'id="station_id"' in station and 'id="agency_id"' not in station
    partner = client.get("/signin", params={"kind": "partner"}).text
    assert "<legend>合作单位</legend>" in partner and 'id="station_id"' not in partner
    assert '<label for="agency_id">单位编号</label>' in partner and "gushi-police" in partner
    assert '<option value="womens_federation"' in partner and "妇女联合会" in partner
    town = client.get("/signin", params={"kind": "town"}).text
    assert "<legend>乡镇/村</legend>" in town and '<label for="area_code">区划代码</label>' in town
    assert 'name="kind" value="town"' in town
    # the kind links keep where the user was going
    assert (
        'href="/signin?kind=partner&amp;next=/persons/x"'
        in client.get("/signin", params={"next": "/persons/x"}).text
    )


def test_station_staff_sign_in_as_today_and_land_on_the_board(client):
    answer = sign_in_form(client, station_id="gushi", roles=["station_staff", "station_lead"])
    assert answer.status_code == 303 and answer.headers["location"] == "/board"
    principal = minted(client)
    assert principal.station_id == "gushi"
    assert principal.roles == {"station_staff", "station_lead"}


def test_a_partner_signs_in_as_its_agency_and_type_and_lands_on_its_page(client):
    answer = sign_in_form(
        client, "partner", agency_id=" gushi-police ", partner_type="police", subject="赵民警"
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/partner"
    principal = minted(client)
    assert principal.station_id == "gushi-police"
    assert principal.roles == {"partner", "police"} and principal.subject == "赵民警"


def test_a_town_official_signs_in_with_the_area_code_and_lands_on_its_revisits(client):
    answer = sign_in_form(client, "town", area_code="411525101001")
    assert answer.status_code == 303 and answer.headers["location"] == "/revisits/town"
    principal = minted(client)
    assert principal.station_id == "411525101001" and principal.roles == {"town_official"}


def test_a_page_asked_for_is_where_a_partner_lands(client):
    page = client.get("/signin", params={"kind": "partner", "next": "/partner/referrals/1"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = client.post(
        "/signin",
        data={
            "csrf": csrf,
            "next": "/partner/referrals/1",
            "kind": "partner",
            "agency_id": "xinyang-pingqiao-womens-federation",
            "partner_type": "womens_federation",
            "subject": "权益部",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/partner/referrals/1"


def test_a_partner_without_agency_or_type_is_refused_next_to_the_fields(client):
    answer = sign_in_form(client, "partner", agency_id="  ", partner_type="emperor")
    assert answer.status_code == 422
    assert 'id="err-agency_id">请填写合作单位的单位编号。' in answer.text
    assert 'id="err-partner_type">请选择单位类型。' in answer.text
    assert 'name="kind" value="partner"' in answer.text  # still the partner's form
    assert "console_session" not in client.cookies


@pytest.mark.parametrize("agency", ["a" * 65, "gushi police", "gushi\x07police"])
def test_an_agency_id_too_long_or_not_visible_is_refused_with_what_was_typed(client, agency):
    answer = sign_in_form(client, "partner", agency_id=agency, partner_type="hospital")
    assert answer.status_code == 422
    assert 'id="err-agency_id">单位编号最多 64 个字符' in answer.text
    assert '<option value="hospital" selected>' in answer.text
    assert "console_session" not in client.cookies


@pytest.mark.parametrize(
    "code", ["", "41152510", "4115251010", "41152510100a", "４１１５２５１０１"]
)
def test_a_town_code_not_of_9_or_12_digits_is_refused_next_to_its_field(client, code):
    answer = sign_in_form(client, "town", area_code=code)
    assert answer.status_code == 422
    assert 'id="err-area_code">请填写 9 位乡镇代码或 12 位村代码' in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert "console_session" not in client.cookies


def test_station_staff_still_need_a_network_station_and_a_role(client):
    answer = sign_in_form(client, station_id="atlantis")
    assert answer.status_code == 422
    assert 'id="err-station_id">请选择本网络的救助站。' in answer.text
    assert 'id="err-roles">请至少选择一个角色。' in answer.text


def test_an_unknown_kind_is_offered_as_staff_and_refused_when_posted(client):
    assert 'name="kind" value="station"' in client.get("/signin?kind=emperor").text
    page = client.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    forged = client.post(
        "/signin",
        data={"csrf": csrf, "kind": "emperor", "station_id": "gushi", "subject": "x"},
        follow_redirects=False,
    )
    assert forged.status_code == 422 and "请选择账号类型。" in forged.text


def test_the_home_page_by_account_kind():
    assert home_page(["station_staff"]) == "/board"
    assert home_page(["partner", "civil_affairs"]) == "/partner"
    assert home_page(["town_official"]) == "/revisits/town"
    assert landing("/board", ["town_official"]) == "/revisits/town"
    assert landing("/persons/1", ["station_staff"]) == "/persons/1"


def test_a_partner_signed_in_at_the_issuer_lands_on_its_page(tmp_path):
    """The OIDC callback lands by account kind too (the issuer's partner grant)."""
    issuer_app = create_issuer(
        Issuer(
            url=ISSUER,
            key=load_or_create_key(tmp_path / "signing-key.pem"),
            redirect_uris=frozenset({f"{CONSOLE}/signin/callback"}),
            network=load_network(),
            grant_secret=grant_secret(tmp_path),
        )
    )
    issuer_transport = httpx.ASGITransport(app=issuer_app)
    services = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))

    class Both(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            if request.url.host == "issuer.test":
                return await issuer_transport.handle_async_request(request)
            return await services.handle_async_request(request)

    app = create_app(settings(oidc_issuer=ISSUER), transport=Both())
    with (
        TestClient(app, base_url=CONSOLE) as console,
        TestClient(issuer_app, base_url=ISSUER) as at_issuer,
    ):
        to = urlsplit(console.get("/signin", follow_redirects=False).headers["location"])
        query = {k: v[0] for k, v in parse_qs(to.query).items()}
        page = at_issuer.get("/authorize", params={**query, "kind": "partner"}).text
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
        assert hidden["kind"] == "partner"
        chosen = at_issuer.post(
            "/authorize",
            data={**hidden, "agency_id": "gushi-police", "partner_type": "police", "subject": "赵"},
            follow_redirects=False,
        )
        assert chosen.status_code == 303, chosen.text
        back = console.get(chosen.headers["location"], follow_redirects=False)
        assert back.status_code == 200, back.text
        assert back.headers["refresh"] == "0; url=/partner"
        session = console.app.state.console.sessions.get(console.cookies.get("console_session"))
        assert session.station_id == "gushi-police"
        assert sorted(session.roles) == ["partner", "police"]
