"""The console without a network: sessions, CSRF, the admission request it sends,
refusals in Chinese next to their fields (the services stood in by a transport)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.admission import admission_request
from rescue_console.app import create_app
from rescue_console.sessions import SessionStore
from rescue_console.settings import ConsoleSettings
from rescue_console.wording import local_time, reason_in_chinese, time_left

SECRET = "console-unit-secret-" + "k" * 30


def settings(**overrides) -> ConsoleSettings:
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    return ConsoleSettings(
        **{**urls, "dev_jwt_secret": SECRET, "cookie_secure": False, **overrides}
    )


class FakeServices:
    """Answers as the services would; keeps what the console sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.admission_answer = (201, {"id": "7f1c2d4e-0000-4000-8000-000000000001"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if request.method == "POST" and request.url.path == "/persons":
            status, body = self.admission_answer
            return httpx.Response(status, json=body)
        return httpx.Response(200, json=[])


@pytest.fixture
def services():
    return FakeServices()


@pytest.fixture
def client(services):
    app = create_app(settings(), transport=httpx.MockTransport(services))
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def sign_in(client, station="gushi") -> str:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    signed = client.post(
        "/signin",
        data={"csrf": csrf, "station_id": station, "roles": "station_staff", "subject": "张三"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    form = client.get("/admissions/new").text
    return re.search(r'<main.*?name="csrf" value="([^"]+)"', form, re.S).group(1)


def test_pages_need_a_session(client):
    answer = client.get("/board", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/board"


def test_a_board_refresh_without_a_session_reloads_the_whole_page(client):
    answer = client.get("/board/panels", headers={"HX-Request": "true"}, follow_redirects=False)
    assert answer.headers["HX-Redirect"] == "/signin"


def test_sign_in_needs_its_form_token(client):
    client.get("/signin")
    forged = client.post(
        "/signin",
        data={"csrf": "guess", "station_id": "gushi", "roles": "station_staff", "subject": "x"},
    )
    assert forged.status_code == 403


def test_sign_in_goes_back_only_to_a_page_of_the_console(client):
    page = client.get("/signin", params={"next": "//evil.example/x"})
    assert 'name="next" value="/board"' in page.text


def test_the_token_stays_on_the_server(client, services):
    sign_in(client)
    client.get("/board")
    token = services.sent[0].headers["authorization"].removeprefix("Bearer ")
    assert token and token not in client.cookies.get("console_session", "")
    assert all(token not in value for value in client.cookies.values())


def test_a_form_without_the_sessions_csrf_token_admits_nobody(client, services):
    sign_in(client)
    refused = client.post("/admissions", data={"csrf": "forged", "arrival_route": "own_request"})
    assert refused.status_code == 403
    assert not [r for r in services.sent if r.method == "POST"]


def test_a_form_from_another_origin_is_refused(client):
    csrf = sign_in(client)
    refused = client.post(
        "/admissions", data={"csrf": csrf}, headers={"Origin": "https://elsewhere.example"}
    )
    assert refused.status_code == 403


def test_an_admission_sends_the_forms_idempotency_key_and_goes_to_the_person(client, services):
    csrf = sign_in(client)
    admitted = client.post(
        "/admissions",
        data={
            "csrf": csrf,
            "idempotency_key": "form-key-1",
            "arrival_route": "own_request",
            "sex": "male",
        },
        follow_redirects=False,
    )
    assert admitted.status_code == 303
    assert admitted.headers["location"] == "/persons/7f1c2d4e-0000-4000-8000-000000000001"
    (post,) = [r for r in services.sent if r.method == "POST"]
    assert post.headers["idempotency-key"] == "form-key-1"


def test_a_refusal_shows_next_to_its_field_in_chinese_and_keeps_what_was_typed(client, services):
    services.admission_answer = (
        422,
        {
            "type": "urn:rescue-network:problem:validation-error",
            "title": "Invalid request",
            "status": 422,
            "detail": "consent_given: escorting an adult ...",
            "errors": [
                {
                    "field": "consent_given",
                    "reason": "escorting an adult with full civil capacity needs their consent",
                }
            ],
        },
    )
    csrf = sign_in(client)
    refused = client.post(
        "/admissions",
        data={
            "csrf": csrf,
            "idempotency_key": "form-key-2",
            "arrival_route": "street_patrol",
            "handover.officer": "刘队长",
            "consent": "no",
            "stated_names": "王建国、老王",
        },
    )
    assert refused.status_code == 422
    assert re.search(r'id="err-consent">[^<]*须经本人同意', refused.text)
    assert 'value="刘队长"' in refused.text and 'value="王建国、老王"' in refused.text
    # Refused, so nothing was admitted: the next try carries a new key.
    assert 'name="idempotency_key" value="form-key-2"' not in refused.text


def test_an_unreachable_service_keeps_the_key_so_the_retry_admits_once(services):
    def down(request):
        raise httpx.ConnectError("refused")

    app = create_app(settings(), transport=httpx.MockTransport(down))
    with TestClient(app, base_url="http://console.test") as client:
        csrf = sign_in(client)
        answer = client.post(
            "/admissions",
            data={"csrf": csrf, "idempotency_key": "form-key-3", "arrival_route": "own_request"},
        )
    assert answer.status_code == 503
    assert 'name="idempotency_key" value="form-key-3"' in answer.text
    assert "不会重复登记" in answer.text


def test_sign_out_ends_the_session(client):
    csrf = sign_in(client)
    client.post("/signout", data={"csrf": csrf})
    assert client.get("/board", follow_redirects=False).status_code == 303


def test_sessions_expire_when_idle_and_at_their_age_limit():
    now = [0.0]
    store = SessionStore(idle_seconds=60, max_seconds=300, clock=lambda: now[0])
    session = store.start(token="t", subject="s", station_id="gushi", roles=["station_staff"])
    for minute in range(1, 5):
        now[0] = minute * 59
        assert store.get(session.id) is session
    now[0] = 301
    assert store.get(session.id) is None
    idle = store.start(token="t", subject="s", station_id="gushi", roles=[])
    now[0] += 61
    assert store.get(idle.id) is None


def test_the_admission_request_carries_only_the_chosen_routes_fields():
    body = admission_request(
        {
            "arrival_route": "hospital_transfer",
            "sex": "female",
            "estimated_age": "45",
            "stated_names": "李梅，梅子",
            "source.hospital": "信阳市第五人民医院",
            "source.discharge_reference": "XY5Y-1",
            "handover.officer": "typed before the route changed",
            "arrived_at": "2026-12-01T08:30",
            "categories": ["elderly"],
        }
    )
    assert body == {
        "arrival_route": "hospital_transfer",
        "sex": "female",
        "estimated_age": 45,
        "stated_names": ["李梅", "梅子"],
        "arrived_at": "2026-12-01T08:30:00+08:00",
        "categories": ["elderly"],
        "suspected_conditions": [],
        "source": {"hospital": "信阳市第五人民医院", "discharge_reference": "XY5Y-1"},
    }


def test_a_street_patrol_consent_choice():
    def consent(choice):
        return admission_request({"arrival_route": "street_patrol", "consent": choice}).get(
            "consent_given"
        )

    assert (consent("yes"), consent("no"), consent("exempt")) == (True, False, None)


def test_refusal_reasons_in_chinese_with_the_services_words_as_fallback():
    assert "先救治，后救助" in reason_in_chinese(
        "suspected_conditions", "suspected intoxication: ..."
    )
    assert reason_in_chinese("handover.officer", "Field required") == "此项必填。"
    assert reason_in_chinese("dialect", "something new") == "服务未接受此项：something new"


def test_times_are_beijing_time_with_what_is_left():
    assert local_time("2026-12-07T16:30:00+00:00") == "2026-12-08 00:30"
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert time_left(now + timedelta(hours=3, minutes=12), now) == ("还剩 3小时12分", False)
    assert time_left(now - timedelta(days=1, hours=2), now) == ("已逾期 1天2小时", True)


def test_settings_refuse_a_placeholder_secret():
    with pytest.raises(ValueError):
        settings(dev_jwt_secret="x" * 40)


def test_the_console_loads_no_script_from_elsewhere(client):
    sign_in(client)
    for path in ("/board", "/admissions/new"):
        html = client.get(path).text
        sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
        assert sources and all(s.startswith("/static/") for s in sources)
        assert not re.search(r"<script(?![^>]*src=)", html)  # no inline script
        assert json.loads(re.search(r"name=\"htmx-config\" content='([^']+)'", html).group(1))


def test_every_refused_field_has_its_place_on_the_form(client, services):
    fields = [
        "arrival_route", "arrived_at", "sex", "estimated_age", "stated_names.0", "dialect",
        "categories", "suspected_conditions", "consent_given", "handover", "handover.found_at",
        "source", "source.hospital", "source.station_id", "registered_home_admin_code",
    ]  # fmt: skip
    errors = [{"field": f, "reason": "Field required"} for f in fields]
    services.admission_answer = (422, {"status": 422, "detail": "invalid", "errors": errors})
    csrf = sign_in(client)
    refused = client.post("/admissions", data={"csrf": csrf, "arrival_route": "street_patrol"})
    links = re.findall(r'<a href="#(f-[^"]+)"', refused.text)
    assert len(links) == len(fields)
    for anchor in links:
        assert f'id="{anchor}"' in refused.text, anchor
        assert f'id="err-{anchor.removeprefix("f-")}"' in refused.text, anchor
    assert "服务未接受此项" not in refused.text


def test_a_used_key_is_kept_so_the_form_cannot_admit_twice(client, services):
    services.admission_answer = (409, {"status": 409, "title": "Request in progress"})
    csrf = sign_in(client)
    answer = client.post(
        "/admissions",
        data={"csrf": csrf, "idempotency_key": "form-key-4", "arrival_route": "own_request"},
    )
    assert answer.status_code == 409
    assert 'name="idempotency_key" value="form-key-4"' in answer.text
    assert "可能已登记成功" in answer.text
