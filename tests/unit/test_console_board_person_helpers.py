"""The board's police-check/DNA deadlines and placements not visited, a person's
belongings, incidents and burial, and a face-trail suggestion accepted or rejected,
without a network (the services stood in by the console's transport hook)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from rescue_console.app import create_app
from rescue_console.board import not_visited, task_deadlines
from rescue_console.case import accept_request
from rescue_console.person import incident_refusals, incident_request
from rescue_console.services import Answer
from rescue_console.settings import ConsoleSettings

SECRET = "console-unit-secret-" + "k" * 30
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PERSON_ID = "7f1c2d4e-0000-4000-8000-000000000001"
CASE_ID = "c0000000-0000-4000-8000-000000000001"
SUGGESTION_ID = "5a000000-0000-4000-8000-000000000001"
EARLIER_ID = "7f1c2d4e-0000-4000-8000-0000000000e1"
CASE = {
    "id": CASE_ID,
    "person_id": PERSON_ID,
    "station_id": "gushi",
    "status": "open",
    "arrived_at": "2026-12-07T01:00:00+00:00",
    "opened_at": "2026-12-07T01:00:01+00:00",
    "notice_due_at": "2026-12-08T01:00:00+00:00",
    "notice_published_at": None,
    "stated_names": "汪晓明",
    "stated_places": None,
    "dialect": None,
    "identified_at": None,
    "method": None,
    "full_name": None,
    "home_province": None,
    "home_address": None,
    "home_admin_code": None,
    "notice_overdue": False,
}


def task(kind: str, due: str, *, status="open", case_id=CASE_ID, id_=None) -> dict:
    return {
        "id": id_ or f"{kind}-{due}",
        "case_id": case_id,
        "station_id": "gushi",
        "kind": kind,
        "status": status,
        "due_at": due,
        "done_at": None,
    }


POLICE = task("police_check", "2026-12-08T01:00:00+00:00", id_="t-police")
DNA = task("dna_sample", "2026-12-10T01:00:00+00:00", id_="t-dna")
NOTICE = task("family_search_notice", "2026-12-08T01:00:00+00:00", id_="t-notice")
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
    "incidents": [
        {
            "id": "i1",
            "stay_id": "s1",
            "station_id": "gushi",
            "kind": "injury",
            "occurred_at": "2026-12-07T03:00:00+00:00",
            "description": "院内摔倒，右膝擦伤，已包扎",
            "reported_at": "2026-12-07T03:10:00+00:00",
        }
    ],
    "refusal_count": 2,
    "burial": None,
}
PLACEMENT = {
    "id": "oc1",
    "person_id": PERSON_ID,
    "stay_id": "s1",
    "station_id": "gushi",
    "institution": "固始县社会福利院",
    "address": "固始县城关镇福利路8号",
    "reason": "站内床位不足",
    "started_at": "2026-10-01T02:00:00+00:00",
    "health_status": None,
    "search_progress": None,
    "last_visited_at": None,
    "days_since_last_visit": 67,
    "overdue": True,
    "ended_at": None,
    "outcome": None,
    "end_note": None,
    "visits": [],
}


# ---- pure helpers -------------------------------------------------------------------


def test_police_and_dna_deadlines_come_once_each_with_time_left_or_overdue():
    late = task("dna_sample", "2026-12-01T01:00:00+00:00", case_id="c-old", id_="t-old")
    done = task("police_check", "2026-12-07T13:00:00+00:00", status="done", id_="t-done")
    rows = task_deadlines([CASE], [late, NOTICE, POLICE, DNA, done], NOW)
    assert [r["kind"] for r in rows] == ["dna_sample", "police_check", "dna_sample"]
    old, police, dna = rows
    assert (old["time_left"], old["overdue"]) == ("已逾期 6天11小时", True)
    assert old["person_id"] is None and old["name"] == "姓名不详"  # its case not listed
    assert (police["time_left"], police["overdue"]) == ("还剩 13小时0分", False)
    assert police["person_id"] == PERSON_ID and police["name"] == "汪晓明"
    assert police["what"] == "公安身份核查" and dna["what"] == "采集DNA样本"
    assert dna["time_left"] == "还剩 2天13小时"


def test_only_placements_not_visited_in_time_with_the_persons_name():
    visited = {**PLACEMENT, "id": "oc2", "overdue": False, "person_id": "other"}
    rows = not_visited([PLACEMENT, visited], [PERSON])
    assert [(r["id"], r["name"]) for r in rows] == [("oc1", "王建国")]
    assert not_visited([PLACEMENT], [])[0]["name"] == "姓名不详"


def test_an_incident_carries_only_what_was_typed_and_its_refusals_find_their_fields():
    assert incident_request(
        {
            "incident_kind": "missing",
            "incident_occurred_at": "2026-12-07T02:40",
            "incident_description": " 夜间查房发现不在床位，已报警 ",
        }
    ) == {
        "kind": "missing",
        "occurred_at": "2026-12-07T02:40:00+08:00",
        "description": "夜间查房发现不在床位，已报警",
    }
    assert incident_request({"incident_kind": "", "incident_description": " "}) == {}
    refused = Answer(
        422,
        {
            "errors": [
                {"field": "occurred_at", "reason": "is before the person arrived"},
                {"field": "description", "reason": "Field required"},
                {"field": "kind", "reason": "Input should be 'death', 'missing' or 'injury'"},
                {"field": "stay", "reason": "something else"},
            ]
        },
    )
    errors, general = incident_refusals(refused)
    assert errors == {
        "incident_occurred_at": ["发生时间不能早于此人本次到站时间。"],
        "incident_description": ["此项必填。"],
        "incident_kind": ["请选择事件类型：死亡、走失或受伤。"],
    }
    assert general == ["服务未接受此项：something else"]


def test_accepting_a_suggestion_names_the_earlier_person_matched_by_face():
    assert accept_request({"earlier_person_id": EARLIER_ID, "similarity": "0.91"}) == {
        "method": "face_comparison",
        "earlier_person_id": EARLIER_ID,
        "similarity": 0.91,
    }
    assert accept_request({}) == {"method": "face_comparison"}  # search says what is missing


# ---- the pages, the services stood in ----------------------------------------------------


class FakeServices:
    """Answers by (method, path); keeps what the console sent."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.answers: dict[tuple[str, str], tuple[int, object]] = {
            ("GET", f"/persons/{PERSON_ID}"): (200, PERSON),
            ("GET", "/station/persons"): (200, [PERSON]),
            ("GET", "/cases"): (200, [CASE]),
            ("GET", f"/cases/{CASE_ID}"): (200, CASE),
            ("GET", f"/cases/{CASE_ID}/tasks"): (200, [NOTICE, POLICE, DNA]),
            ("GET", "/tasks"): (200, [NOTICE, POLICE, DNA]),
            ("GET", "/station/outsourced-care"): (200, [PLACEMENT]),
            ("GET", f"/persons/{PERSON_ID}/belongings"): (
                200,
                [
                    {
                        "id": "b1",
                        "stay_id": "s1",
                        "description": "身份证复印件",
                        "quantity": 1,
                        "condition": "完好",
                        "notes": None,
                        "received_at": "2026-12-07T01:10:00+00:00",
                        "recorded_at": "2026-12-07T01:10:00+00:00",
                        "returned_at": None,
                        "return_note": None,
                    }
                ],
            ),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        status, body = self.answers.get((request.method, request.url.path), (200, []))
        return httpx.Response(status, json=body)

    def posts(self, path: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == "POST" and r.url.path == path]


@pytest.fixture
def services():
    return FakeServices()


@pytest.fixture
def client(services):
    urls = {
        f"{n}_url": f"http://{n}.test"
        for n in ("intake", "search", "transfer", "referral", "followup")
    }
    settings = ConsoleSettings(**urls, dev_jwt_secret=SECRET, cookie_secure=False)
    # the pages count deadlines from NOW, not from the day the tests run
    app = create_app(settings, transport=httpx.MockTransport(services), clock=lambda: NOW)
    with TestClient(app, base_url="http://console.test") as client:
        yield client


def sign_in(client, roles="station_staff") -> str:
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    signed = client.post(
        "/signin",
        data={"csrf": csrf, "station_id": "gushi", "roles": roles, "subject": "张三"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    form = client.get("/admissions/new").text
    return re.search(r'<main.*?name="csrf" value="([^"]+)"', form, re.S).group(1)


def section(html: str, heading_id: str) -> str:
    start = html.index(f'id="{heading_id}"')
    return html[start : html.index("</section>", start)]


def test_the_board_shows_police_and_dna_deadlines_linked_to_the_case(client, services):
    sign_in(client)
    board = client.get("/board").text
    deadlines = section(board, "h-task-deadlines")
    assert f'href="/cases/{CASE_ID}#h-tasks"' in deadlines  # the notice row links the case alone
    assert f'href="/persons/{PERSON_ID}"' in deadlines
    assert "公安身份核查" in deadlines and "采集DNA样本" in deadlines
    assert "发布寻亲公告" not in deadlines  # the notice has its own panel
    assert "还剩 13小时0分" in deadlines and "还剩 2天13小时" in deadlines  # as of NOW
    placements = section(board, "h-not-visited")
    assert "固始县社会福利院" in placements and "托养以来未探访，已 67 天" in placements
    sent = [r.url for r in services.sent if r.url.path == "/station/outsourced-care"]
    assert sent and sent[0].params["overdue"] == "true"


def test_each_new_board_panel_says_its_own_failure(client, services):
    services.answers[("GET", "/tasks")] = (503, {"detail": "down"})
    services.answers[("GET", "/station/outsourced-care")] = (403, {"detail": "no"})
    sign_in(client)
    board = client.get("/board").text
    assert "暂时无法获取" in section(board, "h-task-deadlines")
    assert "无权查看" in section(board, "h-not-visited")
    assert f'href="/cases/{CASE_ID}"' in section(board, "h-deadlines")  # the notice panel stays


def test_the_board_reads_the_stations_open_tasks_once(client, services):
    sign_in(client)
    client.get("/board")
    paths = [r.url.path for r in services.sent]
    assert paths.count("/tasks") == 1
    assert not [p for p in paths if p.endswith("/tasks") and p != "/tasks"]
    assert "/overdue" not in paths


def test_the_persons_page_shows_belongings_incidents_and_refusals(client, services):
    sign_in(client)
    html = client.get(f"/persons/{PERSON_ID}").text
    assert "身份证复印件 × 1" in section(html, "h-belongings")
    assert "未交还" in section(html, "h-belongings")
    incidents = section(html, "h-incidents")
    assert "受伤" in incidents and "院内摔倒，右膝擦伤，已包扎" in incidents
    assert "有 2 次拒绝救助记录" in html
    assert 'id="h-burial"' not in html


def test_a_burial_is_shown_in_chinese(client, services):
    burial = {
        "person_id": PERSON_ID,
        "stay_id": "s1",
        "station_id": "gushi",
        "buried_on": "2026-12-05",
        "remains": "cremated_ashes_kept",
        "cemetery": None,
        "funeral_home": "固始县殡仪馆",
        "certificate_reference": "固殡〔2026〕88号",
        "photo_kept": True,
        "dna_kept": True,
        "note": None,
        "recorded_at": "2026-12-05T08:00:00+00:00",
        "corrected_at": None,
        "correction_note": None,
    }
    services.answers[("GET", f"/persons/{PERSON_ID}")] = (200, {**PERSON, "burial": burial})
    sign_in(client)
    shown = section(client.get(f"/persons/{PERSON_ID}").text, "h-burial")
    assert "火化，骨灰寄存待家属认领" in shown and "固始县殡仪馆" in shown
    assert "照片已留存 · DNA已留存" in shown


def test_an_incident_is_posted_with_its_key_and_a_refusal_is_said_next_to_its_field(
    client, services
):
    csrf = sign_in(client)
    path = f"/persons/{PERSON_ID}/incidents"
    services.answers[("POST", path)] = (
        422,
        {"errors": [{"field": "occurred_at", "reason": "is before the person arrived"}]},
    )
    form = {
        "csrf": csrf,
        "idempotency_key": "incident-key-1",
        "incident_kind": "missing",
        "incident_occurred_at": "2020-01-01T08:00",
        "incident_description": "夜间查房发现不在床位，已报警",
    }
    refused = client.post(path, data=form, follow_redirects=False)
    assert refused.status_code == 422
    assert 'id="err-incident_occurred_at"' in refused.text
    assert "发生时间不能早于此人本次到站时间。" in refused.text
    assert "夜间查房发现不在床位，已报警</textarea>" in refused.text  # what was typed is kept
    assert 'value="2020-01-01T08:00"' in refused.text
    sent = services.posts(path)[0]
    assert json.loads(sent.content) == {
        "kind": "missing",
        "occurred_at": "2020-01-01T08:00:00+08:00",
        "description": "夜间查房发现不在床位，已报警",
    }
    assert sent.headers["Idempotency-Key"] == "incident-key-1"
    assert "离站未办理" not in refused.text  # the discharge form is not blamed

    services.answers[("POST", path)] = (201, PERSON)
    done = client.post(path, data={**form, "incident_occurred_at": "2026-12-07T10:00"})
    assert done.status_code == 200 and str(done.url).endswith(f"/persons/{PERSON_ID}#h-incidents")


def _with_a_suggestion(services):
    suggestion = {
        "id": SUGGESTION_ID,
        "case_id": CASE_ID,
        "station_id": "gushi",
        "earlier_person_id": EARLIER_ID,
        "method": "face_comparison",
        "similarity": 0.91,
        "trail": [],
        "status": "pending",
        "suggested_at": "2026-12-07T02:00:00+00:00",
        "reviewed_by": None,
        "reviewed_at": None,
        "rejection_reason": None,
    }
    services.answers[("GET", "/earlier-stay-suggestions")] = (200, [suggestion])


def test_a_suggestion_accepted_goes_to_searchs_earlier_stays(client, services):
    _with_a_suggestion(services)
    csrf = sign_in(client, roles="search_specialist")
    page = client.get(f"/cases/{CASE_ID}").text
    assert "认定为早前在站（同一人）" in page and "否定此建议" in page
    path = f"/cases/{CASE_ID}/earlier-stays"
    services.answers[("POST", path)] = (
        409,
        {"detail": "This earlier stay is already on the case."},
    )
    form = {
        "csrf": csrf,
        "idempotency_key": "accept-key-1",
        "suggestion_id": SUGGESTION_ID,
        "earlier_person_id": EARLIER_ID,
        "similarity": "0.91",
    }
    refused = client.post(path, data=form, follow_redirects=False)
    assert 'data-testid="suggestion-refused"' in refused.text
    assert "此项已办理过，请刷新本页核对。" in refused.text
    assert json.loads(services.posts(path)[0].content) == {
        "method": "face_comparison",
        "earlier_person_id": EARLIER_ID,
        "similarity": 0.91,
    }
    services.answers[("POST", path)] = (201, {"id": "es1"})
    done = client.post(path, data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("done=accept#h-faces")


def test_a_suggestion_rejected_with_its_reason_and_a_refusal_in_chinese(client, services):
    _with_a_suggestion(services)
    csrf = sign_in(client, roles="station_staff")
    search_path = f"/earlier-stay-suggestions/{SUGGESTION_ID}/rejection"
    services.answers[("POST", search_path)] = (403, {"detail": "Forbidden"})
    form = {
        "csrf": csrf,
        "idempotency_key": "reject-key-1",
        "suggestion_id": SUGGESTION_ID,
        "reject_reason": "身高、口音不符",
    }
    refused = client.post(f"/cases/{CASE_ID}/suggestion-rejection", data=form)
    assert "认定或否定比对建议须由寻亲甄别专员、站领导或中心协调员办理。" in refused.text
    assert "身高、口音不符</textarea>" in refused.text
    assert json.loads(services.posts(search_path)[0].content) == {"reason": "身高、口音不符"}

    services.answers[("POST", search_path)] = (
        422,
        {"errors": [{"field": "reason", "reason": "String should have at least 1 character"}]},
    )
    empty = client.post(
        f"/cases/{CASE_ID}/suggestion-rejection", data={**form, "reject_reason": ""}
    )
    assert 'id="err-reject_reason"' in empty.text and "此项不能为空。" in empty.text
