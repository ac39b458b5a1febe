"""The console without a network: sessions, CSRF, the admission request it sends,
refusals in Chinese next to their fields (the services stood in by a transport)."""

from __future__ import annotations

import base64
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


PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
PERSON = {
    "id": PERSON_ID,
    "station_id": "gushi",
    "status": "in_station",
    "identity_status": "unknown",
    "arrival_route": "own_request",
    "arrived_at": "2026-12-07T01:00:00+00:00",
    "sex": "male",
    "estimated_age": 61,
    "stated_names": ["王建国"],
    "stated_places": [],
    "categories": [],
    "consent_given": None,
    "handover": None,
    "protected": False,
    "full_name": None,
    "days_in_station": 0,
    "stays": [
        {
            "sequence": 1,
            "station_id": "gushi",
            "arrival_route": "own_request",
            "arrived_at": "2026-12-07T01:00:00+00:00",
            "discharged_at": None,
        }
    ],
}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
JPEG_B64 = base64.b64encode(JPEG).decode()


class FakeServices:
    """Answers as the services would; keeps what the console sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.admission_answer = (201, {"id": PERSON_ID})
        self.photo_answer = (201, {"id": "9a000000-0000-4000-8000-000000000001"})
        self.answers: dict[tuple[str, str], tuple[int, object]] = {
            ("GET", f"/persons/{PERSON_ID}"): (200, PERSON),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        if request.method == "POST" and request.url.path == "/persons":
            status, body = self.admission_answer
            return httpx.Response(status, json=body)
        if request.method == "POST" and request.url.path.endswith("/photos"):
            status, body = self.photo_answer
            return httpx.Response(status, json=body)
        if (request.method, request.url.path) in self.answers:
            status, body = self.answers[(request.method, request.url.path)]
            return httpx.Response(status, json=body)
        return httpx.Response(200, json=[])

    def posts(self, path_end: str = "") -> list[httpx.Request]:
        return [r for r in self.sent if r.method == "POST" and r.url.path.endswith(path_end)]


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


# ---- a photo taken with the phone's camera (issue 26, part 1, point 1) ----------


def test_the_admission_form_offers_the_phones_camera(client):
    sign_in(client)
    form = client.get("/admissions/new").text
    camera = re.search(r'<input id="f-photo"[^>]*>', form).group(0)
    assert 'type="file"' in camera and 'accept="image/*"' in camera
    assert 'capture="environment"' in camera and "name=" not in camera  # the base64 goes
    assert '<label for="f-photo">' in form  # labelled
    assert 'name="photo" value=""' in form and 'name="photo_taken_at"' in form


def test_an_admission_with_a_photo_posts_it_to_the_person_with_its_own_key(client, services):
    csrf = sign_in(client)
    admitted = client.post(
        "/admissions",
        data={
            "csrf": csrf,
            "idempotency_key": "form-key-5",
            "arrival_route": "own_request",
            "sex": "male",
            "photo": JPEG_B64,
            "photo_taken_at": "2026-12-07T01:02:03.000Z",
        },
        follow_redirects=False,
    )
    assert admitted.status_code == 303
    assert admitted.headers["location"] == f"/persons/{PERSON_ID}"
    admission, photo = services.posts()
    assert admission.url.path == "/persons" and "photo" not in json.loads(admission.content)
    assert photo.url.path == f"/persons/{PERSON_ID}/photos"
    assert photo.headers["idempotency-key"] == "form-key-5.photo"
    assert json.loads(photo.content) == {
        "kind": "face",
        "image": JPEG_B64,
        "taken_at": "2026-12-07T01:02:03+00:00",
    }


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (base64.b64encode(b"GIF89a" + b"\x00" * 40).decode(), "须为 JPEG 或 PNG 图片"),
        (base64.b64encode(b"\xff\xd8\xff" + b"\x00" * (2 * 1024 * 1024)).decode(), "超过 2 MB"),
        ("not base64!", "照片读取失败"),
    ],
)
def test_a_refused_photo_is_shown_next_to_its_field_and_nobody_is_admitted(
    client, services, image, words
):
    csrf = sign_in(client)
    refused = client.post(
        "/admissions",
        data={
            "csrf": csrf,
            "idempotency_key": "form-key-6",
            "arrival_route": "own_request",
            "sex": "female",
            "stated_names": "李梅",
            "photo": image,
        },
    )
    assert refused.status_code == 422
    assert re.search(rf'id="err-photo"[^>]*>[^<]*{words}', refused.text)
    assert re.search(r'<input id="f-photo"[^>]*aria-invalid="true"', refused.text)
    assert '<a href="#f-photo">' in refused.text  # the summary points to the field
    assert 'value="李梅"' in refused.text and 'value="female" checked' in refused.text
    assert 'name="idempotency_key" value="form-key-6"' in refused.text  # nothing was sent
    assert not services.posts()


def test_a_photo_intake_refuses_after_the_admission_is_said_on_the_persons_page(client, services):
    services.photo_answer = (413, {"status": 413, "title": "Photo too large"})
    csrf = sign_in(client)
    admitted = client.post(
        "/admissions",
        data={"csrf": csrf, "arrival_route": "own_request", "sex": "male", "photo": JPEG_B64},
        follow_redirects=False,
    )
    assert admitted.headers["location"] == f"/persons/{PERSON_ID}?photo=unsaved"
    person = client.get(admitted.headers["location"])
    assert "照片未能保存" in person.text
    assert '<input id="f-photo"' in person.text  # where to take it again


def test_a_photo_added_on_the_persons_page_and_its_refusal_next_to_the_field(client, services):
    csrf = sign_in(client)
    added = client.post(
        f"/persons/{PERSON_ID}/photos",
        data={"csrf": csrf, "idempotency_key": "photo-key-1", "photo": JPEG_B64},
        follow_redirects=False,
    )
    assert added.status_code == 303
    (post,) = services.posts("/photos")
    assert post.headers["idempotency-key"] == "photo-key-1"
    services.photo_answer = (
        422,
        {"status": 422, "errors": [{"field": "image", "reason": "the photo is not a JPEG"}]},
    )
    refused = client.post(
        f"/persons/{PERSON_ID}/photos",
        data={"csrf": csrf, "idempotency_key": "photo-key-2", "photo": JPEG_B64},
    )
    assert refused.status_code == 422
    assert re.search(r'id="err-photo"[^>]*>照片须为 JPEG 或 PNG 图片', refused.text)


def test_the_persons_page_lists_the_photos(client, services):
    services.answers[("GET", f"/persons/{PERSON_ID}/photos")] = (
        200,
        [{"kind": "face", "taken_at": "2026-12-07T01:02:03+00:00", "size_bytes": 79302}],
    )
    sign_in(client)
    person = client.get(f"/persons/{PERSON_ID}").text
    assert "共 1 张" in person and "面部照片 · 2026-12-07 09:02 拍摄 · 77 KB" in person


# ---- an offline admission sent once when back online (point 2) --------------------


def test_the_admission_form_is_sent_by_the_page_and_kept_offline(client):
    sign_in(client)
    form = client.get("/admissions/new").text
    assert re.search(r'<form [^>]*action="/admissions" class="admission" data-offline', form)
    # Whose pending admissions a page may send, and where it says what is kept.
    assert 'data-user="gushi/张三"' in form
    assert '<div id="pending-admissions" class="pending" role="status"' in form
    script = client.get("/static/console.js").text
    assert "已保存在本机，联网后自动提交" in script and 'addEventListener("online"' in script


def test_a_re_sent_admission_carries_the_same_key_and_body_and_lands_on_the_same_person(
    client, services
):
    csrf = sign_in(client)
    form = {
        "idempotency_key": "offline-key-1",
        "arrival_route": "street_patrol",
        "sex": "male",
        "stated_names": "离线登记",
        "arrived_at": "2026-12-07T02:10",
        "handover.officer": "刘队长",
        "consent": "yes",
    }
    first, again = (
        client.post("/admissions", data={"csrf": csrf, **form}, follow_redirects=False)
        for _ in range(2)
    )
    assert first.headers["location"] == again.headers["location"] == f"/persons/{PERSON_ID}"
    one, two = services.posts("/persons")
    assert one.headers["idempotency-key"] == two.headers["idempotency-key"] == "offline-key-1"
    assert one.content == two.content  # intake replays only the same body
    assert json.loads(one.content)["arrived_at"] == "2026-12-07T02:10:00+08:00"


# ---- discharge and hospital placement (point 3) -----------------------------------


def test_the_persons_page_discharges_with_its_reason(client, services):
    services.answers[("POST", f"/persons/{PERSON_ID}/discharge")] = (200, PERSON)
    csrf = sign_in(client)
    page = client.get(f"/persons/{PERSON_ID}").text
    reasons = re.findall(r'name="reason" value="([a-z_]+)"\s*> ([^<]+)<', page)
    assert [value for value, _ in reasons] == [
        "returned_home", "left", "transferred", "settled", "died",
    ]  # fmt: skip
    assert [words.strip() for _, words in reasons][:2] == ["返乡", "自行离站"]
    done = client.post(
        f"/persons/{PERSON_ID}/discharge",
        data={
            "csrf": csrf,
            "idempotency_key": "discharge-key-1",
            "reason": "transferred",
            "transferred_to_station_id": "xixian",
            "discharged_at": "2026-12-07T10:00",
            "belongings_returned": "yes",
            "note": "",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/persons/{PERSON_ID}#h-stays"
    (post,) = services.posts("/discharge")
    assert post.headers["idempotency-key"] == "discharge-key-1"
    assert json.loads(post.content) == {
        "reason": "transferred",
        "transferred_to_station_id": "xixian",
        "discharged_at": "2026-12-07T10:00:00+08:00",
        "belongings_returned": True,
    }


def test_a_refused_discharge_shows_next_to_its_field_and_keeps_what_was_typed(client, services):
    services.answers[("POST", f"/persons/{PERSON_ID}/discharge")] = (
        422,
        {
            "status": 422,
            "errors": [
                {"field": "transferred_to", "reason": "a transfer says where the person went"}
            ],
        },
    )
    csrf = sign_in(client)
    refused = client.post(
        f"/persons/{PERSON_ID}/discharge",
        data={"csrf": csrf, "reason": "transferred", "note": "送往外地", "idempotency_key": "k9"},
    )
    assert refused.status_code == 422
    assert re.search(r'id="err-transferred_to">转出须写明转往何处', refused.text)
    assert re.search(r'<input id="f-transferred_to"[^>]*aria-invalid="true"', refused.text)
    assert 'value="transferred" checked' in refused.text and ">送往外地</textarea>" in refused.text
    assert 'name="idempotency_key" value="k9"' not in refused.text  # refused: a new key


def test_a_settled_discharge_before_the_procedure_ends_is_said_at_the_reason(client, services):
    services.answers[("POST", f"/persons/{PERSON_ID}/discharge")] = (
        409,
        {"status": 409, "title": "Settlement not complete", "detail": "needs every step"},
    )
    csrf = sign_in(client)
    refused = client.post(
        f"/persons/{PERSON_ID}/discharge", data={"csrf": csrf, "reason": "settled"}
    )
    assert re.search(r'id="err-reason">落户安置须先完成全部安置程序', refused.text)


def test_a_discharged_person_has_no_discharge_form(client, services):
    stay = {**PERSON["stays"][0], "discharged_at": "2026-12-07T02:00:00+00:00"}
    stay["discharge_reason"] = "returned_home"
    services.answers[("GET", f"/persons/{PERSON_ID}")] = (
        200,
        {**PERSON, "status": "discharged", "stays": [stay]},
    )
    sign_in(client)
    page = client.get(f"/persons/{PERSON_ID}").text
    assert "办理离站" not in page and "离站（返乡）" in page


def test_medical_first_places_the_person_in_hospital(client, services):
    placement_id = "5b000000-0000-4000-8000-000000000001"
    services.answers[("POST", "/hospital-placements")] = (201, {"id": placement_id})
    csrf = sign_in(client)
    form = client.get("/hospital-placements/new").text
    assert '<label for="f-hospital">送往医院' in form and "醉酒或中毒" in form
    placed = client.post(
        "/hospital-placements",
        data={
            "csrf": csrf,
            "idempotency_key": "placement-key-1",
            "hospital": "固始县人民医院",
            "conditions": "intoxication",
            "sex": "male",
            "stated_names": "张某、老张",
            "placed_at": "2026-12-07T01:30",
        },
        follow_redirects=False,
    )
    assert placed.status_code == 303
    assert placed.headers["location"] == f"/hospital-placements?placed={placement_id}"
    (post,) = services.posts("/hospital-placements")
    assert post.headers["idempotency-key"] == "placement-key-1"
    assert json.loads(post.content) == {
        "sex": "male",
        "hospital": "固始县人民医院",
        "stated_names": ["张某", "老张"],
        "placed_at": "2026-12-07T01:30:00+08:00",
        "conditions": ["intoxication"],
        "categories": [],
    }


def test_a_refused_placement_shows_next_to_its_field_in_chinese(client, services):
    services.answers[("POST", "/hospital-placements")] = (
        422,
        {
            "status": 422,
            "errors": [
                {"field": "hospital", "reason": "Field required"},
                {"field": "conditions", "reason": "List should have at least 1 item"},
            ],
        },
    )
    csrf = sign_in(client)
    refused = client.post(
        "/hospital-placements", data={"csrf": csrf, "sex": "female", "dialect": "河南话"}
    )
    assert refused.status_code == 422
    assert re.search(r'id="err-hospital">此项必填。', refused.text)
    assert re.search(r'id="err-conditions">请至少选择一项。', refused.text)
    assert 'value="河南话"' in refused.text and 'value="female" checked' in refused.text


def test_the_persons_in_hospital(client, services):
    services.answers[("GET", "/hospital-placements")] = (
        200,
        [
            {
                "id": "p1",
                "hospital": "固始县人民医院",
                "conditions": ["intoxication"],
                "placed_at": "2026-12-07T01:30:00+00:00",
                "sex": "male",
                "estimated_age": None,
                "stated_names": ["张某"],
            }
        ],
    )
    sign_in(client)
    page = client.get("/hospital-placements", params={"placed": "p1"}).text
    assert "已登记送医安置" in page and 'data-testid="placed"' in page and "醉酒或中毒" in page
